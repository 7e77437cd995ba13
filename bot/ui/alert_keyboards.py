"""The alert message's button, the one-tap picks when nobody is on duty, and their callback data (ids only)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.storage.directory import Contact
from bot.ui.callbacks import FlowCancelCb, RowId

PICKS = 6  # contacts offered as one-tap picks when nobody is on duty


class AlertCb(CallbackData, prefix="al"):
    """📨 SMS to duty, under the message of alert group `group_id`."""

    group_id: RowId


class AlertTakeCb(CallbackData, prefix="alt"):
    """✋ I'm on it (`take`) or ↩️ let it go (not `take`), under the message of alert group `group_id`."""

    group_id: RowId
    take: bool


class AlertDutyCb(CallbackData, prefix="ald"):
    """Nobody is on duty: contact `contact_id` becomes on duty and gets group `group_id`'s SMS (a preview)."""

    group_id: RowId
    contact_id: RowId


def alert_keyboard(
    group_id: int, label: str, take_label: str | None = None, mine: bool = False
) -> InlineKeyboardMarkup:
    """📨 SMS to duty, and beside it ✋ (or ↩️ for the one who took the group) when `take_label` is given."""
    row = [InlineKeyboardButton(text=label, callback_data=AlertCb(group_id=group_id).pack())]
    if take_label is not None:
        data = AlertTakeCb(group_id=group_id, take=not mine).pack()
        row.append(InlineKeyboardButton(text=take_label, callback_data=data))
    return InlineKeyboardMarkup(inline_keyboard=[row])


def duty_picks(group_id: int, contacts: Sequence[Contact]) -> InlineKeyboardMarkup:
    """One contact a row (names keep their distinctive end), then Cancel."""
    kb = InlineKeyboardBuilder()
    for contact in contacts[:PICKS]:
        kb.row(
            InlineKeyboardButton(
                text="🧑‍🚒 " + contact.name,
                callback_data=AlertDutyCb(group_id=group_id, contact_id=contact.id).pack(),
            )
        )
    kb.row(InlineKeyboardButton(text=_("✖️ Cancel"), callback_data=FlowCancelCb().pack()))
    return kb.as_markup()
