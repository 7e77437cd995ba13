"""Callback data of the buttons on a single send's notices (issue 17: acting on a result). Ids only."""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData

from bot.ui.callbacks import RowId

#: retry: 🔁 Try again (a gateway error: certainly not sent); again: 📨 Send again; other: 👤 Other recipient;
#: check: 🔍 Check status / Check now.
ResultAction = Literal["retry", "again", "other", "check"]


class ResultCb(CallbackData, prefix="rs"):
    """A button on the notice of send `send_id` (a row of the send log)."""

    action: ResultAction
    send_id: RowId
