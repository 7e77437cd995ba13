"""The fake Telegram Bot API server and its simulated people: see :mod:`bot.devkit.telegram.server`."""

from .models import (
    ApiErrorRecord,
    BotEvent,
    BotMessage,
    Button,
    Call,
    CallbackAnswer,
    FakeTelegramTimeout,
    MessageVersion,
    UploadedFile,
)
from .people import ChatView, FakeGroup, FakeUser
from .server import MESSAGE_METHODS, NOT_MODIFIED, QUERY_TOO_OLD, ApiError, FakeTelegram, loopback_session

__all__ = [
    "MESSAGE_METHODS",
    "NOT_MODIFIED",
    "QUERY_TOO_OLD",
    "ApiError",
    "ApiErrorRecord",
    "BotEvent",
    "BotMessage",
    "Button",
    "Call",
    "CallbackAnswer",
    "ChatView",
    "FakeGroup",
    "FakeTelegram",
    "FakeTelegramTimeout",
    "FakeUser",
    "MessageVersion",
    "UploadedFile",
    "loopback_session",
]
