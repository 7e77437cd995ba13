"""The state every part of the fake server shares, and the few helpers they all use.

:class:`ServerCore` holds it; the mixins (one per concern: messages, callbacks, commands, webhook, failures,
simulated people, inspection) build on it, and :class:`~bot.devkit.telegram.server.FakeTelegram` puts them
together and serves them over HTTP."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from .models import ApiErrorRecord, Call, CallbackAnswer, ChatState, Signal, short_line
from .protocol import ApiError, JsonDict, MethodHandler

if TYPE_CHECKING:
    import aiohttp
    from aiohttp import web

    from .callbacks import _CallbackQuery
    from .failures import _Failure
    from .people import FakeGroup, FakeUser

logger = logging.getLogger(__name__)

# Updates Telegram leaves out unless allowed_updates names them.
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class ServerCore:
    """What the fake Bot API server knows; see :class:`~bot.devkit.telegram.server.FakeTelegram`."""

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
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._client: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._stopping = False
        for name, handler in self._builtin_methods().items():
            self.add_method(name, handler)

    def _builtin_methods(self) -> dict[str, MethodHandler]:
        """The Bot API methods served from the start, by name (:class:`FakeTelegram` lists them)."""
        return {}

    def add_method(self, name: str, handler: MethodHandler) -> None:
        """Serve another Bot API method: ``handler(params) -> result`` (raise :class:`ApiError` to fail)."""
        self._handlers[name] = handler
        self._lower[name.lower()] = name

    def _canonical(self, method: str) -> str:
        return self._lower.get(method.lower(), method)

    def calls_to(self, method: str, *, chat_id: int | None = None) -> list[Call]:
        """The calls of one method (optionally to one chat)."""
        name = self._canonical(method)
        return [c for c in self.calls if c.method == name and (chat_id is None or c.params.get("chat_id") == chat_id)]

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

    def _touch(self) -> None:
        self._last_activity = time.monotonic()
        self._signal.notify()

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

    def redeliver(self, update_id: int) -> JsonDict:
        """Queue an update that was already delivered once more, with its same update_id (as Telegram does when
        a bot did not confirm it before it stopped). Returns it."""
        update = next(u for u in self.updates if u["update_id"] == update_id)
        self._pending.append(update)
        self._touch()
        return update

    def _terminate_polls(self, reason: str) -> None:
        self._poll_generation += 1
        self._poll_conflict = reason
        self._signal.notify()

    def _chat_state(self, chat_id: int) -> ChatState:
        state = self._chats.get(chat_id)
        if state is None:
            raise KeyError(f"no chat {chat_id}: create it with server.user(...) or server.group(...)")
        return state

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
