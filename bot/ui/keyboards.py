"""Every inline keyboard the bot shows, built with aiogram's InlineKeyboardBuilder (called in an i18n context)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.sms.phone import format_phone
from bot.sms.plain import plainer
from bot.sms.recipients import LoneDigit
from bot.storage.models import AccessRequest, SendRow
from bot.ui.callbacks import (
    AccessCb,
    BalanceCb,
    DigitCb,
    FlowCancelCb,
    HistoryCb,
    LanguageCb,
    SendCb,
    SenderCb,
    StatusCb,
)


def language() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="🇷🇺 Русский", callback_data=LanguageCb(code="ru"))
    kb.button(text="🇬🇧 English", callback_data=LanguageCb(code="en"))
    return kb.as_markup()


def flow_cancel() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✖️ Cancel"), callback_data=FlowCancelCb())
    return kb.as_markup()


def preview(row: SendRow, senders: list[str], *, can_send: bool = True) -> InlineKeyboardMarkup:
    """Send and Cancel side by side; below them the sender, when there is a choice. Without Send when the draft
    is over a spend limit."""
    kb = InlineKeyboardBuilder()
    if can_send:
        kb.button(text=_("✅ Send"), callback_data=SendCb(action="go", draft_id=row.id))
    kb.button(text=_("✖️ Cancel"), callback_data=SendCb(action="cancel", draft_id=row.id))
    if len(senders) > 1:
        kb.button(
            text=_("✉️ Sender: {sender}").format(sender=row.sender),
            callback_data=SendCb(action="senders", draft_id=row.id),
        )
    found = plainer(row.text)
    if found is not None:
        kb.button(
            text=_("🔤 Plain characters: {parts} SMS").format(parts=found.parts),
            callback_data=SendCb(action="plain", draft_id=row.id),
        )
    kb.adjust(2, 1)
    return kb.as_markup()


def senders(row: SendRow, names: list[str]) -> InlineKeyboardMarkup:
    """One sender a row; the current one marked."""
    kb = InlineKeyboardBuilder()
    for i, name in enumerate(names):
        kb.button(text=("• " if name == row.sender else "") + name, callback_data=SenderCb(draft_id=row.id, index=i))
    kb.adjust(1)
    return kb.as_markup()


def balance_refresh() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🔄 Refresh"), callback_data=BalanceCb())
    return kb.as_markup()


def history_paging(page: int, pages: int) -> InlineKeyboardMarkup | None:
    """◀ and ▶ on one row, each only where there is a page to go to; None on a single page."""
    if pages <= 1:
        return None
    kb = InlineKeyboardBuilder()
    if page > 0:
        kb.button(text="◀", callback_data=HistoryCb(page=page - 1))
    if page < pages - 1:
        kb.button(text="▶", callback_data=HistoryCb(page=page + 1))
    return kb.as_markup()


def access_request(request: AccessRequest) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Approve"), callback_data=AccessCb(approve=True, request_id=request.id))
    kb.button(text=_("🚫 Deny"), callback_data=AccessCb(approve=False, request_id=request.id))
    return kb.as_markup()


def lone_digit(found: LoneDigit) -> InlineKeyboardMarkup:
    """The digit in the number, or at the start of the text; and Cancel."""
    kb = InlineKeyboardBuilder()
    kb.button(text="📱 " + format_phone(found.msisdn), callback_data=DigitCb(choice="number"))
    kb.button(text=_("✏️ “{digit} …” is the text").format(digit=found.digit), callback_data=DigitCb(choice="text"))
    kb.button(text=_("✖️ Cancel"), callback_data=FlowCancelCb())
    kb.adjust(1)
    return kb.as_markup()


def status(
    shown: SendRow, others: list[tuple[SendRow, str]], actions: Sequence[tuple[str, CallbackData]] = ()
) -> InlineKeyboardMarkup:
    """🔄 Refresh for the SMS shown, then what can be done with it (`actions`: 📨 Send again of an unknown outcome,
    see bot.ui.result_keyboards.for_status); below them one button for each of the few before it (`others`: the
    row and its label)."""
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🔄 Refresh"), callback_data=StatusCb(send_id=shown.id))
    for label, data in actions:
        kb.button(text=label, callback_data=data)
    for row, label in others:
        kb.button(text=label, callback_data=StatusCb(send_id=row.id))
    kb.adjust(1)
    return kb.as_markup()
