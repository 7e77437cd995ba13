"""Callback data of every inline button. They carry ids only — never a number or a text."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class AccessCb(CallbackData, prefix="acc"):
    approve: bool
    request_id: int


class BalanceCb(CallbackData, prefix="bal"):
    pass


class LanguageCb(CallbackData, prefix="lang"):
    code: str


class SendCb(CallbackData, prefix="snd"):
    action: str  # "go" | "cancel" | "senders"
    draft_id: int


class SenderCb(CallbackData, prefix="sdr"):
    draft_id: int
    index: int


class HistoryCb(CallbackData, prefix="hist"):
    page: int


class FlowCancelCb(CallbackData, prefix="flow"):
    pass


class DigitCb(CallbackData, prefix="dig"):
    """`8 904 176 49 9 5 text`: the lone digit goes to the number ("number") or stays the text's ("text")."""

    choice: str


class StatusCb(CallbackData, prefix="st"):
    """/status of one send of the send log (its row id): 🔄 Refresh, or one of the few before it."""

    send_id: int
