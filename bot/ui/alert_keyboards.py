"""The alert message's button and its callback data (prefix "al": ids only)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.ui.callbacks import RowId


class AlertCb(CallbackData, prefix="al"):
    """📨 SMS to duty, under the message of alert group `group_id`."""

    group_id: RowId


def alert_keyboard(group_id: int, label: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=AlertCb(group_id=group_id).pack())]]
    )
