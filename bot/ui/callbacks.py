"""Callback data of every inline button. They carry ids only — never a number or a text.

Every id is bounded: forged data with a huge integer does not match a model (the press gets "no longer valid"
from the fallback router) instead of overflowing SQLite's 64-bit integers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

RowId = Annotated[int, Field(ge=1, le=2**53)]  # a database row id
Small = Annotated[int, Field(ge=0, le=10_000)]  # a page or an index into a short list


class AccessCb(CallbackData, prefix="acc"):
    approve: bool
    request_id: RowId


class BalanceCb(CallbackData, prefix="bal"):
    pass


class LanguageCb(CallbackData, prefix="lang"):
    code: Literal["ru", "en"]


class SendCb(CallbackData, prefix="snd"):
    action: Literal["go", "cancel", "senders", "plain"]
    draft_id: RowId


class SenderCb(CallbackData, prefix="sdr"):
    draft_id: RowId
    index: Small


class HistoryCb(CallbackData, prefix="hist"):
    page: Small


class FlowCancelCb(CallbackData, prefix="flow"):
    pass


class DigitCb(CallbackData, prefix="dig"):
    """`8 904 176 49 9 5 text`: the lone digit goes to the number ("number") or stays the text's ("text")."""

    choice: Literal["number", "text"]


class StatusCb(CallbackData, prefix="st"):
    """/status of one send of the send log (its row id): 🔄 Refresh, or one of the few before it."""

    send_id: RowId
