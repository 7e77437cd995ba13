"""The fast tier: real `Update`s fed to the real Dispatcher, Bot API calls answered in memory.

Everything is the production app built by `bot.app.build_app` — routers, middlewares, services, a real SQLite
file, the real gateway client talking to the sandbox gateway over loopback — except the Bot API session:
:class:`RecordingSession` records each method call and answers it as Telegram would (message ids, ``Message``
objects, ``True``; 400 for what Telegram refuses: HTML it cannot parse, an empty or too long text, an edit that
changes nothing, a callback query answered twice; 403 for a chat that blocked the bot). No HTTP, no polling:
``await anna.send("/balance")`` returns once the Dispatcher has handled that update, so what the bot answered
is there to read. Background notices (delivery results, access requests) go through the same session, so a
test waits for them with :meth:`ChatView.wait_for`::

    async with FastBot(tmp_path) as fb:
        anna = fb.user(1001, first_name="Anna")
        await anna.send("/send 79041764995 Server down")
        assert "Check before sending" in anna.last.plain
        toast = await anna.press("✅ Send")               # a button of the last message, by its text
        await anna.wait_for(lambda m: "delivered" in m.plain, timeout=10)

The loopback rig (`bot.devkit.harness.Harness`: a fake Bot API server over HTTP, long polling) stays for the
contract's own paths; this tier is for access rules, FSM steps and parsing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update

from bot.app import ALLOWED_UPDATES, App, build_app
from bot.config import Settings
from bot.devkit.harness import rig_settings
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram.html_mode import HtmlParseError, parse_html
from bot.devkit.telegram.models import Button, Signal, find_button, inline_buttons
from tests.support.fault_support import parse_errors, telegram_text

__all__ = ["ApiError", "Call", "ChatView", "FastBot", "FastGroup", "FastUser", "RecordingSession", "Sent", "Toast"]

JsonDict = dict[str, Any]
T = TypeVar("T")
TOKEN = "123456:FAST-token-Zq9secret"  # test-only; distinctive so a leak is easy to find
API_KEY = "test"
API_PASSWORD = "Sandbox-Pw-Zq9secret"  # test-only
BOT_USER: JsonDict = {"id": 123456, "is_bot": True, "first_name": "Smska Test Bot", "username": "smska_test_bot"}
MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a current "
    "content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query id is invalid"
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
log = logging.getLogger(__name__)


# --- what was said ---------------------------------------------------------------------------------------
class Call(NamedTuple):
    """One Bot API call as Telegram received it: the method name and its decoded parameters."""

    method: str
    params: JsonDict


class ApiError(NamedTuple):
    """An error answer: what Telegram refused, and why (``description`` as Telegram words it)."""

    method: str
    params: JsonDict
    error_code: int
    description: str


class Toast(NamedTuple):
    """The answer to a button press (answerCallbackQuery): a toast, an alert, or nothing visible."""

    query_id: str
    text: str | None
    show_alert: bool


@dataclass
class Version:
    """One state of a bot message: as sent, or after an edit."""

    text: str  # as the bot sent it (HTML)
    plain: str  # as a phone shows it
    entities: list[JsonDict]
    reply_markup: JsonDict | None

    @property
    def buttons(self) -> list[list[Button]]:
        return inline_buttons(self.reply_markup)

    @property
    def button_texts(self) -> list[str]:
        return [b.text for row in self.buttons for b in row]


@dataclass
class Sent:
    """A message the bot sent, in its current state (``versions`` holds every state, oldest first)."""

    chat: JsonDict
    message_id: int
    date: int
    versions: list[Version]
    reply_to: int | None = None
    deleted: bool = False

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def version(self) -> Version:
        return self.versions[-1]

    @property
    def text(self) -> str:
        return self.version.text

    @property
    def plain(self) -> str:
        return self.version.plain

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
    def edited(self) -> bool:
        return len(self.versions) > 1

    def button(self, button: str | int) -> JsonDict:
        """The inline button (its JSON) by exact text, callback_data, unique substring of its text, or 1-based
        number."""
        return find_button(self.reply_markup, button)

    def to_dict(self) -> JsonDict:
        """The ``Message`` object Telegram returns for it."""
        version = self.version
        message: JsonDict = {
            "message_id": self.message_id,
            "from": BOT_USER,
            "chat": self.chat,
            "date": self.date,
            "text": version.plain,
        }
        if version.entities:
            message["entities"] = version.entities
        if version.reply_markup and "inline_keyboard" in version.reply_markup:
            message["reply_markup"] = version.reply_markup
        if self.edited:
            message["edit_date"] = self.date
        return message

    def __repr__(self) -> str:
        state = " deleted" if self.deleted else (" edited" if self.edited else "")
        return f"<Sent #{self.message_id}{state} {self.plain[:60]!r} {self.button_texts}>"


@dataclass
class Event:
    kind: Literal["message", "edit", "delete"]
    message: Sent


@dataclass
class ChatState:
    chat: JsonDict
    sent: dict[int, Sent] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    user_messages: dict[int, JsonDict] = field(default_factory=dict)
    blocked: bool = False  # a private chat whose person blocked the bot
    bot_status: str = "member"
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    def take_message_id(self) -> int:
        return next(self._ids)


class Refused(Exception):
    def __init__(self, error_code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code, self.description, self.retry_after = error_code, description, retry_after


def _int(params: JsonDict, key: str) -> int:
    value = params.get(key)
    return value if isinstance(value, int) else 0  # 0: no such chat or message


def _bad(description: str) -> Refused:
    return Refused(400, description)


class Telegram:
    """The Bot API's side of the chats: what the bot sent where, what Telegram refused, button answers."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.errors: list[ApiError] = []
        self.toasts: dict[str, Toast] = {}
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.chats: dict[int, ChatState] = {}
        self.signal = Signal()
        self._queries: dict[str, bool] = {}  # query id -> answered
        self._failures: dict[str, list[Refused]] = {}
        self._ids = itertools.count(1)
        self._methods: dict[str, Callable[[JsonDict], Any]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._true,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._true,
            "setWebhook": self._true,
            "deleteWebhook": self._true,
            "leaveChat": self._leave_chat,
        }

    def fail_next(self, method: str, error_code: int = 429, description: str = "", *, retry_after: int = 1) -> None:
        """The next call of ``method`` is refused (a 429 carries ``retry_after``)."""
        text = description or (f"Too Many Requests: retry after {retry_after}" if error_code == 429 else "refused")
        self._failures.setdefault(method, []).append(
            Refused(error_code, text, retry_after if error_code == 429 else None)
        )

    def parse_errors(self) -> list[str]:
        """Refusals that mean the bot produced a malformed message (unescaped text, too long, empty)."""
        return parse_errors(self)  # type: ignore[arg-type]  # the same reading as over the HTTP rig

    def readable(self, *, chat_ids: set[int], query_ids: set[str]) -> str:
        """Everything the bot sent that people in ``chat_ids`` (or the senders of ``query_ids``) could read."""
        return telegram_text(self, chat_ids=chat_ids, query_ids=query_ids)  # type: ignore[arg-type]

    def calls_to(self, method: str, *, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)]

    async def toast(self, query_id: str, timeout: float = 5.0) -> Toast:
        """The answer to a button press, once the bot gave it."""
        return await self.signal.wait_until(lambda: self.toasts.get(query_id), timeout)

    def new_file_id(self, kind: str) -> JsonDict:
        file_id = f"FAST{kind.upper()}{next(self._ids):012d}"
        return {"file_id": file_id, "file_unique_id": file_id[-12:]}

    def new_query_id(self) -> str:
        query_id = str(4_242_000_000_000_000 + next(self._ids))
        self._queries[query_id] = False
        return query_id

    # -- answering ----------------------------------------------------------------------------------------
    def answer(self, method: str, params: JsonDict) -> tuple[int, JsonDict]:
        self.calls.append(Call(method, params))
        try:
            failures = self._failures.get(method)
            if failures:
                raise failures.pop(0)
            handler = self._methods.get(method)
            if handler is None:
                raise Refused(404, "Not Found: method not found")
            return 200, {"ok": True, "result": handler(params)}
        except Refused as refused:
            description = refused.description
            if refused.error_code == 400 and not description.startswith("Bad Request"):
                description = "Bad Request: " + description
            self.errors.append(ApiError(method, params, refused.error_code, description))
            body: JsonDict = {"ok": False, "error_code": refused.error_code, "description": description}
            if refused.retry_after is not None:
                body["parameters"] = {"retry_after": refused.retry_after}
            return refused.error_code, body
        finally:
            self.signal.notify()

    def _chat(self, params: JsonDict) -> ChatState:
        state = self.chats.get(_int(params, "chat_id"))
        if state is None:
            raise _bad("chat not found")
        return state

    def _writable(self, params: JsonDict) -> ChatState:
        state = self._chat(params)
        if state.blocked:
            raise Refused(403, "Forbidden: bot was blocked by the user")
        if state.bot_status in ("kicked", "left"):
            raise Refused(403, f"Forbidden: bot is not a member of the {state.chat['type']} chat")
        return state

    @staticmethod
    def _markup(markup: Any, *, inline_only: bool) -> JsonDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            if inline_only:
                raise _bad("inline keyboard expected")
            return markup
        for row in markup["inline_keyboard"]:
            for button in row:
                if not str(button.get("text", "")).strip():
                    raise _bad("can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad("BUTTON_DATA_INVALID")
        return markup

    def _version(self, params: JsonDict, *, edit: bool) -> Version:
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _bad("message text is empty")
        if str(params.get("parse_mode", "")).lower() == "html":
            try:
                parsed = parse_html(text)
            except HtmlParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
            plain, entities = parsed.plain, parsed.entities
        else:
            plain, entities = text.strip(), list(params.get("entities") or [])
        if not plain:
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return Version(text, plain, entities, self._markup(params.get("reply_markup"), inline_only=edit))

    def _record(self, state: ChatState, kind: Literal["message", "edit", "delete"], message: Sent) -> None:
        state.events.append(Event(kind, message))

    def _get_me(self, params: JsonDict) -> JsonDict:
        return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": False}

    def _send_message(self, params: JsonDict) -> JsonDict:
        state = self._writable(params)
        version = self._version(params, edit=False)
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        if reply_to is not None and reply_to not in state.sent and reply_to not in state.user_messages:
            if not reply.get("allow_sending_without_reply"):
                raise _bad("message to be replied not found")
            reply_to = None
        message = Sent(state.chat, state.take_message_id(), int(time.time()), [version], reply_to)
        state.sent[message.message_id] = message
        self._record(state, "message", message)
        return message.to_dict()

    def _editable(self, params: JsonDict) -> tuple[ChatState, Sent]:
        state = self._chat(params)
        message = state.sent.get(_int(params, "message_id"))
        if message is None or message.deleted:
            if params.get("message_id") in state.user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return state, message

    def _edit_message_text(self, params: JsonDict) -> JsonDict:
        state, message = self._editable(params)
        version = self._version(params, edit=True)
        old = message.version
        if (version.plain, version.entities, version.reply_markup) == (old.plain, old.entities, old.reply_markup):
            raise _bad(NOT_MODIFIED)
        message.versions.append(version)
        self._record(state, "edit", message)
        return message.to_dict()

    def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        state, message = self._editable(params)
        markup = self._markup(params.get("reply_markup"), inline_only=True)
        old = message.version
        if markup == old.reply_markup:
            raise _bad(NOT_MODIFIED)
        message.versions.append(Version(old.text, old.plain, old.entities, markup))
        self._record(state, "edit", message)
        return message.to_dict()

    def _delete_message(self, params: JsonDict) -> bool:
        state = self._chat(params)
        message = state.sent.get(_int(params, "message_id"))
        if message is None or message.deleted:
            raise _bad("message to delete not found")
        message.deleted = True
        self._record(state, "delete", message)
        return True

    def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self._queries.get(query_id, True):
            raise _bad(QUERY_TOO_OLD)
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._queries[query_id] = True
        self.toasts[query_id] = Toast(query_id, text if isinstance(text, str) else None, bool(params.get("show_alert")))
        return True

    def _send_chat_action(self, params: JsonDict) -> bool:
        self._writable(params)
        return True

    def _set_my_commands(self, params: JsonDict) -> bool:
        scope = params.get("scope") or {"type": "default"}
        key = f"{scope['type']}:{scope['chat_id']}" if "chat_id" in scope else str(scope["type"])
        self.commands[(key, str(params.get("language_code") or ""))] = list(params.get("commands") or [])
        return True

    def _true(self, params: JsonDict) -> bool:
        return True

    def _leave_chat(self, params: JsonDict) -> bool:
        self._chat(params).bot_status = "left"
        return True


class RecordingSession(BaseSession):
    """The only stand-in of the fast tier: a Bot API session that hands each call, encoded as aiogram encodes it
    for the wire, to :class:`Telegram` and decodes the answer as aiogram decodes Telegram's (errors included)."""

    def __init__(self, telegram: Telegram) -> None:
        super().__init__()
        self.telegram = telegram

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None) -> Any:
        files: dict[str, Any] = {}
        params: JsonDict = {}
        for key, value in method.model_dump(warnings=False).items():
            while isinstance(value, Default):
                value = bot.default[value.name]
            if isinstance(value, Enum):
                value = value.value
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:  # what AiohttpSession puts in the form: nothing for None or ""
                params[key] = prepared if isinstance(value, str) else self._decode(prepared)
        status, body = self.telegram.answer(method.__api_method__, params)
        return self.check_response(bot, method, status, self.json_dumps(body)).result

    def _decode(self, field: str) -> Any:
        """What the Bot API reads from a form field aiogram JSON-encoded (numbers, booleans, objects)."""
        try:
            return self.json_loads(field)
        except ValueError:
            return field

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("the fast tier downloads no files")
        yield b""  # pragma: no cover


# --- people ----------------------------------------------------------------------------------------------
MessageRef = Sent | JsonDict | int


def _message_id(message: MessageRef) -> int:
    if isinstance(message, Sent):
        return message.message_id
    if isinstance(message, dict):
        return int(message["message_id"])
    return int(message)


def command_entities(text: str) -> list[JsonDict]:
    def u16(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    return [
        {"type": "bot_command", "offset": u16(text[: m.start()]), "length": u16(m.group(0))}
        for m in _COMMAND_RE.finditer(text)
    ]


class ChatView:
    """What the bot did in one chat, read in order: :meth:`next_message` (new messages) and :meth:`wait_for`
    (messages, edits, deletes) move a cursor, so each returns something the test has not seen yet."""

    def __init__(self, fb: FastBot, state: ChatState) -> None:
        self.fb = fb
        self.state = state
        self._message_cursor = 0
        self._event_cursor = 0

    @property
    def chat_id(self) -> int:
        return self.state.chat_id

    @property
    def chat(self) -> JsonDict:
        return self.state.chat

    @property
    def messages(self) -> list[Sent]:
        """Every message the bot sent here, oldest first, in its current state."""
        return list(self.state.sent.values())

    @property
    def last(self) -> Sent:
        """The bot's latest message here that is not deleted."""
        alive = [m for m in self.state.sent.values() if not m.deleted]
        assert alive, f"the bot has sent nothing in chat {self.chat_id}"
        return alive[-1]

    def mark_seen(self) -> None:
        """Later reads only see what happens from now on."""
        self._message_cursor = self._event_cursor = len(self.state.events)

    def unseen(self) -> list[Sent]:
        """New messages since the last read, consumed."""
        events = self.state.events
        found = [events[i].message for i in range(self._message_cursor, len(events)) if events[i].kind == "message"]
        self._message_cursor = len(events)
        return found

    async def next_message(self, timeout: float = 5.0) -> Sent:
        """The next NEW message the bot sends here (edits are not new messages: see :meth:`wait_for`)."""

        def probe() -> Sent | None:
            events = self.state.events
            for index in range(self._message_cursor, len(events)):
                if events[index].kind == "message":
                    self._message_cursor = index + 1
                    return events[index].message
            self._message_cursor = len(events)
            return None

        return await self._wait(probe, timeout, "the next new message")

    async def wait_for(self, predicate: Callable[[Sent], bool], timeout: float = 5.0) -> Sent:
        """The first message, edit or delete not yet returned whose message's CURRENT state satisfies
        ``predicate``; events up to it count as seen."""

        def probe() -> Sent | None:
            events = self.state.events
            for index in range(self._event_cursor, len(events)):
                seen = index < self._message_cursor and events[index].kind == "message"
                if not seen and predicate(events[index].message):
                    self._event_cursor = index + 1
                    self._message_cursor = max(self._message_cursor, index + 1)
                    return events[index].message
            return None

        return await self._wait(probe, timeout, "a message matching the predicate")

    async def _wait(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        try:
            return await self.fb.telegram.signal.wait_until(probe, timeout)
        except TimeoutError:
            recent = "\n".join(f"  {e.kind}: {e.message!r}" for e in self.state.events[-5:]) or "  (nothing)"
            errors = "\n".join(f"  {e.method}: {e.description}" for e in self.fb.telegram.errors[-5:])
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what} in chat {self.chat_id}; latest:\n{recent}"
                + (f"\nlatest refusals:\n{errors}" if errors else "")
            ) from None


class FastUser(ChatView):
    """A person in their private chat with the bot. Every action is one update, handled before it returns."""

    def __init__(self, fb: FastBot, state: ChatState, user: JsonDict) -> None:
        super().__init__(fb, state)
        self.user = user

    @property
    def user_id(self) -> int:
        return int(self.user["id"])

    @property
    def first_name(self) -> str:
        return str(self.user["first_name"])

    def _where(self, chat: ChatView | None) -> ChatState:
        return self.state if chat is None else chat.state

    # -- messages -----------------------------------------------------------------------------------------
    async def send_raw(
        self, content: JsonDict, *, chat: ChatView | None = None, reply_to: MessageRef | None = None
    ) -> JsonDict:
        """A message with any content fields (``{"location": {...}}``); returns the person's Message."""
        state = self._where(chat)
        message: JsonDict = {
            "message_id": state.take_message_id(),
            "from": self.user,
            "chat": state.chat,
            "date": int(time.time()),
            **content,
        }
        if reply_to is not None:
            target = state.sent.get(_message_id(reply_to))
            assert target is not None, f"no bot message #{_message_id(reply_to)} to reply to"
            message["reply_to_message"] = target.to_dict()
        state.user_messages[message["message_id"]] = message
        await self.fb.feed("message", message)
        return message

    async def send(self, text: str, *, chat: ChatView | None = None, reply_to: MessageRef | None = None) -> JsonDict:
        """A text (with ``bot_command`` entities, as Telegram marks /commands)."""
        content: JsonDict = {"text": text}
        if entities := command_entities(text):
            content["entities"] = entities
        return await self.send_raw(content, chat=chat, reply_to=reply_to)

    async def share_contact(
        self,
        phone_number: str,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        user_id: int | None = None,
        chat: ChatView | None = None,
    ) -> JsonDict:
        """A shared contact; ``user_id`` when it is a Telegram user (``self.user_id``: "share my number")."""
        contact: JsonDict = {"phone_number": phone_number, "first_name": first_name or self.first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return await self.send_raw({"contact": contact}, chat=chat)

    send_contact = share_contact

    def _file(self, kind: str) -> JsonDict:
        return self.fb.telegram.new_file_id(kind)

    async def send_sticker(self, emoji: str = "👍", *, chat: ChatView | None = None) -> JsonDict:
        sticker = {**self._file("sticker"), "type": "regular", "width": 512, "height": 512, "emoji": emoji}
        return await self.send_raw({"sticker": {**sticker, "is_animated": False, "is_video": False}}, chat=chat)

    async def send_photo(self, caption: str | None = None, *, chat: ChatView | None = None) -> JsonDict:
        sizes = [{**self._file("photo"), "width": w, "height": h} for w, h in ((90, 67), (320, 240), (1280, 960))]
        return await self.send_raw({"photo": sizes, **({"caption": caption} if caption else {})}, chat=chat)

    async def send_document(
        self,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        *,
        chat: ChatView | None = None,
    ) -> JsonDict:
        document = {**self._file("document"), "file_name": file_name, "mime_type": mime_type, "file_size": 1024}
        return await self.send_raw({"document": document, **({"caption": caption} if caption else {})}, chat=chat)

    async def send_voice(self, *, chat: ChatView | None = None) -> JsonDict:
        return await self.send_raw(
            {"voice": {**self._file("voice"), "duration": 2, "mime_type": "audio/ogg"}}, chat=chat
        )

    async def edit(self, message: JsonDict, new_text: str, *, chat: ChatView | None = None) -> JsonDict:
        """Edit one of this person's messages: an ``edited_message`` update."""
        state = self._where(chat)
        original = state.user_messages[_message_id(message)]
        edited = {k: v for k, v in original.items() if k not in ("text", "entities")}
        edited.update(text=new_text, edit_date=int(time.time()))
        if entities := command_entities(new_text):
            edited["entities"] = entities
        state.user_messages[edited["message_id"]] = edited
        await self.fb.feed("edited_message", edited)
        return edited

    async def inline_query(self, query: str) -> str:
        """An ``inline_query`` update; returns its id."""
        query_id = self.fb.telegram.new_query_id()
        await self.fb.feed(
            "inline_query", {"id": query_id, "from": self.user, "query": query, "offset": "", "chat_type": "sender"}
        )
        return query_id

    # -- buttons ------------------------------------------------------------------------------------------
    async def press(self, button: str | int, *, on: Sent | None = None, timeout: float = 5.0) -> Toast:
        """Press an inline button — by its text (exact or a unique part), callback_data or 1-based number — of
        ``on`` (default: the bot's latest message here with buttons), and return the bot's answer to the press
        (every press must be answered, or the phone shows a spinner)."""
        if on is None:
            with_buttons = [m for m in self.state.sent.values() if not m.deleted and m.buttons]
            assert with_buttons, f"no message with buttons in chat {self.chat_id}"
            on = with_buttons[-1]
        state = self.fb.telegram.chats[on.chat_id]
        current = state.sent[on.message_id]
        assert not current.deleted, f"message #{on.message_id} was deleted; it cannot be pressed"
        found = find_button(current.reply_markup, button)
        assert "callback_data" in found, f"button {found.get('text')!r} is not a callback button"
        query_id = await self._callback_query(state, on.message_id, str(found["callback_data"]))
        return await self.fb.telegram.toast(query_id, timeout)

    async def press_data(self, message_id: int, callback_data: str, *, chat: ChatView | None = None) -> str:
        """A forged press: any data on any message id (an unknown one arrives as an inaccessible message, as
        Telegram sends it). Returns the query id (see ``fb.telegram.toast``)."""
        return await self._callback_query(self._where(chat), message_id, callback_data)

    async def _callback_query(self, state: ChatState, message_id: int, data: str) -> str:
        query_id = self.fb.telegram.new_query_id()
        message = state.sent.get(message_id)
        payload: JsonDict = {
            "id": query_id,
            "from": self.user,
            "message": (
                message.to_dict()
                if message is not None and not message.deleted
                else {"chat": state.chat, "message_id": message_id, "date": 0}
            ),
            "chat_instance": str(abs(state.chat_id) * 31),
            "data": data,
        }
        await self.fb.feed("callback_query", payload)
        return query_id

    # -- membership ---------------------------------------------------------------------------------------
    async def block_bot(self) -> None:
        """``my_chat_member`` (member -> kicked); the bot's messages here then get 403."""
        self.state.blocked = True
        await self.fb.chat_member_update(self.state, self.user, "member", "kicked")

    async def unblock_bot(self) -> None:
        self.state.blocked = False
        await self.fb.chat_member_update(self.state, self.user, "kicked", "member")


class FastGroup(ChatView):
    """A group with the bot in it; people write here with ``user.send(text, chat=group)``."""

    async def add_bot(self, by: FastUser) -> None:
        old, self.state.bot_status = self.state.bot_status, "member"
        await self.fb.chat_member_update(self.state, by.user, old, "member")


# --- the bot ---------------------------------------------------------------------------------------------
@dataclass
class FastBot:
    """``async with FastBot(tmp_path) as fb:`` — the production app with the sandbox gateway on loopback and
    Bot API calls answered in memory (``fb.telegram``). ``fb.user(...)``, ``fb.group(...)``; ``await
    fb.restart()`` builds the app again on the same database, the chats stay."""

    directory: Path
    admin_ids: tuple[int, ...] = (1001,)
    senders: tuple[str, ...] = ("OnCall", "Backup")
    delivery_delay: float = 0.3
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    telegram: Telegram = field(init=False, default_factory=Telegram)
    gateway: SandboxGateway = field(init=False)
    app: App | None = field(init=False, default=None)
    updates: list[JsonDict] = field(init=False, default_factory=list)
    _next_update_id: itertools.count[int] = field(init=False, default_factory=lambda: itertools.count(1))
    _people: dict[int, FastUser] = field(init=False, default_factory=dict)
    _groups: dict[int, FastGroup] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.gateway = SandboxGateway(
            api_key=API_KEY,
            api_password=API_PASSWORD,
            balance=Decimal("1000"),
            delivery_delay=self.delivery_delay,
            senders=self.senders,
        )

    def __repr__(self) -> str:
        return f"<FastBot {self.directory} admins={self.admin_ids} running={self.app is not None}>"

    @property
    def db_path(self) -> Path:
        return self.directory / "bot.sqlite3"

    def settings(self) -> Settings:
        return rig_settings(  # never dialled: the session is replaced before any call
            telegram_url="http://127.0.0.1:9",
            gateway_url=self.gateway.url,
            senders=self.senders,
            db_path=self.db_path,
            admin_ids=self.admin_ids,
            overrides=self.settings_overrides,
            token=TOKEN,
            api_key=API_KEY,
            api_password=API_PASSWORD,
        )

    async def __aenter__(self) -> FastBot:
        await self.gateway.start()
        try:
            await self.start_bot()
        except BaseException:
            await self.gateway.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.stop_bot()
        finally:
            await self.gateway.stop()

    async def start_bot(self) -> App:
        app = await build_app(self.settings())
        wire = app.bot.session
        session = RecordingSession(self.telegram)
        session.middleware = wire.middleware  # the app's own request middlewares (429 retry, metrics), in order
        app.bot.session = session
        await wire.close()
        app.gateway.budget = 6.0  # as the loopback rig: an operator-facing answer stays well within patience
        await app.start()
        self.app = app
        return app

    async def stop_bot(self) -> None:
        app, self.app = self.app, None
        if app is not None:
            await app.sending.wait_inflight(10)
            await app.close()

    async def restart(self) -> App:
        await self.stop_bot()
        return await self.start_bot()

    async def settle(self, timeout: float = 10.0) -> None:
        """Sends started by the updates so far are done (answered by the gateway, outcome shown), and so are
        the delivery notices already due."""
        assert self.app is not None
        await self.app.sending.wait_inflight(timeout)
        await self.app.tracker.wait_notices(timeout)

    # -- people -------------------------------------------------------------------------------------------
    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> FastUser:
        """A person who has started the bot (so the bot may write to them); the same id, the same person."""
        if user_id in self._people:
            return self._people[user_id]
        user: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: JsonDict = {"id": user_id, "type": "private", "first_name": first_name}
        for key, value in (("last_name", last_name), ("username", username)):
            if value is not None:
                user[key] = chat[key] = value
        if language_code is not None:
            user["language_code"] = language_code
        person = self._people[user_id] = FastUser(self, self.telegram.chats.setdefault(user_id, ChatState(chat)), user)
        return person

    def group(self, chat_id: int, title: str = "Group") -> FastGroup:
        """A supergroup with the bot in it; the same id, the same group."""
        if chat_id not in self._groups:
            state = self.telegram.chats.setdefault(
                chat_id, ChatState({"id": chat_id, "type": "supergroup", "title": title})
            )
            self._groups[chat_id] = FastGroup(self, state)
        return self._groups[chat_id]

    # -- updates ------------------------------------------------------------------------------------------
    async def feed(self, update_type: str, payload: JsonDict) -> None:
        """One update, as polling would hand it over (its own task, errors logged as aiogram logs them);
        returns when the Dispatcher is done with it. Types outside ``ALLOWED_UPDATES`` never arrive."""
        update: JsonDict = {"update_id": next(self._next_update_id), update_type: payload}
        self.updates.append(update)
        if update_type not in ALLOWED_UPDATES:
            return
        assert self.app is not None, "the bot is not running"
        await asyncio.create_task(self._process(self.app, update))

    async def _process(self, app: App, raw: JsonDict) -> None:
        update = Update.model_validate(raw, context={"bot": app.bot})
        try:
            response = await app.dp.feed_update(app.bot, update)
            if isinstance(response, TelegramMethod):
                await app.dp.silent_call_request(bot=app.bot, result=response)
        except Exception as exc:
            # The very record aiogram's polling writes, so log traps see an unhandled update the same way.
            logging.getLogger("aiogram.event").exception(
                "Cause exception while process update id=%d by bot id=%d\n%s: %s",
                update.update_id,
                app.bot.id,
                exc.__class__.__name__,
                exc,
            )

    async def chat_member_update(self, state: ChatState, by: JsonDict, old: str, new: str) -> None:
        def member(status: str) -> JsonDict:
            return {"status": status, "user": BOT_USER, **({"until_date": 0} if status == "kicked" else {})}

        payload = {
            "chat": state.chat,
            "from": by,
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        await self.feed("my_chat_member", payload)


async def assert_serving(user: FastUser) -> Sent:
    """The bot still answers: /help gets the command list."""
    user.mark_seen()
    await user.send("/help")
    return await user.wait_for(lambda m: "/send" in m.plain and "/balance" in m.plain)
