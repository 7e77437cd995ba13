"""Builds the bot: Bot, Dispatcher, storage, gateway client and services; start-up and shutdown.

Production (`python -m bot`), the tests, the playground and the benchmarks all go through `build_app`, so
they run the same code path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.handlers import setup_routers
from bot.i18n import SUPPORTED, make_i18n
from bot.metrics import Observability, instrument
from bot.middlewares.access import AccessMiddleware
from bot.middlewares.telegram import RetryAfterMiddleware
from bot.services.access import AccessService
from bot.services.sending import SendingService
from bot.services.tracker import DeliveryTracker
from bot.storage.db import Database

log = logging.getLogger(__name__)

# Update types the routers handle; Telegram sends nothing else (chat-member updates only to see blocks).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "inline_query", "my_chat_member"]


@dataclass
class App:
    settings: Settings
    bot: Bot
    dp: Dispatcher
    db: Database
    http: httpx.AsyncClient
    gateway: SmskaClient
    i18n: I18n
    access: AccessService
    sending: SendingService
    tracker: DeliveryTracker
    retry: RetryAfterMiddleware
    obs: Observability = field(default_factory=Observability)  # health/readiness facts and metrics (bot.metrics)
    extras: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        """Everything that must be ready before the first update: admins, crash recovery, menu, tracking."""
        await self.db.people.sync_admins(self.settings.admin_ids)
        await self.sending.recover()
        await set_commands(self.bot, self.i18n, self.settings)
        self.tracker.start()

    async def close(self, drain_timeout: float = 30.0) -> None:
        # Updates being handled and sends that already started finish (bounded) before the clients and the
        # database they need close. aiogram's polling does not wait for its handler tasks itself.
        handling = set(self.dp._handle_update_tasks)
        if handling:
            await asyncio.wait(handling, timeout=drain_timeout)
        await self.sending.wait_inflight(drain_timeout)
        await self.tracker.stop()
        await self.http.aclose()
        await self.db.close()
        await self.bot.session.close()


def make_bot(settings: Settings) -> tuple[Bot, RetryAfterMiddleware]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    retry = RetryAfterMiddleware()
    session.middleware(retry)
    bot = Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )
    return bot, retry


async def build_app(settings: Settings) -> App:
    db = await Database.open(settings.database_path)
    try:
        bot, retry = make_bot(settings)
        i18n = make_i18n(settings.default_locale)
        http = httpx.AsyncClient(timeout=settings.smska_timeout)
        gateway = SmskaClient(
            http,
            url=settings.smska_url,
            api_key=settings.smska_api_key,
            api_password=settings.smska_api_password,
            timeout=settings.smska_timeout,
        )
        access = AccessService(
            db=db, bot=bot, i18n=i18n, admin_ids=settings.admin_ids, default_locale=settings.default_locale
        )
        tracker = DeliveryTracker(db=db, bot=bot, gateway=gateway, i18n=i18n, settings=settings)
        sending = SendingService(db=db, bot=bot, gateway=gateway, i18n=i18n, settings=settings, tracker=tracker)
    except BaseException:
        await db.close()
        raise

    dp = Dispatcher(storage=MemoryStorage())
    obs = instrument(bot, dp, gateway, lambda: retry.retries)  # first outer middleware: log context, counts
    dp.update.outer_middleware(
        AccessMiddleware(db=db, i18n=i18n, access=access, default_locale=settings.default_locale)
    )
    dp.include_routers(*setup_routers())
    dp.workflow_data.update(
        settings=settings, db=db, gateway=gateway, i18n=i18n, access=access, sending=sending, tracker=tracker
    )
    return App(
        settings=settings,
        bot=bot,
        dp=dp,
        db=db,
        http=http,
        gateway=gateway,
        i18n=i18n,
        access=access,
        sending=sending,
        tracker=tracker,
        retry=retry,
        obs=obs,
    )


def _commands(is_admin: bool) -> list[BotCommand]:
    items = [
        BotCommand(command="send", description=_("Send an SMS")),
        BotCommand(command="balance", description=_("Balance of the SMS account")),
        BotCommand(command="status", description=_("Delivery status of an SMS")),
        BotCommand(command="history", description=_("Latest SMS")),
        BotCommand(command="cancel", description=_("Stop what you are doing")),
        BotCommand(command="language", description=_("Русский / English")),
        BotCommand(command="help", description=_("What the bot can do")),
    ]
    if is_admin:
        items += [
            BotCommand(command="users", description=_("Who has access")),
            BotCommand(command="allow", description=_("Give access: /allow id")),
            BotCommand(command="deny", description=_("Take access away: /deny id")),
        ]
    return items


async def set_commands(bot: Bot, i18n: I18n, settings: Settings) -> None:
    """The phone's command menu in both languages; admins get theirs through a chat-scoped menu."""
    try:
        with i18n.context():
            for code in SUPPORTED:
                with i18n.use_locale(code):
                    await bot.set_my_commands(_commands(False), scope=BotCommandScopeDefault(), language_code=code)
            with i18n.use_locale(settings.default_locale):
                await bot.set_my_commands(_commands(False), scope=BotCommandScopeDefault())
            for admin_id in settings.admin_ids:
                for lang in (*SUPPORTED, None):
                    with i18n.use_locale(lang or settings.default_locale):
                        try:
                            await bot.set_my_commands(
                                _commands(True), scope=BotCommandScopeChat(chat_id=admin_id), language_code=lang
                            )
                        except TelegramAPIError as exc:  # the admin has not opened the chat yet
                            log.info("no admin menu for %s: %s", admin_id, exc)
                            break
    except TelegramAPIError as exc:
        log.warning("could not set the command menu: %s", exc)


async def run_polling(settings: Settings, *, handle_signals: bool = True, ready: asyncio.Event | None = None) -> None:
    from bot.web import StopSignals, serve_polling  # health port, SIGTERM → bounded drain of updates and sends

    stop = asyncio.Event()
    with StopSignals(stop, enabled=handle_signals):  # from the start: a SIGTERM during start-up stops cleanly too
        app = await build_app(settings)
        try:
            await app.start()
            await app.bot.delete_webhook(drop_pending_updates=False)
            await serve_polling(app, handle_signals=False, ready=ready, stop=stop, allowed_updates=ALLOWED_UPDATES)
        finally:
            await app.close()
