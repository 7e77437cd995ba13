"""The fake Bot API server itself: :class:`FakeTelegram` (its HTTP side, long polling, people and chats),
made of the mixins beside it, and :func:`loopback_session`. See the package docstring."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from .callbacks import CallbacksMixin
from .commands import CommandsMixin
from .failures import FailuresMixin
from .inspection import InspectionMixin
from .messages import MessagesMixin
from .models import Call, ChatState, UploadedFile
from .people import FakeGroup, FakeUser
from .protocol import ApiError, JsonDict, MethodHandler, _bad, _coerce
from .simulation import SimulationMixin
from .webhook import WebhookMixin

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

__all__ = ["FakeTelegram", "loopback_session"]

logger = logging.getLogger(__name__)


class FakeTelegram(
    FailuresMixin,
    MessagesMixin,
    CallbacksMixin,
    CommandsMixin,
    WebhookMixin,
    SimulationMixin,
    InspectionMixin,
):
    """A fake Telegram Bot API server. See the package docstring for an overview.

    ``strict_html`` rejects a bare ``&`` in HTML text (Telegram keeps it; here it means a missing
    ``html.escape``). ``latency`` delays every answer except getUpdates (seconds), for benchmarks.
    """

    def _builtin_methods(self) -> dict[str, MethodHandler]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "sendChatAction": self._send_chat_action,
            "leaveChat": self._leave_chat,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._true,
            "logOut": self._true,
        }

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

    # ------------------------------------------------------------------------------------------------
    # HTTP
    # ------------------------------------------------------------------------------------------------
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

    def _error_response(self, method: str, params: JsonDict, error: ApiError) -> web.Response:
        self._record_error(method, params, error)
        return web.json_response(error.body(), status=error.error_code)

    # ------------------------------------------------------------------------------------------------
    # updates
    # ------------------------------------------------------------------------------------------------
    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

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


def loopback_session(base_url: str, *, timeout: float = 60.0) -> AiohttpSession:
    """The bot's own Telegram session (`bot.middlewares.telegram.TelegramSession`) for a Bot API server at
    ``base_url``: over plain HTTP its ``close()`` skips the 0.25 s pause aiogram makes for TLS connections to wind
    down (there are none on loopback), which would otherwise dominate a fast test suite."""
    from bot.middlewares.telegram import TelegramSession

    return TelegramSession(base_url, timeout=timeout)
