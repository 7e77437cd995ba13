"""Builds the bot: Bot, Dispatcher, storage, gateway client and services; start-up and shutdown.

Production (`python -m bot`, run by `bot.runners`), the tests, the playground and the benchmarks all go through
`build_app`, so they run the same code path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramServerError
from aiogram.types import BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.handlers import setup_routers
from bot.i18n import SUPPORTED, make_i18n
from bot.metrics import Observability, instrument
from bot.middlewares.access import AccessMiddleware
from bot.middlewares.chatorder import ChatOrder
from bot.middlewares.groups import GroupsMiddleware
from bot.middlewares.locale import LocaleMiddleware
from bot.middlewares.steps import StepsMiddleware
from bot.middlewares.telegram import RetryAfterMiddleware, TelegramSession, tls_context
from bot.middlewares.updates import OnceMiddleware
from bot.replicas.leadership import Leadership
from bot.replicas.orphans import Orphans
from bot.replicas.pace import SharedPace
from bot.replicas.poller import Recorded
from bot.services.access import AccessService
from bot.services.alerts import AlertService
from bot.services.batch import BatchService
from bot.services.chatqueue import ChatQueue
from bot.services.directory import Directory
from bot.services.escalation import Escalation
from bot.services.feed import TeamFeed
from bot.services.notifier import Notifier
from bot.services.retention import Retention
from bot.services.schedule import DutySchedule
from bot.services.sending import SendingService
from bot.services.tracker import DeliveryTracker
from bot.services.watchdog import Watchdog
from bot.storage.db import Database
from bot.storage.fsm import SqliteStorage
from bot.ui import commands
from bot.ui.alert_texts import AlertTexts
from bot.ui.batch_texts import BatchNotices
from bot.ui.feed_texts import FeedTexts
from bot.ui.notices import Notices
from bot.ui.schedule_texts import ScheduleNotices
from bot.wiring import chat_order, duty_schedule, escalation_engine, replicas

log = logging.getLogger(__name__)
T = TypeVar("T")
#: How start-up makes a Bot API call: `call()` until Telegram answers it (`bot.runners.persist`), or just once.
Persist = Callable[[Callable[[], Awaitable[T]], str], Awaitable[T]]
#: Telegram not answering (rather than answering no): start-up tries again.
NOT_ANSWERING = (TelegramNetworkError, TelegramServerError)


async def once(call: Callable[[], Awaitable[T]], what: str) -> T:
    return await call()


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
    retention: Retention | None = None  # RETENTION_DAYS (built by build_app)
    queue: ChatQueue = field(default_factory=ChatQueue)  # alerts and the team feed, at Telegram's pace
    feed: TeamFeed | None = None  # TEAM_CHAT_ID (issue 18)
    alerts: AlertService | None = None  # POST /alerts (issue 18)
    watchdog: Watchdog | None = None  # DELIVERY_ALERT_MINUTES (built by build_app)
    batches: BatchService | None = None  # sends to several recipients (built by build_app)
    schedule: DutySchedule | None = None  # duty by rotation or calendar (issue 29; built by build_app)
    #: Who does the bot's own work: always this process on SQLite; the lease holder among replicas (issue 27).
    leadership: Leadership = field(default_factory=lambda: Leadership(None, 15.0))
    recorded: Recorded = field(default_factory=Recorded)  # polling confirms an update once its id is recorded
    orphans: Orphans | None = None  # PostgreSQL: sends left `sending` by a replica that died
    escalation: Escalation | None = None  # the ladder's auto-SMS (issue 28; built by build_app)
    chat_order: ChatOrder | None = None  # one chat's updates one at a time and in order (across replicas on PostgreSQL)
    pace: SharedPace | None = None  # PostgreSQL: a chat's Telegram moments shared with the other replicas

    async def start(self, persist: Persist[Any] = once) -> None:
        """Everything that must be ready before the first update: admins, crash recovery, menu, tracking. The
        bot's own work starts here on the leader (SQLite: always); among replicas, when the lease is taken."""
        await self.db.people.sync_admins(self.settings.admin_ids)
        lead = self.leadership
        if lead.leases is None:
            await self._recover()
        await persist(lambda: set_commands(self.bot, self.i18n, self.settings), "setMyCommands")
        if lead.leases is None:
            await self._start_loops()
            await lead.gain()  # SQLite: this process leads from the start (the runner's polling)
        else:
            await lead.begin()  # the lease taken at once when free: start_work (and polling) on gaining it
        self.obs.starting = False

    async def start_work(self) -> None:
        """This replica became the leader: what the last one left is taken over, and its loops start."""
        await self._recover()
        await self._start_loops()

    async def stop_work(self) -> None:
        """This replica is no longer the leader (stopping, or fenced): its loops stop, quickly. Sends and
        batch recipients already at the gateway finish; recipients not attempted go to the next leader."""
        stops = [
            self.sending.stop_telling(1.0),
            self.sending.stop_expiring(),
            self.tracker.stop(),
            *(s.stop() for s in (self.watchdog, self.schedule, self.alerts, self.retention, self.orphans) if s),
        ]
        if self.batches is not None:
            stops.append(self.batches.stop(1.0))
        if self.escalation is not None:
            stops.append(self.escalation.stop(1.0))  # an auto-SMS in flight finishes; the rest: the next leader
        for failed in await asyncio.gather(*stops, return_exceptions=True):
            if isinstance(failed, BaseException):
                log.warning("a background task did not stop cleanly: %r", failed)
        if self.batches is not None and not self.obs.stopping:
            self.batches.accept()  # still serving (webhook mode): an operator's press here is sent here

    async def _recover(self) -> None:
        if self.orphans is not None and (self.sending.inflight_count or await self.leadership.others_alive()):
            await self.orphans.sweep()  # another replica may have a send in flight: only those certainly dead
        else:
            await self.sending.recover()  # interrupted sends become unknown, owed; told in the background
        if self.batches is not None:
            self.batches.start()
            await self.batches.resume()  # after recover: never-attempted recipients go out now
        if self.retention is not None:
            await self.retention.start()

    async def _start_loops(self) -> None:
        if self.orphans is not None:
            self.orphans.start()
        self.sending.start_telling()
        self.sending.start_expiring()
        self.tracker.start()
        if self.feed is not None:
            await self.feed.start()
        if self.alerts is not None:
            self.alerts.start()
        if self.watchdog is not None:
            self.watchdog.start()
        if self.schedule is not None:
            self.schedule.start()
        if self.escalation is not None:
            self.escalation.start()

    def __post_init__(self) -> None:
        if self.leadership.leases is not None:
            self.leadership.gain, self.leadership.lose = self.start_work, self.stop_work

    async def close(self, drain_timeout: float = 30.0) -> None:
        await self.leadership.stop()  # the work stops and the lease is released: a standby takes over at once
        # Updates being handled and sends that already started finish (bounded) before the clients and the
        # database they need close. aiogram's polling does not wait for its handler tasks itself.
        handling = set(self.obs.updates.in_flight)
        if handling:
            await asyncio.wait(handling, timeout=drain_timeout)
        if self.batches is not None:
            await self.batches.stop(drain_timeout)  # recipients not attempted yet go out at the next start
        if self.escalation is not None:
            await self.escalation.stop(drain_timeout)  # an auto-SMS in flight finishes; the rest go next time
        await self.sending.wait_inflight(drain_timeout)
        await self.sending.stop_telling()
        await self.sending.stop_expiring()
        if self.watchdog is not None:
            await self.watchdog.stop()
        if self.schedule is not None:
            await self.schedule.stop()
        await self.tracker.stop()
        if self.alerts is not None:
            await self.alerts.stop()
        if self.feed is not None:
            await self.feed.settled()
        await self.queue.close()
        if self.chat_order is not None and self.chat_order.locks is not None:
            await self.chat_order.locks.close()
        if self.pace is not None:
            await self.pace.close()
        await self.access.close()
        if self.retention is not None:
            await self.retention.stop()
        await self.http.aclose()
        await self.db.close()
        await self.bot.session.close()


def make_bot(settings: Settings) -> tuple[Bot, RetryAfterMiddleware]:
    session = TelegramSession(settings.telegram_api_url)
    retry = RetryAfterMiddleware()
    session.middleware(retry)
    bot = Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )
    return bot, retry


async def build_app(settings: Settings) -> App:
    url = settings.database_url.get_secret_value() if settings.database_url else None
    db = await Database.connect(settings.database_path, url)
    try:
        bot, retry = make_bot(settings)
        i18n = make_i18n(settings.default_locale)
        http = httpx.AsyncClient(timeout=settings.smska_timeout, verify=tls_context())
        gateway = SmskaClient(
            http,
            url=settings.smska_url,
            api_key=settings.smska_api_key,
            api_password=settings.smska_api_password,
            timeout=settings.smska_timeout,
        )
        notices = Notices(i18n, settings)
        notifier = Notifier(bot)  # one limiter for everything the bot says on its own
        access = AccessService(
            db=db,
            bot=bot,
            notices=notices,
            admin_ids=settings.admin_ids,
            default_locale=settings.default_locale,
            notifier=notifier,
        )
        tracker = DeliveryTracker(
            db=db, bot=bot, gateway=gateway, notices=notices, settings=settings, notifier=notifier
        )
        sending = SendingService(db=db, bot=bot, gateway=gateway, notices=notices, settings=settings, tracker=tracker)
        queue = ChatQueue()
        feed = TeamFeed(db=db, notifier=notifier, queue=queue, texts=FeedTexts(i18n, settings), settings=settings)
        tracker.watchers.append(feed.changed)
        alerts = AlertService(
            db=db, notifier=notifier, queue=queue, texts=AlertTexts(i18n, settings), settings=settings
        )
        tracker.watchers.append(alerts.send_changed)  # an SMS to duty that went out: every alert copy says so
        batch_notices = BatchNotices(i18n, settings.delivery_alert_minutes)
        batches = BatchService(sending=sending, settings=settings, notifier=notifier, texts=batch_notices)
        tracker.member_final = batches.member_final  # a batch's recipient is told in its summary
    except BaseException:
        await db.close()
        raise

    # A guided step survives a restart. The FSM middleware goes after the access gate (below), so that nobody but
    # an operator in a private chat reaches the FSM storage or its cache (strangers, the team chat).
    dp = Dispatcher(storage=SqliteStorage(db.fsm), disable_fsm=True)
    access.fsm_storage = dp.storage
    access.queue = queue  # /deny drops what was queued for that person
    obs = instrument(bot, dp, gateway, lambda: retry.retries)  # first outer middleware: log context, counts
    tracker.finals.append(obs.delivered)  # the delivery-time histogram
    order = chat_order(db, settings)
    dp.update.outer_middleware(order.announce)  # at arrival: this update is on its way in its chat
    dp.update.outer_middleware(OnceMiddleware(db=db))  # a redelivered update_id goes no further
    recorded = Recorded()
    dp.update.outer_middleware(recorded)  # past the guard: polling may confirm this update (bot.replicas.poller)
    dp.update.outer_middleware(order.wait)  # the chat's turn, older updates first, before its state is read
    dp.update.outer_middleware(GroupsMiddleware(team_chat_id=settings.team_chat_id))  # other groups: left
    locale = LocaleMiddleware(i18n=i18n, db=db)
    dp.update.outer_middleware(locale)  # before the gate: a stranger's refusal is in their language
    dp.errors.outer_middleware(locale)  # the error router runs outside the update's middlewares
    dp.update.outer_middleware(AccessMiddleware(db=db, access=access))
    dp.update.outer_middleware(dp.fsm)  # `state` for the handlers, operators only
    steps = StepsMiddleware(db=db)  # a command leaves a guided step; an abandoned one expires
    dp.message.outer_middleware(steps)
    dp.callback_query.outer_middleware(steps)
    dp.include_routers(*setup_routers())
    dp.workflow_data.update(
        settings=settings,
        db=db,
        gateway=gateway,
        i18n=i18n,
        access=access,
        sending=sending,
        tracker=tracker,
        batches=batches,
    )
    dp.workflow_data.update(alerts=alerts, feed=feed)
    schedule = duty_schedule(db, settings, http, notifier, queue, ScheduleNotices(i18n, settings))
    dp.workflow_data["schedule"] = schedule
    directory = Directory(db, settings.max_recipients, schedule)
    dp.workflow_data["directory"] = directory  # contacts, groups, duty
    escalation = escalation_engine(db, settings, i18n, sending, directory, alerts, notifier)
    dp.workflow_data["escalation"] = escalation
    dp.workflow_data["steps"] = steps  # its clock, for the tests
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
        retention=Retention(db=db, settings=settings),
        queue=queue,
        feed=feed,
        alerts=alerts,
        watchdog=Watchdog(db=db, tracker=tracker, notices=notices, settings=settings),
        batches=batches,
        schedule=schedule,
        recorded=recorded,
        **replicas(db, settings, sending, gateway.budget, notifier.limiter),
        escalation=escalation,
        chat_order=order,
    )


async def set_commands(bot: Bot, i18n: I18n, settings: Settings) -> None:
    """The phone's command menu in both languages; admins get theirs through a chat-scoped menu. Telegram not
    answering is raised (start-up tries again); any other refusal is logged and the bot goes on without it."""
    try:
        with i18n.context():
            for code in SUPPORTED:
                with i18n.use_locale(code):
                    await bot.set_my_commands(commands.menu(False), scope=BotCommandScopeDefault(), language_code=code)
            with i18n.use_locale(settings.default_locale):
                await bot.set_my_commands(commands.menu(False), scope=BotCommandScopeDefault())
            for admin_id in settings.admin_ids:
                for lang in (*SUPPORTED, None):
                    with i18n.use_locale(lang or settings.default_locale):
                        try:
                            await bot.set_my_commands(
                                commands.menu(True), scope=BotCommandScopeChat(chat_id=admin_id), language_code=lang
                            )
                        except NOT_ANSWERING:
                            raise
                        except TelegramAPIError as exc:  # the admin has not opened the chat yet
                            log.info("no admin menu for %s: %s", admin_id, exc)
                            break
    except NOT_ANSWERING:
        raise
    except TelegramAPIError as exc:
        log.warning("could not set the command menu: %s", exc)
