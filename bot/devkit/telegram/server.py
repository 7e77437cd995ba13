"""A fake Telegram Bot API server on loopback, with simulated people — the rig for end-to-end tests, the
offline playground and benchmarks.

The REAL aiogram ``Bot`` talks to it over HTTP (``AiohttpSession(api=TelegramAPIServer.from_base(url))``,
or simply ``server.make_bot()``), so everything between the handlers and the wire — serialisation,
pydantic models, error classes, polling, retries — is exercised as in production::

    async with FakeTelegram() as server:              # listens on 127.0.0.1, a free port
        bot = server.make_bot()                        # Bot(token, AiohttpSession(api=server.api), HTML)
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
        anna = server.user(1001, "Anna", language_code="ru")
        await anna.send("/balance")
        reply = await anna.next_message()              # BotMessage: .text (as sent), .plain, .buttons
        cq_id = await anna.press(reply, "Refresh")     # callback_query update for that button
        answer = await server.callback_answer(cq_id)   # the bot's answerCallbackQuery
        edited = await anna.wait_for(lambda m: "998" in m.plain)
        print(server.render(edited))                   # "Balance: 998 ₽\\n  [1] Refresh"
        await dp.stop_polling(); await polling

What Telegram does and the server imitates: long polling with ``offset`` confirmation, ``limit`` and
``allowed_updates`` (applied when updates are created, as Telegram does); 401 for a wrong token; 404 for an
unknown method; 409 for getUpdates while a webhook is set or when a newer getUpdates supersedes one;
HTML parse mode validation (``bot.devkit.telegram.html_mode``); "message is not modified", "message to edit not
found", "message is too long", "message text is empty", "BUTTON_DATA_INVALID", "bot was blocked by the
user", "chat not found", "query is too old ..." for answering an unknown or already answered callback query.
Webhook mode: after ``setWebhook`` updates are POSTed to the URL with ``X-Telegram-Bot-Api-Secret-Token``
(a method in the webhook's answer is executed, as Telegram does).

Failures on demand: ``server.fail_next(method, ...)`` answers the next call(s) with an error (429 with
``retry_after`` by default), drops the connection (``drop=True``), and can perform the call before failing
(``execute=True``: "it was sent, but the answer got lost"). ``server.fail_next_poll()`` makes the next
getUpdates answer 502.

Accounting: ``server.calls`` is a list of ``Call(time, method, params)`` (monotonic time, decoded params) for
every request; ``server.max_rate(...)`` checks Telegram's limits (30 messages/s, 1/s per chat).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .html_mode import HtmlParseError, parse_html, trim_message, utf16_len
from .models import (
    ApiErrorRecord,
    BotEvent,
    BotMessage,
    Button,
    Call,
    CallbackAnswer,
    ChatState,
    EventKind,
    FakeTelegramTimeout,
    MessageVersion,
    Signal,
    UploadedFile,
    now,
    render_message,
    short_line,
)
from .people import ChatView, FakeGroup, FakeUser

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

__all__ = [
    "MESSAGE_METHODS",
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

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
MethodHandler = Callable[[JsonDict], Awaitable[Any]]

#: Methods that count as "messages" for Telegram's rate limits (see :meth:`FakeTelegram.max_rate`).
MESSAGE_METHODS: tuple[str, ...] = ("sendMessage", "editMessageText", "editMessageReplyMarkup")

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup of the new message "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64

# Updates Telegram leaves out unless allowed_updates names them.
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
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
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "web_app",
    "callback_game",
    "pay",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


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


@dataclass
class _Failure:
    error_code: int
    description: str
    retry_after: int | None
    times: int
    drop: bool
    execute: bool
    delay: float
    raw_body: str | None


@dataclass
class _CallbackQuery:
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False


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


class FakeTelegram:
    """A fake Telegram Bot API server. See the module docstring for an overview.

    ``strict_html`` rejects a bare ``&`` in HTML text (Telegram keeps it; here it means a missing
    ``html.escape``). ``latency`` delays every answer except getUpdates (seconds), for benchmarks.
    """

    def __init__(
        self,
        token: str = "123456:TEST",  # noqa: S107 - a test token
        bot_username: str = "smska_test_bot",
        *,
        bot_first_name: str = "Smska Test Bot",
        strict_html: bool = True,
        latency: float = 0.0,
        webhook_retry_delay: float = 0.2,
    ) -> None:
        bot_id, sep, _ = token.partition(":")
        if not sep or not bot_id.isdigit():
            raise ValueError("token must look like '<digits>:<secret>'")
        self.token = token
        self.bot_id = int(bot_id)
        self.bot_user: JsonDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.strict_html = strict_html
        self.latency = latency
        self.webhook_retry_delay = webhook_retry_delay

        #: every request: Call(time.monotonic(), method, decoded params)
        self.calls: list[Call] = []
        #: every error answer the server gave
        self.errors: list[ApiErrorRecord] = []
        #: every answerCallbackQuery
        self.callback_answers: list[CallbackAnswer] = []
        #: every answerInlineQuery's params
        self.inline_answers: list[JsonDict] = []
        #: setMyCommands by (scope key, language_code); see :meth:`scope_key`
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        #: every update created (delivered or not), and those allowed_updates filtered out
        self.updates: list[JsonDict] = []
        self.dropped_updates: list[JsonDict] = []
        #: webhook deliveries: (time.monotonic(), update_id, HTTP status or None when the connection failed)
        self.webhook_deliveries: list[tuple[float, int, int | None]] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None

        self._chats: dict[int, ChatState] = {}
        self._users: dict[int, FakeUser] = {}
        self._groups: dict[int, FakeGroup] = {}
        self._pending: list[JsonDict] = []
        self._next_update_id = 1
        self._allowed: frozenset[str] | None = None
        self._webhook_allowed: frozenset[str] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._poll_generation = 0
        self._poll_conflict = ""
        self._polling = 0
        self._inflight = 0
        self._last_activity = time.monotonic()
        self._event_seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._failures: dict[str, deque[_Failure]] = {}
        self._callback_queries: dict[str, _CallbackQuery] = {}
        self._signal = Signal()
        self._handlers: dict[str, MethodHandler] = {}
        self._lower: dict[str, str] = {}
        for name, handler in {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._true,
            "logOut": self._true,
        }.items():
            self.add_method(name, handler)

        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._client: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = a free port); return the base URL (``http://127.0.0.1:PORT``)."""
        if self._runner is not None:
            raise RuntimeError("the fake Telegram server is already running")
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._stopping = False
        bound_host, bound_port = runner.addresses[0][:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self._url = f"http://[{shown}]:{bound_port}" if ":" in shown else f"http://{shown}:{bound_port}"
        self._client = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._webhook_loop(), name="fake-telegram-webhook")
        logger.debug("fake Telegram listening on %s (%s)", self._url, bound_host)
        return self._url

    async def stop(self) -> None:
        """Answer pending long polls, stop webhook delivery, close the listener. Idempotent."""
        self._stopping = True
        self._signal.notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        self._url = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The base URL, for ``TELEGRAM_API_URL`` / ``TelegramAPIServer.from_base``."""
        if self._url is None:
            raise RuntimeError("the fake Telegram server is not running; await server.start() first")
        return self._url

    @property
    def api(self) -> TelegramAPIServer:
        from aiogram.client.telegram import TelegramAPIServer

        return TelegramAPIServer.from_base(self.url)

    def make_bot(self, *, parse_mode: str | None = "HTML", timeout: float = 60.0) -> Bot:
        """A real aiogram ``Bot`` talking to this server (HTML parse mode by default, like the project),
        through :func:`loopback_session`."""
        from aiogram import Bot
        from aiogram.client.default import DefaultBotProperties

        return Bot(
            self.token,
            session=loopback_session(self.url, timeout=timeout),
            default=DefaultBotProperties(parse_mode=parse_mode),
        )

    # ------------------------------------------------------------------------------------------------
    # people and chats
    # ------------------------------------------------------------------------------------------------
    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Anna",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
        is_premium: bool | None = None,
    ) -> FakeUser:
        """A person who has started the bot (so the bot may write to them). The same id gives the same
        object."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        user: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: JsonDict = {"id": user_id, "type": "private", "first_name": first_name}
        for key, value in (("last_name", last_name), ("username", username)):
            if value is not None:
                user[key] = chat[key] = value
        if language_code is not None:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        state = ChatState(chat=chat, name=f"{first_name} ({user_id})")
        self._chats[user_id] = state
        person = FakeUser(self, state, user)
        self._users[user_id] = person
        return person

    def group(
        self, chat_id: int = -1001234567890, title: str = "Test group", *, chat_type: str = "supergroup"
    ) -> FakeGroup:
        """A group ("group" or "supergroup") the bot is a member of. The same id gives the same object."""
        existing = self._groups.get(chat_id)
        if existing is not None:
            return existing
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        state = ChatState(chat={"id": chat_id, "type": chat_type, "title": title}, name=f"group {title!r} ({chat_id})")
        self._chats[chat_id] = state
        group = FakeGroup(self, state)
        self._groups[chat_id] = group
        return group

    def messages(self, chat_id: int) -> list[BotMessage]:
        """The bot's messages in a chat (current state, deleted ones included)."""
        return list(self._chat_state(chat_id).bot_messages.values())

    def message(self, chat_id: int, message_id: int) -> BotMessage:
        message = self._chat_state(chat_id).bot_messages.get(message_id)
        if message is None:
            raise KeyError(f"the bot has no message #{message_id} in chat {chat_id}")
        return message

    @property
    def sent_messages(self) -> list[BotMessage]:
        """Every message the bot sent, in all chats, in the order it sent them."""
        return [e.message for state in self._chats.values() for e in state.events if e.kind == "message"]

    def render(self, message: BotMessage | BotEvent | MessageVersion) -> str:
        """Short plain text with numbered inline buttons, e.g. ``"Balance: 998 ₽\\n  [1] Refresh"``."""
        return render_message(message)

    # ------------------------------------------------------------------------------------------------
    # injection and inspection
    # ------------------------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        drop: bool = False,
        execute: bool = False,
        delay: float = 0.0,
        raw_body: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any method but getUpdates) fail.

        By default they answer 429 "Too Many Requests: retry after 1" with ``parameters.retry_after``.
        ``drop=True`` closes the connection without an answer (aiogram raises TelegramNetworkError).
        ``execute=True`` performs the call first (the message IS sent; only the answer is lost/wrong).
        ``delay`` waits before answering; ``raw_body`` answers that text/html body instead of JSON (what
        a proxy in front of Telegram sends on 502).
        """
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        failure = _Failure(error_code, description, retry_after, times, drop, execute, delay, raw_body)
        self._failures.setdefault(self._canonical(method), deque()).append(failure)

    def fail_next_poll(self, error_code: int = 502, *, times: int = 1) -> None:
        """Make the next getUpdates call(s) answer ``error_code`` (502 Bad Gateway by default)."""
        self.fail_next("getUpdates", error_code=error_code, times=times)

    def add_method(self, name: str, handler: MethodHandler) -> None:
        """Serve another Bot API method: ``handler(params) -> result`` (raise :class:`ApiError` to fail)."""
        self._handlers[name] = handler
        self._lower[name.lower()] = name

    async def push_update(self, update_type: str, payload: JsonDict) -> JsonDict:
        """Queue a raw update (``{"update_id": ..., update_type: payload}``); returns it."""
        return self._queue_update(update_type, payload)

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by the bot (getUpdates offset) or not yet delivered to the webhook."""
        return list(self._pending)

    def calls_to(self, method: str, *, chat_id: int | None = None) -> list[Call]:
        """The calls of one method (optionally to one chat)."""
        name = self._canonical(method)
        return [c for c in self.calls if c.method == name and (chat_id is None or c.params.get("chat_id") == chat_id)]

    def max_rate(
        self,
        window: float = 1.0,
        *,
        chat_id: int | None = None,
        per_chat: bool = False,
        methods: Iterable[str] = MESSAGE_METHODS,
    ) -> int:
        """The largest number of ``methods`` calls inside any ``window`` seconds: overall, to one
        ``chat_id``, or the worst single chat (``per_chat=True``). Telegram's limits: ``max_rate() <= 30``
        and ``max_rate(per_chat=True) <= 1``."""
        if window <= 0:
            raise ValueError("window must be positive")
        names = {self._canonical(m) for m in methods}
        selected = [c for c in self.calls if c.method in names]
        if chat_id is not None:
            selected = [c for c in selected if c.params.get("chat_id") == chat_id]
        if per_chat:
            by_chat: dict[Any, list[float]] = {}
            for call in selected:
                by_chat.setdefault(call.params.get("chat_id"), []).append(call.time)
            return max((_max_in_window(times, window) for times in by_chat.values()), default=0)
        return _max_in_window([c.time for c in selected], window)

    async def callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> CallbackAnswer:
        """Wait for the bot's answerCallbackQuery to that callback query."""

        def probe() -> CallbackAnswer | None:
            for answer in self.callback_answers:
                if answer.callback_query_id == callback_query_id:
                    return answer
            return None

        try:
            return await self._signal.wait_until(probe, timeout)
        except TimeoutError:
            query = self._callback_queries.get(callback_query_id)
            chat = self._chats.get(query.chat_id) if query else None
            what = f"answerCallbackQuery for callback query {callback_query_id}"
            if chat is None:
                raise FakeTelegramTimeout(f"Timed out after {timeout:g}s waiting for {what}") from None
            raise FakeTelegramTimeout(self._diagnose(chat, what, timeout)) from None

    async def wait_for_poll(self, timeout: float = 5.0) -> None:
        """Wait until the bot has a getUpdates request waiting (it is polling and has caught up)."""
        try:
            await self._signal.wait_until(lambda: True if self._polling > 0 and not self._pending else None, timeout)
        except TimeoutError:
            raise FakeTelegramTimeout(
                f"Timed out after {timeout:g}s waiting for the bot to long-poll getUpdates "
                f"({len(self.calls_to('getUpdates'))} getUpdates calls so far, {len(self._pending)} updates pending)"
            ) from None

    async def wait_idle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Wait until the bot has fetched every update, no request is in flight and no request came for
        ``quiet`` seconds: "the answers are in" for the playground and benchmarks."""
        deadline = time.monotonic() + timeout
        while True:
            current = time.monotonic()
            busy = bool(self._pending) or self._inflight > 0
            idle_for = current - self._last_activity
            if not busy and idle_for >= quiet:
                return
            remaining = deadline - current
            if remaining <= 0:
                raise FakeTelegramTimeout(
                    f"Timed out after {timeout:g}s waiting for the bot to go idle: {len(self._pending)} updates "
                    f"not fetched, {self._inflight} requests in flight"
                )
            await self._signal.wait(remaining if busy else min(remaining, quiet - idle_for))

    @staticmethod
    def scope_key(scope: JsonDict | None) -> str:
        """``"default"``, ``"all_private_chats"``, ``"chat:<id>"``, ``"chat_member:<chat>:<user>"`` ..."""
        if not scope:
            return "default"
        kind = str(scope.get("type", "default"))
        if kind in ("chat", "chat_administrators"):
            return f"{kind}:{scope.get('chat_id')}"
        if kind == "chat_member":
            return f"{kind}:{scope.get('chat_id')}:{scope.get('user_id')}"
        return kind

    def get_commands(self, scope: str | JsonDict | None = "default", language_code: str = "") -> list[JsonDict] | None:
        """The commands set for a scope (a key like ``"default"`` or a BotCommandScope dict) and language;
        None when never set (or deleted)."""
        key = scope if isinstance(scope, str) else self.scope_key(scope)
        return self.commands.get((key, language_code))

    # ------------------------------------------------------------------------------------------------
    # HTTP
    # ------------------------------------------------------------------------------------------------
    def _canonical(self, method: str) -> str:
        return self._lower.get(method.lower(), method)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        method = self._canonical(name)
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            return self._error_response(method, {}, exc)
        self.calls.append(Call(time.monotonic(), method, params))
        logger.debug("-> %s %s", method, params)
        counted = method != "getUpdates"
        if counted:
            self._inflight += 1
        self._touch()
        try:
            if method not in self._handlers:
                return self._error_response(method, params, ApiError(404, "Not Found: method not found"))
            failure = self._take_failure(method)
            if failure is not None:
                return await self._fail(request, method, params, failure)
            status, body = await self._invoke(method, params)
            return web.json_response(body, status=status)
        finally:
            if counted:
                self._inflight -= 1
            self._touch()

    async def _read_params(self, request: web.Request) -> JsonDict:
        raw: JsonDict = dict(request.query)
        if request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON encoded request") from None
                if not isinstance(body, dict):
                    raise _bad("JSON object expected")
                raw.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        raw[key] = UploadedFile(key, value.filename, value.content_type, value.file.read())
                    elif isinstance(value, (bytes, bytearray)):
                        raw[key] = bytes(value).decode("utf-8", "replace")
                    else:
                        raw[key] = value
        return {key: _coerce(key, value) for key, value in raw.items()}

    def _take_failure(self, method: str) -> _Failure | None:
        for key in (method, "*"):
            if key == "*" and method == "getUpdates":
                continue
            queue = self._failures.get(key)
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.popleft()
                return failure
        return None

    async def _fail(self, request: web.Request, method: str, params: JsonDict, failure: _Failure) -> web.StreamResponse:
        if failure.delay:
            await asyncio.sleep(failure.delay)
        if failure.execute:
            await self._invoke(method, params)
        error = ApiError(failure.error_code, failure.description, retry_after=failure.retry_after)
        self._record_error(method, params, error)
        if failure.drop:
            logger.debug("<- %s: dropping the connection", method)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # aiohttp treats it as a vanished client: no answer is written
        if failure.raw_body is not None:
            return web.Response(text=failure.raw_body, status=failure.error_code, content_type="text/html")
        return web.json_response(error.body(), status=failure.error_code)

    async def _invoke(self, method: str, params: JsonDict) -> tuple[int, JsonDict]:
        handler = self._handlers.get(method)
        if handler is None:
            error = ApiError(404, "Not Found: method not found")
            self._record_error(method, params, error)
            return error.error_code, error.body()
        if self.latency and method != "getUpdates":
            await asyncio.sleep(self.latency)
        try:
            result = await handler(params)
        except ApiError as error:
            self._record_error(method, params, error)
            return error.error_code, error.body()
        finally:
            self._signal.notify()
        logger.debug("<- %s ok", method)
        return 200, {"ok": True, "result": result}

    def _record_error(self, method: str, params: JsonDict, error: ApiError) -> None:
        logger.debug("<- %s %s %s", method, error.error_code, error.description)
        self.errors.append(ApiErrorRecord(time.monotonic(), method, params, error.error_code, error.description))

    def _error_response(self, method: str, params: JsonDict, error: ApiError) -> web.Response:
        self._record_error(method, params, error)
        return web.json_response(error.body(), status=error.error_code)

    def _touch(self) -> None:
        self._last_activity = time.monotonic()
        self._signal.notify()

    # ------------------------------------------------------------------------------------------------
    # updates
    # ------------------------------------------------------------------------------------------------
    def _is_allowed(self, update_type: str) -> bool:
        allowed = self._webhook_allowed if self.webhook_url else self._allowed
        if allowed is None:
            return update_type not in _NOT_BY_DEFAULT
        return update_type in allowed

    def _queue_update(self, update_type: str, payload: JsonDict) -> JsonDict:
        update: JsonDict = {"update_id": self._next_update_id, update_type: payload}
        self._next_update_id += 1
        self.updates.append(update)
        if not self._is_allowed(update_type):
            logger.warning("update %s (%s) dropped: not in allowed_updates", update["update_id"], update_type)
            self.dropped_updates.append(update)
        else:
            self._pending.append(update)
        self._touch()
        return update

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _terminate_polls(self, reason: str) -> None:
        self._poll_generation += 1
        self._poll_conflict = reason
        self._signal.notify()

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
                "webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(str(a) for a in allowed) or None
        self._confirm(offset)
        self._polling += 1
        self._terminate_polls(
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
        )
        generation = self._poll_generation

        def probe() -> bool | None:
            if self._poll_generation != generation:
                return False
            return True if self._pending or self._stopping else None

        try:
            current = await self._signal.wait_until(probe, timeout)
        except TimeoutError:
            current = True
        finally:
            self._polling -= 1
        if not current:
            raise ApiError(409, self._poll_conflict)
        return self._pending[:limit]

    # ------------------------------------------------------------------------------------------------
    # simulated people (used by people)
    # ------------------------------------------------------------------------------------------------
    def _chat_state(self, chat_id: int) -> ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            raise KeyError(f"no chat {chat_id}: create it with server.user(...) or server.group(...)")
        return state

    def _new_query_id(self) -> str:
        return str(4_242_000_000_000_000 + next(self._ids))

    def _file_id(self, kind: str) -> str:
        return f"FAKE{kind.upper()}{next(self._ids):012d}"

    @staticmethod
    def _command_entities(text: str) -> list[JsonDict]:
        return [
            {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
            for m in _COMMAND_RE.finditer(text)
        ]

    def _message_dict(self, state: ChatState, message_id: int, *, nested: bool = True) -> JsonDict | None:
        bot_message = state.bot_messages.get(message_id)
        if bot_message is not None:
            if bot_message.deleted:
                return None
            reply = None
            if nested and bot_message.reply_to is not None:
                reply = self._message_dict(state, bot_message.reply_to, nested=False)
            return bot_message.to_dict(reply_to_message=reply)
        user_message = state.user_messages.get(message_id)
        if user_message is None:
            return None
        if nested:
            return user_message
        return {k: v for k, v in user_message.items() if k != "reply_to_message"}

    def _user_message(self, state: ChatState, sender: JsonDict, content: JsonDict, reply_to: int | None) -> JsonDict:
        if self._stopping:
            raise RuntimeError("the fake Telegram server is stopped")
        message: JsonDict = {
            "message_id": state.take_message_id(),
            "from": sender,
            "chat": state.chat,
            "date": now(),
            **content,
        }
        if reply_to is not None:
            target = self._message_dict(state, reply_to, nested=False)
            if target is None:
                raise AssertionError(f"there is no message #{reply_to} in {state.name} to reply to")
            message["reply_to_message"] = target
        state.user_messages[message["message_id"]] = message
        if state.reply_keyboard and state.reply_keyboard.get("one_time_keyboard"):
            state.reply_keyboard = None
        return message

    def _callback_query(self, user: JsonDict, state: ChatState, message_id: int, data: str) -> str:
        query_id = self._new_query_id()
        bot_message = state.bot_messages.get(message_id)
        message: JsonDict | None = None
        if bot_message is not None and not bot_message.deleted:
            message = self._message_dict(state, message_id)
        if message is None:  # what Telegram sends for a message the bot can no longer see
            message = {"chat": state.chat, "message_id": message_id, "date": 0}
        payload: JsonDict = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(abs(state.chat_id) * 31 + self.bot_id),
            "data": data,
        }
        self._callback_queries[query_id] = _CallbackQuery(int(user["id"]), state.chat_id, message_id, data)
        self._queue_update("callback_query", payload)
        return query_id

    def _member(self, status: str, user: JsonDict) -> JsonDict:
        member: JsonDict = {"status": status, "user": user}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "creator":
            member["is_anonymous"] = False
        elif status in ("administrator", "restricted"):
            from aiogram.types import ChatMemberAdministrator, ChatMemberRestricted

            model = ChatMemberAdministrator if status == "administrator" else ChatMemberRestricted
            for name, info in model.model_fields.items():
                key = info.alias or name
                if info.is_required() and key not in member:
                    member[key] = 0 if name == "until_date" else name not in ("can_be_edited", "is_anonymous")
        return member

    def _my_chat_member(self, state: ChatState, by: JsonDict, old: str, new: str) -> None:
        payload = {
            "chat": state.chat,
            "from": by,
            "date": now(),
            "old_chat_member": self._member(old, self.bot_user),
            "new_chat_member": self._member(new, self.bot_user),
        }
        self._queue_update("my_chat_member", payload)

    def _chat_member(self, state: ChatState, by: JsonDict, user: JsonDict, old: str, new: str) -> None:
        payload = {
            "chat": state.chat,
            "from": by,
            "date": now(),
            "old_chat_member": self._member(old, user),
            "new_chat_member": self._member(new, user),
        }
        self._queue_update("chat_member", payload)

    def _diagnose(self, state: ChatState, what: str, timeout: float) -> str:
        lines = [f"Timed out after {timeout:g}s waiting for {what} in {state.name}."]
        recent = [e for e in state.events][-5:]
        if recent:
            lines.append("Latest bot events there:")
            lines.extend(f"  {e.kind}: {short_line(e)}" for e in recent)
        else:
            lines.append("The bot has sent nothing there.")
        if self.errors:
            lines.append("Latest errors the server answered:")
            lines.extend(f"  {e.method}: {e.error_code} {e.description}" for e in self.errors[-5:])
        if self._pending:
            lines.append(f"{len(self._pending)} updates not yet fetched by the bot.")
        if not self.calls_to("getUpdates") and not self.webhook_url:
            lines.append("The bot never called getUpdates: is it polling this server?")
        if self.dropped_updates:
            kinds = sorted({k for u in self.dropped_updates for k in u if k != "update_id"})
            lines.append(f"{len(self.dropped_updates)} updates dropped by allowed_updates ({', '.join(kinds)}).")
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------------------
    # bot messages
    # ------------------------------------------------------------------------------------------------
    def _record_event(self, state: ChatState, kind: EventKind, message: BotMessage) -> None:
        event = BotEvent(kind, message, message.version, next(self._event_seq), time.monotonic())
        state.events.append(event)
        self._signal.notify()

    def _known_chat(self, params: JsonDict) -> ChatState:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        state = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if state is None and isinstance(chat_id, str) and chat_id.startswith("@"):
            username = chat_id[1:].lower()
            state = next((s for s in self._chats.values() if str(s.chat.get("username", "")).lower() == username), None)
        if state is None:
            raise _bad("chat not found")
        return state

    def _writable_chat(self, params: JsonDict) -> ChatState:
        state = self._known_chat(params)
        if state.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if state.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {state.chat['type']} chat")
        if state.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {state.chat['type']} chat")
        return state

    def _check_markup(self, markup: Any, *, inline_only: bool = False) -> JsonDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays')
            count = 0
            for row in rows:
                for button in row:
                    self._check_inline_button(button)
                    count += 1
            if count > 100:
                raise _bad("reply markup is too long")
            return markup
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('can\'t parse keyboard button: field "keyboard" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text.strip():
                        raise _bad("can't parse keyboard button: Text must be non-empty")
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("can't parse inline keyboard button: Text must be non-empty")
        if not any(key in button for key in _BUTTON_ACTIONS):
            raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                raise _bad("BUTTON_URL_INVALID")

    def _make_version(self, params: JsonDict, *, edit: bool) -> MessageVersion:
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _bad("message text is empty")
        parse_mode = params.get("parse_mode") or None
        mode = parse_mode.lower() if isinstance(parse_mode, str) else None
        entities: list[JsonDict]
        if mode == "html":
            try:
                parsed = parse_html(text, strict=self.strict_html)
            except HtmlParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
            plain, entities = parsed.plain, parsed.entities
        elif mode in ("markdown", "markdownv2"):
            plain, entities = text.strip(), []  # not parsed: this project sends HTML only
        elif mode is not None:
            raise _bad("unsupported parse_mode")
        else:
            given = params.get("entities")
            trimmed = trim_message(text, list(given) if isinstance(given, list) else [])
            plain, entities = trimmed.plain, trimmed.entities
        if not plain:
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        markup = self._check_markup(params.get("reply_markup"), inline_only=edit)
        return MessageVersion(text, parse_mode, plain, entities, markup, now())

    def _reply_target(self, state: ChatState, params: JsonDict) -> int | None:
        reply = params.get("reply_parameters")
        message_id = params.get("reply_to_message_id")
        allow = bool(params.get("allow_sending_without_reply", False))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = bool(reply.get("allow_sending_without_reply", allow))
        if message_id is None:
            return None
        if self._message_dict(state, int(message_id), nested=False) is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return int(message_id)

    async def _send_message(self, params: JsonDict) -> JsonDict:
        state = self._writable_chat(params)
        version = self._make_version(params, edit=False)
        reply_to = self._reply_target(state, params)
        preview = params.get("link_preview_options")
        message = BotMessage(
            chat=state.chat,
            message_id=state.take_message_id(),
            date=version.date,
            sender=self.bot_user,
            version=version,
            reply_to=reply_to,
            link_preview_options=preview if isinstance(preview, dict) else None,
            disable_notification=bool(params.get("disable_notification", False)),
        )
        state.bot_messages[message.message_id] = message
        markup = version.reply_markup or {}
        if "keyboard" in markup:
            state.reply_keyboard = markup
        elif markup.get("remove_keyboard"):
            state.reply_keyboard = None
        self._record_event(state, "message", message)
        result = self._message_dict(state, message.message_id)
        assert result is not None
        return result

    def _editable(self, params: JsonDict) -> tuple[ChatState, BotMessage]:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")  # inline messages are not simulated
        state = self._known_chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad("message identifier is not specified")
        message = state.bot_messages.get(message_id)
        if message is None or message.deleted:
            if message_id in state.user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return state, message

    def _apply_edit(self, state: ChatState, message: BotMessage, version: MessageVersion) -> JsonDict:
        message.history.append(message.version)
        message.version = version
        message.edit_date = version.date
        self._record_event(state, "edit", message)
        result = self._message_dict(state, message.message_id)
        assert result is not None
        return result

    @staticmethod
    def _inline_markup(markup: JsonDict | None) -> JsonDict | None:
        return markup if markup and "inline_keyboard" in markup else None

    async def _edit_message_text(self, params: JsonDict) -> JsonDict:
        state, message = self._editable(params)
        version = self._make_version(params, edit=True)
        if (
            version.plain == message.plain
            and version.entities == message.entities
            and version.reply_markup == self._inline_markup(message.reply_markup)
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(state, message, version)

    async def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        state, message = self._editable(params)
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        if markup == self._inline_markup(message.reply_markup):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(state, message, replace(message.version, reply_markup=markup, date=now()))

    async def _delete_message(self, params: JsonDict) -> bool:
        state = self._known_chat(params)
        message_id = params.get("message_id")
        message = state.bot_messages.get(message_id) if isinstance(message_id, int) else None
        if message is not None and not message.deleted:
            message.deleted = True
            self._record_event(state, "delete", message)
            return True
        if isinstance(message_id, int) and state.user_messages.pop(message_id, None) is not None:
            return True
        raise _bad("message to delete not found")

    # ------------------------------------------------------------------------------------------------
    # other methods
    # ------------------------------------------------------------------------------------------------
    async def _true(self, params: JsonDict) -> bool:
        return True

    async def _get_me(self, params: JsonDict) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        query = self._callback_queries.get(query_id)
        if query is None or query.answered:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered = True
        cache_time = params.get("cache_time")
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=text if isinstance(text, str) else None,
                show_alert=bool(params.get("show_alert", False)),
                url=params.get("url"),
                cache_time=cache_time if isinstance(cache_time, int) else None,
                time=time.monotonic(),
            )
        )
        return True

    async def _answer_inline_query(self, params: JsonDict) -> bool:
        self.inline_answers.append(params)
        return True

    async def _send_chat_action(self, params: JsonDict) -> bool:
        self._writable_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _set_my_commands(self, params: JsonDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_RE.match(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self.scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if commands:
            self.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        key = (self.scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return list(self.commands.get(key, []))

    async def _delete_my_commands(self, params: JsonDict) -> bool:
        key = (self.scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.commands.pop(key, None)
        return True

    # ------------------------------------------------------------------------------------------------
    # webhook
    # ------------------------------------------------------------------------------------------------
    async def _set_webhook(self, params: JsonDict) -> bool:
        url = params.get("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not isinstance(url, str) or not re.match(r"^https?://\S+$", url):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token") or None
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._webhook_allowed = frozenset(str(a) for a in allowed) or None
        self.webhook_url = url
        self.webhook_secret = secret
        self._webhook_error = None
        self._terminate_polls("Conflict: terminated by setWebhook request")
        return True

    async def _delete_webhook(self, params: JsonDict) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        info: JsonDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self._webhook_allowed is not None:
                info["allowed_updates"] = sorted(self._webhook_allowed)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _webhook_loop(self) -> None:
        while True:
            await self._signal.wait_until(lambda: True if self.webhook_url and self._pending else None, None)
            update, url = self._pending[0], self.webhook_url
            assert url is not None and self._client is not None
            headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
            status: int | None = None
            reply: JsonDict | None = None
            self._inflight += 1
            try:
                async with self._client.post(
                    url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
                ) as response:
                    status = response.status
                    if 200 <= status < 300:
                        reply = await self._read_webhook_reply(response)
                    else:
                        self._webhook_error = (now(), f"Wrong response from the webhook: {status} {response.reason}")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                self._webhook_error = (now(), f"Connection failed: {type(exc).__name__}")
            finally:
                self._inflight -= 1
            self.webhook_deliveries.append((time.monotonic(), int(update["update_id"]), status))
            if status is not None and 200 <= status < 300:
                if self._pending and self._pending[0] is update:
                    self._pending.pop(0)
                if reply and isinstance(reply.get("method"), str):
                    method = self._canonical(reply.pop("method"))
                    params = {key: _coerce(key, value) for key, value in reply.items()}
                    self.calls.append(Call(time.monotonic(), method, params))
                    await self._invoke(method, params)
                self._touch()
            else:
                self._touch()
                await asyncio.sleep(self.webhook_retry_delay)

    @staticmethod
    async def _read_webhook_reply(response: aiohttp.ClientResponse) -> JsonDict | None:
        """A webhook may answer with a method call: JSON ``{"method": ...}`` or a multipart form (aiogram)."""
        if response.content_type == "multipart/form-data":
            fields: JsonDict = {}
            reader = aiohttp.MultipartReader.from_response(response)
            while True:
                part = await reader.next()
                if part is None:
                    break
                if isinstance(part, aiohttp.BodyPartReader) and part.name:
                    fields[part.name] = await part.text()
            return fields
        body = await response.read()
        if not body.strip():
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = start = 0
    for index, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, index - start + 1)
    return best


def loopback_session(base_url: str, *, timeout: float = 60.0) -> AiohttpSession:
    """aiogram's ``AiohttpSession`` for a Bot API server at ``base_url``, minus the 0.25 s pause its
    ``close()`` makes for TLS connections to wind down (there are none on loopback HTTP), which would
    otherwise dominate a fast test suite."""
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    class LoopbackSession(AiohttpSession):
        async def close(self) -> None:
            if self._session is not None and not self._session.closed:
                await self._session.close()

    return LoopbackSession(api=TelegramAPIServer.from_base(base_url), timeout=timeout)
