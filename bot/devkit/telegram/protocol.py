"""The Bot API's wire rules, as the fake server applies them: error answers and how request parameters are
decoded (aiogram sends form fields, JSON-encoding nested objects, ints and bools)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

JsonDict = dict[str, Any]
MethodHandler = Callable[[JsonDict], Awaitable[Any]]

_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "results",
        "button",
        "media",
        "permissions",
        "message_ids",
    }
)

_INT_PARAMS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "max_connections",
        "until_date",
    }
)

_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "show_alert",
        "drop_pending_updates",
        "is_personal",
        "allow_paid_broadcast",
    }
)


class ApiError(Exception):
    """Raised by a method handler to answer ``{"ok": false, ...}`` (usable in :meth:`FakeTelegram.add_method`)."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _coerce(key: str, value: Any) -> Any:
    """Form fields arrive as strings (aiogram JSON-encodes nested objects, ints and bools); decode them."""
    if not isinstance(value, str):
        return value
    if key in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            what = "reply keyboard markup" if key == "reply_markup" else key
            raise _bad(f"can't parse {what} JSON object") from None
    if key in _INT_PARAMS:
        try:
            return int(value)
        except ValueError:
            return value
    if key in _BOOL_PARAMS:
        return value.strip().lower() in ("true", "1")
    return value
