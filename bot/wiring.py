"""The builders of the parts `bot.app.build_app` puts together that need services and their words at once:
the replicas' leadership (PostgreSQL), the escalation ladder's engine, duty by schedule."""

from __future__ import annotations

from typing import Any

import httpx
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.middlewares.chatorder import ChatOrder
from bot.replicas.chatlock import ChatLocks
from bot.replicas.leadership import Leadership
from bot.replicas.lease import Leases
from bot.replicas.orphans import MARGIN, Orphans
from bot.replicas.pace import SharedPace
from bot.services.alerts import AlertService
from bot.services.calendar import DutyCalendar
from bot.services.chatqueue import ChatQueue
from bot.services.directory import Directory
from bot.services.escalation import Escalation
from bot.services.notifier import Notifier, RateLimiter
from bot.services.schedule import DutySchedule, OnDuty
from bot.services.sending import SendingService
from bot.storage.alerts import AlertRow
from bot.storage.db import Database
from bot.ui.escalation_texts import EscalationTexts
from bot.ui.schedule_texts import ScheduleNotices


def replicas(
    db: Database, settings: Settings, sending: SendingService, budget: float, limiter: RateLimiter
) -> dict[str, Any]:
    """PostgreSQL: the leadership lease (on a connection of its own), the sweep of dead replicas' sends, and
    Telegram's limits shared with the other replicas (bot/replicas/pace.py)."""
    if db.url is None:
        return {}
    from bot.storage.postgres import PgStatements

    leases = Leases(PgStatements(db.url, None))
    leadership = Leadership(leases, settings.failover_seconds)
    leadership.alive = limiter.share
    pace = SharedPace(PgStatements(db.url, None), limiter.per_chat)
    limiter.shared = pace.delay
    return {
        "leadership": leadership,
        "pace": pace,
        "orphans": Orphans(sending, deadline=budget + MARGIN, every=max(1.0, settings.failover_seconds / 3)),
    }


def chat_order(db: Database, settings: Settings) -> ChatOrder:
    """Each chat's updates take turns: across replicas on PostgreSQL (bot.replicas.chatlock), in memory on SQLite."""
    if db.url is None:
        return ChatOrder(None)
    return ChatOrder(ChatLocks(db.url, settings.failover_seconds))


def escalation_engine(
    db: Database,
    settings: Settings,
    i18n: I18n,
    sending: SendingService,
    directory: Directory,
    alerts: AlertService,
    notifier: Notifier,
) -> Escalation:
    """The ladder's engine, with its words: auto-SMS lines on every alert copy, the cap told to the admins; an
    auto-SMS's result is shown on its alert, not in a notice of its own."""
    engine = Escalation(db=db, sending=sending, directory=directory, settings=settings)
    words = EscalationTexts(i18n, settings)
    tracker = sending.tracker

    async def lines(group: AlertRow, locale: str) -> list[str]:
        return words.lines(await engine.shown(group), locale)

    async def redraw(group_ids: list[int]) -> None:
        alerts.wake()

    async def tell_cap(cap: int) -> None:
        for admin in settings.admin_ids:
            locale = await db.people.locale_for(admin) or settings.default_locale
            await notifier.send(admin, words.cap_reached(locale, cap))

    alerts.extra_lines = lines
    alerts.on_take = engine.wake
    engine.redraw = redraw
    engine.tell_cap = tell_cap
    tracker.watchers.append(engine.send_changed)
    tracker.member_final = engine.member_final(tracker.member_final)
    return engine


def duty_schedule(
    db: Database,
    settings: Settings,
    http: httpx.AsyncClient,
    notifier: Notifier,
    queue: ChatQueue,
    words: ScheduleNotices,
) -> DutySchedule:
    """Duty by schedule, with its words: each handoff in the team feed, the calendar's failures to the admins."""
    url = settings.duty_calendar_url
    schedule = DutySchedule(db, settings, DutyCalendar(url, http, db.kv, settings.tz) if url is not None else None)

    async def post(now: OnDuty) -> None:
        chat = settings.team_chat_id
        if chat is not None:
            text = words.handoff(now)

            async def job() -> None:
                await notifier.send(chat, text)

            queue.put(chat, ("handoff", now.turn), job)

    async def tell_admins(failing: str | None) -> None:
        for admin in settings.admin_ids:
            locale = await db.people.locale_for(admin) or settings.default_locale
            await notifier.send(admin, words.calendar(locale, failing))

    schedule.post = post
    schedule.tell_admins = tell_admins
    return schedule
