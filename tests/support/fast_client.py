"""The fast tier: real `Update`s fed to the real Dispatcher, Bot API calls answered in memory.

Everything is the production app built by `bot.app.build_app` — routers, middlewares, services, a real SQLite
file, the real gateway client against the sandbox gateway on loopback — except the Bot API session:
:class:`RecordingSession` hands each call, encoded as aiogram encodes it for the wire, to the dev kit's fake
Telegram server (`bot.devkit.telegram`: its checks, message models and simulated people, the loopback rig's
own) without HTTP, and decodes the answer as aiogram decodes Telegram's. What this tier adds is delivery: a
person's action returns once the Dispatcher has handled its update, so the answer is there to read::

    async with FastBot(tmp_path) as fb:
        anna = fb.user(1001, first_name="Anna")
        await anna.send("/send 79041764995 Server down")
        toast = await anna.press("✅ Send", on=await anna.next_message())  # the bot's answer to the press
        await anna.wait_for(lambda m: "delivered" in m.plain, timeout=10)  # background notices too
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update

from bot.app import ALLOWED_UPDATES, App, build_app
from bot.config import Settings
from bot.devkit.harness import from_template, rig_settings
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import BotMessage, CallbackAnswer, ChatView, FakeGroup, FakeTelegram, FakeUser
from bot.devkit.telegram.callbacks import _CallbackQuery
from bot.devkit.telegram.models import Call, ChatState, Signal
from bot.devkit.telegram.people import MessageRef
from bot.devkit.telegram.protocol import JsonDict
from tests.support.fault_support import parse_errors, telegram_text

__all__ = ["Call", "ChatState", "FastBot", "FastGroup", "FastTelegram", "FastUser", "RecordingSession", "Sent"]

TOKEN = "123456:FAST-token-Zq9secret"  # test-only; distinctive so a leak is easy to find
API_KEY = "test"
API_PASSWORD = "Sandbox-Pw-Zq9secret"  # test-only
Sent = BotMessage  # the fast tier's old names for the dev kit's models
Toast = CallbackAnswer


# --- Telegram's side, in memory --------------------------------------------------------------------------
class FastTelegram(FakeTelegram):
    """The dev kit's fake Bot API server, answering in memory (:meth:`answer`) instead of over HTTP. Updates the
    simulated people make wait in ``undelivered`` until the fast bot feeds them to its Dispatcher."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(token=token)
        self._allowed = frozenset(ALLOWED_UPDATES)  # what the bot's getUpdates would ask for
        self.undelivered: list[JsonDict] = []
        self.delivery: Callable[[], Awaitable[None]] | None = None  # the fast bot's: feeds `undelivered`

    @property
    def chats(self) -> dict[int, ChatState]:
        return self._chats

    @property
    def signal(self) -> Signal:  # "something changed": what a test waits on (`signal.wait_until`)
        return self._signal

    def user(self, user_id: int = 1001, first_name: str = "Anna", **details: Any) -> FastUser:
        person = super().user(user_id, first_name, **details)
        if not isinstance(person, FastUser):
            person = self._users[user_id] = FastUser(self, person.state, person.user)
        return person

    def group(
        self, chat_id: int = -1001234567890, title: str = "Test group", *, chat_type: str = "supergroup"
    ) -> FastGroup:
        group = super().group(chat_id, title, chat_type=chat_type)
        if not isinstance(group, FastGroup):
            group = self._groups[chat_id] = FastGroup(self, group.state)
        return group

    def _queue_update(self, update_type: str, payload: JsonDict) -> JsonDict:
        update = super()._queue_update(update_type, payload)
        if self._pending and self._pending[-1] is update:  # allowed: to the Dispatcher, not to a getUpdates
            self.undelivered.append(self._pending.pop())
        return update

    async def answer(self, method: str, params: JsonDict) -> tuple[int, JsonDict | str]:
        """A Bot API call as the HTTP side would answer it: (status, JSON body, or a proxy's raw text)."""
        method = self._canonical(method)
        self.calls.append(Call(time.monotonic(), method, params))
        try:
            failure = self._take_failure(method) if method in self._handlers else None
            if failure is None:
                return await self._invoke(method, params)
            error = await self._failed(method, params, failure)
            if failure.drop:
                raise ConnectionResetError("the connection was dropped")
            return failure.error_code, failure.raw_body if failure.raw_body is not None else error.body()
        finally:
            self._signal.notify()

    async def toast(self, query_id: str, timeout: float = 5.0) -> CallbackAnswer:
        """The bot's answer to a button press, once it gave it."""
        return await self.callback_answer(query_id, timeout)

    def new_query_id(self, chat_id: int = 0) -> str:
        """A callback query the bot may answer (once), as if someone pressed a button in ``chat_id``."""
        query_id = self._new_query_id()
        self._callback_queries[query_id] = _CallbackQuery(chat_id, chat_id, 0, "")
        return query_id

    def parse_errors(self) -> list[str]:
        """Refusals that mean the bot produced a malformed message (unescaped text, too long, empty)."""
        return parse_errors(self)

    def readable(self, *, chat_ids: set[int], query_ids: set[str]) -> str:
        """Everything the bot sent that people in ``chat_ids`` (or the senders of ``query_ids``) could read."""
        return telegram_text(self, chat_ids=chat_ids, query_ids=query_ids)

    def _diagnose(self, state: ChatState, what: str, timeout: float) -> str:
        lines = super()._diagnose(state, what, timeout).splitlines()
        return "\n".join(line for line in lines if "getUpdates" not in line)  # no polling in this tier


class RecordingSession(BaseSession):
    """The only stand-in of the fast tier: a Bot API session that hands each call, encoded as aiogram encodes it
    for the wire, to :class:`FastTelegram` and decodes the answer as aiogram decodes Telegram's."""

    def __init__(self, telegram: FastTelegram) -> None:
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
        try:
            status, body = await self.telegram.answer(method.__api_method__, params)
        except ConnectionResetError as exc:  # as AiohttpSession reports a connection that closed unanswered
            raise TelegramNetworkError(method=method, message=f"{type(exc).__name__}: {exc}") from exc
        raw = body if isinstance(body, str) else self.json_dumps(body)
        return self.check_response(bot, method, status, raw).result

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
class _Delivered:
    """What the fast tier adds to the dev kit's chat views: each action is handled before it returns."""

    server: FakeTelegram
    state: ChatState
    _message_cursor: int

    async def _delivered(self) -> None:
        delivery = getattr(self.server, "delivery", None)
        assert delivery is not None, "no fast bot feeds this server's updates"
        await delivery()

    def unseen(self) -> list[BotMessage]:
        """New messages since the last read, consumed."""
        events = self.state.events
        found = [events[i].message for i in range(self._message_cursor, len(events)) if events[i].kind == "message"]
        self._message_cursor = len(events)
        return found


class FastUser(_Delivered, FakeUser):
    """The dev kit's simulated person; every action is one update, handled by the Dispatcher before it returns."""

    async def send_raw(
        self, content: JsonDict, *, chat: ChatView | None = None, reply_to: MessageRef | None = None
    ) -> JsonDict:
        message = await super().send_raw(content, chat=chat, reply_to=reply_to)
        await self._delivered()
        return message

    share_contact = FakeUser.send_contact  # through send_raw: handled before it returns

    async def edit(self, message: MessageRef, new_text: str, *, chat: ChatView | None = None) -> JsonDict:
        edited = await super().edit(message, new_text, chat=chat)
        await self._delivered()
        return edited

    async def inline_query(self, query: str, offset: str = "") -> str:
        query_id = await super().inline_query(query, offset)
        await self._delivered()
        return query_id

    async def press(  # type: ignore[override]  # the fast tier's own: by text, on a message, the bot's answer
        self, button: str | int, *, on: BotMessage | None = None, timeout: float = 5.0
    ) -> CallbackAnswer:
        """Press an inline button — by its text (exact or a unique part), callback_data or 1-based number — of
        ``on`` (default: the bot's latest message here with buttons), and return the bot's answer to the press
        (every press must be answered, or the phone shows a spinner)."""
        target = on or self.last_message_with_buttons
        assert target is not None, f"no message with buttons in chat {self.chat_id}"
        query_id = await super().press(target, button)
        await self._delivered()
        return await self.server.callback_answer(query_id, timeout)

    async def press_data(self, message_id: int, callback_data: str, *, chat: ChatView | None = None) -> str:
        query_id = await super().press_data(message_id, callback_data, chat=chat)
        await self._delivered()
        return query_id

    async def block_bot(self) -> None:
        await super().block_bot()
        await self._delivered()

    async def unblock_bot(self) -> None:
        await super().unblock_bot()
        await self._delivered()


class FastGroup(_Delivered, FakeGroup):
    """The dev kit's group with the bot in it; people write here with ``user.send(text, chat=group)``."""

    async def add_bot(self, by: FakeUser, *, status: str = "member") -> None:
        await super().add_bot(by, status=status)
        await self._delivered()

    async def remove_bot(self, by: FakeUser) -> None:
        await super().remove_bot(by)
        await self._delivered()


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
    telegram: FastTelegram = field(init=False, default_factory=FastTelegram)
    gateway: SandboxGateway = field(init=False)
    app: App | None = field(init=False, default=None)
    _feeding: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.gateway = SandboxGateway(
            api_key=API_KEY,
            api_password=API_PASSWORD,
            balance=Decimal("1000"),
            delivery_delay=self.delivery_delay,
            senders=self.senders,
        )
        self.telegram.delivery = self.deliver

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
        app = await build_app(from_template(self.settings()))  # a new file starts migrated (HARNESS_SQLITE_TEMPLATE)
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
        return self.telegram.user(
            user_id, first_name, last_name=last_name, username=username, language_code=language_code
        )

    def group(self, chat_id: int, title: str = "Group") -> FastGroup:
        """A supergroup with the bot in it; the same id, the same group."""
        return self.telegram.group(chat_id, title)

    async def deliver(self) -> None:
        """Every update the people made so far, handled one after the other as polling hands them over (each
        its own task, errors logged as aiogram logs them); returns when the Dispatcher is done with them."""
        async with self._feeding:
            while self.telegram.undelivered:
                assert self.app is not None, "the bot is not running"
                raw = self.telegram.undelivered.pop(0)
                await asyncio.create_task(self._process(self.app, raw))

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


async def assert_serving(user: FastUser) -> BotMessage:
    """The bot still answers: /help gets the command list."""
    user.mark_seen()
    await user.send("/help")
    return await user.wait_for(lambda m: "/send" in m.plain and "/balance" in m.plain)
