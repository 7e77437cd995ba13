"""Plain data kept by the fake Bot API server (see ``bot.devkit.telegram``): what the bot sent, what
it called, what it answered, and how to show it in a terminal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, TypeVar

__all__ = [
    "ApiErrorRecord",
    "BotEvent",
    "BotMessage",
    "Button",
    "Call",
    "CallbackAnswer",
    "ChatState",
    "EventKind",
    "FakeTelegramTimeout",
    "MessageVersion",
    "UploadedFile",
    "find_button",
    "inline_buttons",
    "render_message",
    "reply_keyboard_rows",
]

JsonDict = dict[str, Any]
EventKind = Literal["message", "edit", "delete"]
T = TypeVar("T")


class FakeTelegramTimeout(AssertionError, TimeoutError):
    """Something awaited on the fake server did not happen in time (both an AssertionError and a
    TimeoutError, so a test fails with a readable message and ``except TimeoutError`` still works)."""


class Call(NamedTuple):
    """One request the bot made: ``(time.monotonic(), method, params)``; params are decoded (ints, bools,
    nested JSON objects) whatever encoding the client used."""

    time: float
    method: str
    params: JsonDict


@dataclass(frozen=True)
class ApiErrorRecord:
    """An error answer the server gave (validation, injected failure, unknown method ...)."""

    time: float
    method: str
    params: JsonDict
    error_code: int
    description: str


@dataclass(frozen=True)
class CallbackAnswer:
    """An ``answerCallbackQuery`` call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    time: float


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    name: str
    filename: str | None
    content_type: str
    data: bytes


class Button(NamedTuple):
    """An inline button: ``text`` and ``data`` = its callback_data, else its url, else None."""

    text: str
    data: str | None


def inline_buttons(markup: JsonDict | None) -> list[list[Button]]:
    if not markup or "inline_keyboard" not in markup:
        return []
    rows: list[list[Button]] = []
    for row in markup["inline_keyboard"]:
        rows.append([Button(str(b.get("text", "")), b.get("callback_data", b.get("url"))) for b in row])
    return rows


def reply_keyboard_rows(markup: JsonDict | None) -> list[list[str]] | None:
    if not markup or "keyboard" not in markup:
        return None
    return [[b["text"] if isinstance(b, dict) else str(b) for b in row] for row in markup["keyboard"]]


def find_button(markup: JsonDict | None, button: str | int) -> JsonDict:
    """Find an inline button by 1-based number (as :func:`render_message` shows it), exact text, exact
    callback_data, or a unique substring of its text (case-insensitive)."""
    flat: list[JsonDict] = [b for row in (markup or {}).get("inline_keyboard", []) for b in row]
    listing = (
        ", ".join(f"[{i}] {b.get('text')!r} ({b.get('callback_data', b.get('url'))!r})" for i, b in enumerate(flat, 1))
        or "no inline buttons"
    )
    if isinstance(button, int):
        if 1 <= button <= len(flat):
            return flat[button - 1]
        raise AssertionError(f"there is no button number {button}; buttons: {listing}")
    for matches in (
        [b for b in flat if b.get("text") == button],
        [b for b in flat if b.get("callback_data") == button],
        [b for b in flat if button.casefold() in str(b.get("text", "")).casefold()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise AssertionError(f"button {button!r} is ambiguous; buttons: {listing}")
    raise AssertionError(f"no button {button!r}; buttons: {listing}")


@dataclass(frozen=True)
class MessageVersion:
    """One state of a bot message: as first sent, or after an edit."""

    text: str  # as the bot sent it (with HTML markup when parse_mode is HTML)
    parse_mode: str | None
    plain: str  # what a phone shows: tags stripped, entities unescaped, trimmed
    entities: list[JsonDict]
    reply_markup: JsonDict | None
    date: int  # unix time of the send or of the edit

    @property
    def buttons(self) -> list[list[Button]]:
        return inline_buttons(self.reply_markup)

    @property
    def button_texts(self) -> list[str]:
        return [b.text for row in self.buttons for b in row]


@dataclass(eq=False)
class BotMessage:
    """A message the bot sent, with its current state and its earlier versions (``history``)."""

    chat: JsonDict
    message_id: int
    date: int
    sender: JsonDict  # the bot's User object
    version: MessageVersion
    reply_to: int | None = None
    link_preview_options: JsonDict | None = None
    disable_notification: bool = False
    edit_date: int | None = None
    deleted: bool = False
    history: list[MessageVersion] = field(default_factory=list)  # previous versions, oldest first

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def text(self) -> str:
        return self.version.text

    @property
    def plain(self) -> str:
        return self.version.plain

    @property
    def parse_mode(self) -> str | None:
        return self.version.parse_mode

    @property
    def entities(self) -> list[JsonDict]:
        return self.version.entities

    @property
    def reply_markup(self) -> JsonDict | None:
        return self.version.reply_markup

    @property
    def buttons(self) -> list[list[Button]]:
        return self.version.buttons

    @property
    def button_texts(self) -> list[str]:
        return self.version.button_texts

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        return reply_keyboard_rows(self.reply_markup)

    @property
    def edited(self) -> bool:
        return bool(self.history)

    @property
    def versions(self) -> list[MessageVersion]:
        return [*self.history, self.version]

    def button(self, button: str | int) -> JsonDict:
        return find_button(self.reply_markup, button)

    def to_dict(self, reply_to_message: JsonDict | None = None) -> JsonDict:
        """The Telegram ``Message`` object for the current state."""
        data: JsonDict = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
            "text": self.plain,
        }
        if self.entities:
            data["entities"] = self.entities
        markup = self.reply_markup
        if markup and "inline_keyboard" in markup:
            data["reply_markup"] = markup
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if reply_to_message is not None:
            data["reply_to_message"] = reply_to_message
        return data

    def __repr__(self) -> str:
        flags = " deleted" if self.deleted else (" edited" if self.edited else "")
        return f"<BotMessage #{self.message_id} chat={self.chat_id}{flags} {_short(self.plain)!r}>"


@dataclass(frozen=True)
class BotEvent:
    """Something the bot did in a chat: sent a new message, edited one, or deleted one. ``version`` is the
    message's state right after the event (for a delete: its last state)."""

    kind: EventKind
    message: BotMessage
    version: MessageVersion
    seq: int
    time: float

    @property
    def text(self) -> str:
        return self.version.text

    @property
    def plain(self) -> str:
        return self.version.plain

    @property
    def buttons(self) -> list[list[Button]]:
        return self.version.buttons

    @property
    def button_texts(self) -> list[str]:
        return self.version.button_texts

    def __repr__(self) -> str:
        return f"<BotEvent {self.kind} #{self.message.message_id} {_short(self.plain)!r}>"


@dataclass(eq=False)
class ChatState:
    """Everything the server knows about one chat."""

    chat: JsonDict
    name: str
    next_message_id: int = 1
    bot_messages: dict[int, BotMessage] = field(default_factory=dict)
    user_messages: dict[int, JsonDict] = field(default_factory=dict)
    events: list[BotEvent] = field(default_factory=list)
    blocked: bool = False  # private chat: the user blocked the bot
    bot_status: str = "member"  # groups: the bot's membership ("member", "administrator", "left", "kicked")
    reply_keyboard: JsonDict | None = None  # the reply keyboard the user currently sees

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


class Signal:
    """Broadcast "something changed" to any number of waiters, without polling."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float | None) -> bool:
        """Wait for the next change; False when ``timeout`` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
        except TimeoutError:
            return False
        return True

    async def wait_until(self, probe: Callable[[], T | None], timeout: float | None) -> T:
        """Return the first non-None ``probe()`` result, re-checking after every change; raise
        TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                result = probe()
                if result is not None:
                    return result
                await self._event.wait()


def _short(text: str, limit: int = 80) -> str:
    line = " ⏎ ".join(part for part in text.splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def short_line(message: BotMessage | BotEvent) -> str:
    """One line for error messages: ``#12 'Balance: 998 ₽' [Refresh]``."""
    version = message.version
    msg = message.message if isinstance(message, BotEvent) else message
    state = " (deleted)" if msg.deleted else (" (edited)" if msg.edited else "")
    buttons = " ".join(f"[{t}]" for t in version.button_texts)
    return f"#{msg.message_id}{state} {_short(version.plain)!r} {buttons}".rstrip()


def render_message(message: BotMessage | BotEvent | MessageVersion, *, numbered: bool = True) -> str:
    """A short plain-text rendering, as in a terminal chat::

    Balance: 998 ₽
      [1] Refresh  [2] Close
    """
    version = message if isinstance(message, MessageVersion) else message.version
    lines = [version.plain]
    if isinstance(message, BotEvent) and message.kind != "message":
        done = {"edit": "edited", "delete": "deleted"}[message.kind]
        lines = [f"({done} #{message.message.message_id}) {version.plain}"]
    number = 0
    for row in (version.reply_markup or {}).get("inline_keyboard", []):
        cells = []
        for button in row:
            number += 1
            text = button.get("text", "")
            label = f"[{number}] {text}" if numbered else f"[{text}]"
            if "url" in button:
                label += f" <{button['url']}>"
            cells.append(label)
        lines.append("  " + "  ".join(cells))
    keyboard = reply_keyboard_rows(version.reply_markup)
    for row in keyboard or []:
        lines.append("  ⌨ " + "  ".join(f"«{text}»" for text in row))
    return "\n".join(lines)


def now() -> int:
    return int(time.time())
