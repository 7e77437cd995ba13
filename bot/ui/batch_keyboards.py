"""Buttons of a send to several recipients: its preview (Send to N, Cancel, the sender), and its summary
(Resend to those that failed). Callback data carry the batch's id only; prefixes start with "bt"."""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.storage.batches import BatchRow
from bot.ui.callbacks import RowId, Small


class BatchCb(CallbackData, prefix="bt"):
    action: Literal["go", "cancel", "senders", "resend", "unknown"]
    batch_id: RowId


class BatchSenderCb(CallbackData, prefix="bts"):
    batch_id: RowId
    index: Small


def preview(batch: BatchRow, count: int, senders: list[str], *, can_send: bool = True) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if can_send:
        kb.button(
            text=_("✅ Send to {count}").format(count=count), callback_data=BatchCb(action="go", batch_id=batch.id)
        )
    kb.button(text=_("✖️ Cancel"), callback_data=BatchCb(action="cancel", batch_id=batch.id))
    if len(senders) > 1:
        kb.button(
            text=_("✉️ Sender: {sender}").format(sender=batch.sender),
            callback_data=BatchCb(action="senders", batch_id=batch.id),
        )
    kb.adjust(2, 1)
    return kb.as_markup()


def senders(batch: BatchRow, names: list[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for i, name in enumerate(names):
        mark = "• " if name == batch.sender else ""
        kb.button(text=mark + name, callback_data=BatchSenderCb(batch_id=batch.id, index=i))
    kb.adjust(1)
    return kb.as_markup()


def summary(batch: BatchRow, failed: int, unknown: int = 0) -> InlineKeyboardMarkup | None:
    """🔁 Resend to those that failed, when some certainly did not get it; 📨 Send again to those whose SMS may or
    may not have gone out, on a button of their own (its preview warns that they may get it twice)."""
    if not failed and not unknown:
        return None
    kb = InlineKeyboardBuilder()
    if failed:
        kb.button(
            text=_("🔁 Resend to failed ({count})").format(count=failed),
            callback_data=BatchCb(action="resend", batch_id=batch.id),
        )
    if unknown:
        kb.button(
            text=_("📨 Resend to unknown ({count})").format(count=unknown),
            callback_data=BatchCb(action="unknown", batch_id=batch.id),
        )
    kb.adjust(1)
    return kb.as_markup()
