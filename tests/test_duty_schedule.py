"""Who is on duty, by schedule (issue 29), end to end over loopback on a clock the test moves: a weekly rotation
across its handoffs, an override that ends at the next handoff, a calendar served over loopback (a recurring
event, an exception, an event in another time zone, a DST change) that fails and comes back — and `/send duty`
and the alerts' 📨 follow each."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.services.schedule import DutySchedule
from tests.alert_payloads import TOKEN, alert, alertmanager, post
from tests.conftest import ADMIN

TEAM = -1009876543210
IVAN, OLGA, PETR = "+7 904 176-49-95", "+7 916 123-45-67", "+7 903 111-22-33"
TO = {"Ivan": "79041764995", "Olga": "79161234567", "Petr": "79031112233"}


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now


def schedule_of(h: Harness) -> DutySchedule:
    assert h.app is not None and h.app.schedule is not None
    return h.app.schedule


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message(timeout=10)


async def to_whom(user: FakeUser) -> str:
    """Whom `/send duty …` addresses now, by the preview's number."""
    await user.send("/send duty Disk full on db1")
    preview = await user.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
    found = [name for name, msisdn in TO.items() if msisdn[-4:] in preview.plain.replace("\u2011", "")]
    assert len(found) == 1, preview.plain
    return found[0]


async def move(h: Harness, clock: Clock, moment: datetime) -> None:
    clock.now = moment.timestamp()
    schedule_of(h).poke()


async def test_a_weekly_rotation_hands_off_and_an_override_ends_at_the_next_handoff(tmp_path: Path) -> None:
    settings = {"team_chat_id": TEAM, "alert_token": TOKEN, "timezone": "Europe/Moscow"}
    clock = Clock(datetime(2026, 3, 25, 12, 0, tzinfo=UTC))  # a Wednesday
    h = Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=settings, http=True, clock=clock)
    team = h.telegram.group(TEAM, "On-call team")
    async with h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        for name, number in (("Ivan", IVAN), ("Olga", OLGA), ("Petr", PETR)):
            await say(admin, f"/contact {name} {number}")

        shown = await say(admin, "/rotation Ivan, Olga, Petr weekly Mon 10:00")
        assert "Rotation every week, Monday at 10:00: Ivan, Olga, Petr" in shown.plain
        assert "Now: 👤 Ivan, until Mon 30.03 10:00" in shown.plain and "Next: 👤 Olga" in shown.plain
        assert "🔄 On duty now: 👤 Ivan, until Mon 30.03 10:00" in (await team.next_message(timeout=10)).plain
        assert await to_whom(admin) == "Ivan"

        # Monday 10:00 in Moscow (07:00 UTC): Olga's turn, posted once to the team feed.
        await move(h, clock, datetime(2026, 3, 30, 7, 0, 1, tzinfo=UTC))
        assert "🔄 On duty now: 👤 Olga, until Mon 06.04 10:00" in (await team.next_message(timeout=10)).plain
        assert await to_whom(admin) == "Olga"
        duty = await say(admin, "/duty")
        assert "On duty: 👤 Olga" in duty.plain and "from the rotation" in duty.plain
        assert "Since Mon 30.03 10:00 · until Mon 06.04 10:00" in duty.plain and "Next: 👤 Petr" in duty.plain

        # Olga is ill: Ivan takes over until the next handoff, then the rotation goes on with Petr.
        override = await say(admin, "/duty Ivan")
        assert "On duty until the next handoff (Mon 06.04 10:00): 👤 Ivan" in override.plain
        assert "override until the next handoff — Alice" in (await say(admin, "/duty")).plain
        assert await to_whom(admin) == "Ivan"
        await h.restart()  # the rotation, the override and the posted handoffs survive a restart
        assert await to_whom(admin) == "Ivan"
        await move(h, clock, datetime(2026, 4, 6, 7, 0, 1, tzinfo=UTC))
        assert "🔄 On duty now: 👤 Petr" in (await team.wait_for(lambda m: "Petr" in m.plain, timeout=10)).plain
        assert await to_whom(admin) == "Petr"

        # The alerts' 📨 SMS to duty follows the rotation too.
        assert (await post(h.http_url, alertmanager([alert()]))).status_code == 200
        message = await admin.wait_for(lambda m: "FIRING" in m.plain, timeout=10)
        await admin.press(message, "📨 SMS to duty")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
        assert "Petr" in preview.plain and "903" in preview.plain

        handoffs = [m.plain for m in team.messages if "On duty now" in m.plain]
        assert len(handoffs) == 4  # Ivan, Olga, Ivan (override), Petr: each once, the restart added none
        assert "(override until the next handoff)" in handoffs[2]

        assert "Rotation turned off" in (await say(admin, "/rotation off")).plain
        assert "No rotation is set" in (await say(admin, "/rotation")).plain
        with sqlite3.connect(h.db_path) as conn:
            actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE action LIKE 'rotation%'")]
        assert actions == ["rotation_set", "rotation_off"]


async def test_bad_rotations_are_answered_with_an_example(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,)) as h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="ru")
        await say(admin, f"/contact Ольга {OLGA}")
        when = await say(admin, "/rotation Ольга иногда")
        assert (
            "Укажите, когда меняется дежурный" in when.plain
            and "/rotation Иван, Ольга еженедельно пн 10:00" in when.plain
        )
        assert "Нет контакта или группы «Вася»" in (await say(admin, "/rotation Ольга, Вася ежедневно 09:00")).plain
        assert "от 1 до 168 часов" in (await say(admin, "/rotation Ольга каждые 200ч с 08:00")).plain
        shown = await say(admin, "/rotation Ольга каждые 12ч с 08:00")
        assert "График (каждые 12 ч с 08:00): Ольга" in shown.plain and "Сейчас: 👤 Ольга" in shown.plain


CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//smska-bot tests//EN
BEGIN:VEVENT
UID:olga@test
SUMMARY:On call: Olga
DTSTART;TZID=Europe/Berlin:20260302T090000
DTEND;TZID=Europe/Berlin:20260309T090000
RRULE:FREQ=WEEKLY;INTERVAL=2
END:VEVENT
BEGIN:VEVENT
UID:ivan@test
SUMMARY:Ivan Petrov
DTSTART;TZID=Europe/Berlin:20260309T090000
DTEND;TZID=Europe/Berlin:20260316T090000
RRULE:FREQ=WEEKLY;INTERVAL=2
EXDATE;TZID=Europe/Berlin:20260323T090000
END:VEVENT
BEGIN:VEVENT
UID:petr@test
SUMMARY:Petr (covering)
DTSTART;TZID=America/New_York:20260323T040000
DTEND;TZID=America/New_York:20260330T030000
END:VEVENT
END:VCALENDAR
"""


class CalendarServer:
    """The team's calendar over loopback, at a private address with a key in it (as Google's secret links)."""

    def __init__(self) -> None:
        self.status = 200
        self.reads = 0
        self.runner: web.AppRunner | None = None
        self.url = ""
        self._read = asyncio.Condition()

    async def handle(self, request: web.Request) -> web.Response:
        self.reads += 1
        async with self._read:
            self._read.notify_all()
        if self.status != 200:
            return web.Response(status=self.status, text="down")
        return web.Response(text=CALENDAR.replace("\n", "\r\n"), content_type="text/calendar")

    async def __aenter__(self) -> CalendarServer:
        app = web.Application()
        app.router.add_get("/private/key-s3cr3t/basic.ics", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/private/key-s3cr3t/basic.ics"
        return self

    async def read_after(self, reads: int, timeout: float = 10.0) -> None:
        """Until the calendar was read more than `reads` times."""
        async with self._read:
            await asyncio.wait_for(self._read.wait_for(lambda: self.reads > reads), timeout)

    async def __aexit__(self, *exc: Any) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


async def test_a_calendar_decides_duty_across_exceptions_time_zones_and_dst_and_survives_an_outage(
    tmp_path: Path,
) -> None:
    async with CalendarServer() as server:
        settings = {"duty_calendar_url": server.url, "duty_calendar_minutes": 5, "timezone": "Europe/Berlin"}
        clock = Clock(datetime(2026, 3, 9, 8, 30, tzinfo=UTC))  # Mon 09:30 in Berlin
        h = Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=settings, clock=clock)
        async with h:
            admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
            for name, number in (("Olga", OLGA), ("Ivan Petrov", IVAN), ("Petr", PETR)):
                await say(admin, f"/contact {name} {number}")
            await server.read_after(0)

            async def at(moment: datetime) -> str:
                """Who `/send duty` reaches at `moment`, once the calendar was read after the clock moved."""
                before = server.reads
                await move(h, clock, moment)
                await server.read_after(before)
                return await to_whom(admin)

            assert await to_whom(admin) == "Ivan"  # the recurring "Ivan Petrov" event
            duty = await say(admin, "/duty")
            assert "On duty: 👤 Ivan Petrov" in duty.plain and "from the team's calendar" in duty.plain
            assert "Next: 👤 Olga" in duty.plain
            # 23 March: Ivan's turn is cancelled (EXDATE); Petr covers from 04:00 in New York, which is 08:00 UTC
            # since New York's DST began (8 March) — 09:00 in Berlin.
            assert await at(datetime(2026, 3, 23, 8, 30, tzinfo=UTC)) == "Petr"
            # 30 March, after Berlin's DST change (29 March): Olga's recurring 09:00 is now 07:00 UTC.
            assert await at(datetime(2026, 3, 30, 7, 30, tzinfo=UTC)) == "Olga"

            # The calendar goes down: the admins are told once, duty stays as last read.
            server.status = 500
            before = server.reads
            await move(h, clock, datetime(2026, 3, 31, 7, 30, tzinfo=UTC))
            await server.read_after(before)
            told = await admin.wait_for(lambda m: "duty calendar cannot be read" in m.plain, timeout=10)
            assert "HTTP 500" in told.plain and "key-s3cr3t" not in told.plain
            assert await to_whom(admin) == "Olga"
            await h.restart()  # the calendar last read is kept across a restart
            assert await at(datetime(2026, 4, 1, 7, 30, tzinfo=UTC)) == "Olga"
            assert sum("cannot be read" in m.plain for m in admin.messages) == 1
            # Back again: the admins hear it, and the next turn follows the calendar.
            server.status = 200
            assert await at(datetime(2026, 4, 6, 7, 30, tzinfo=UTC)) == "Ivan"
            assert sum("duty calendar is read again" in m.plain for m in admin.messages) == 1
