"""Buttons of the questions about a recipient list: the closest names (or the second number), "It is the
text", Cancel; one a row, so a long name keeps its distinctive end."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.sms.names import Unsure
from bot.storage.directory import Duty
from bot.ui.callbacks import FlowCancelCb
from bot.ui.contact_texts import choice_label
from bot.ui.recipient_callbacks import AsTextCb, DutyPickCb, NearCb
from bot.ui.recipient_texts import duty_button, number_label

LABEL = 40  # characters of a label on a button


def _short(text: str) -> str:
    return text if len(text) <= LABEL else text[: LABEL - 1] + "…"


def question(unsure: Unsure, *, as_text: bool = True) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if unsure.kind == "number" and unsure.msisdn is not None:
        kb.button(text=number_label(unsure.msisdn), callback_data=NearCb(index=0))
    for i, entry in enumerate(unsure.choices):
        kb.button(text=_short(choice_label(entry)), callback_data=NearCb(index=i))
    if as_text:
        kb.button(text=_("✏️ It is the text"), callback_data=AsTextCb())
    kb.button(text=_("✖️ Cancel"), callback_data=FlowCancelCb())
    kb.adjust(1)
    return kb.as_markup()


def with_duty_first(markup: InlineKeyboardMarkup, duty: Duty | None) -> InlineKeyboardMarkup:
    """The guided number step's buttons with 🧑‍🚒 the one on duty on top, a row of its own (issue 23.13)."""
    if duty is None:
        return markup
    button = InlineKeyboardButton(text=_short(duty_button(duty)), callback_data=DutyPickCb().pack())
    return InlineKeyboardMarkup(inline_keyboard=[[button], *markup.inline_keyboard])
