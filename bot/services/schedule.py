"""Who is on duty, by schedule (issue 29): an override, the team's calendar, a rotation, or set by hand.

Whoever asks "who is on duty" — `/send duty`, the alerts' 📨, `/duty` — asks `DutySchedule.now()`:

1. an override (`/duty <recipient>` while a schedule runs), until the next handoff;
2. the calendar (`DUTY_CALENDAR_URL`): the event happening now whose title names a contact or a group;
3. the rotation (`/rotation`): duty passes along its members at each handoff;
4. duty set by hand (`/duty <recipient>` with no schedule), as before.

A background loop reads the calendar every `DUTY_CALENDAR_MINUTES` and, at each handoff, posts "🔄 On duty
now" to the team feed — once, across restarts (the last posted turn is in the database, claimed before it is
posted). It returns data; the words are the UI's (`post` and `tell_admins` are wired by bot/app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.config import Settings
from bot.services.calendar import DutyCalendar, Event
from bot.sms.names import Book, Entry, name_key
from bot.sms.rotation import BadRotation, RotationArgs, When, first_handoff, read_rotation, turn_at
from bot.storage.db import Database
from bot.storage.schedule import OverrideRow, RotationRow
from bot.tasks import cancelled
from bot.times import seconds

log = logging.getLogger(__name__)

Source = Literal["override", "calendar", "rotation", "hand"]


@dataclass(frozen=True, slots=True)
class OnDuty:
    """Who is on duty now, and where that comes from."""

    source: Source
    entry: Entry | None  # a contact or a group; None for a bare number
    msisdn: str | None  # a bare number (set by hand or as an override)
    since: float | None
    until: float | None  # the next handoff (None: until someone changes it)
    next: Entry | None  # who takes over then (rotation, calendar)
    set_by: int | None = None

    @property
    def turn(self) -> str:
        """What a handoff post is about: this turn, as one string (the same turn is posted once)."""
        who = f"{self.entry.kind}:{self.entry.id}" if self.entry else f"msisdn:{self.msisdn}"
        return f"{self.source}|{who}|{int(self.since or 0)}"


@dataclass(frozen=True, slots=True)
class RotationView:
    members: list[Entry]
    when: When
    now: OnDuty | None


@dataclass(frozen=True, slots=True)
class RotationProblem:
    why: str  # "when", "members", "hours", "day" (BadRotation), "unknown" (a member names nothing), "number"
    phrase: str = ""


def _find_in_title(title: str, book: Book) -> Entry | None:
    """The contact or group an event's title names: the whole title, or the longest name in it as whole words."""
    exact = book.exact(title)
    if exact is not None:
        return exact
    words = f" {name_key(''.join(c if c.isalnum() else ' ' for c in title))} "
    best: Entry | None = None
    for entry in book.entries:
        key = name_key("".join(c if c.isalnum() else " " for c in entry.name))
        if key and f" {key} " in words and (best is None or len(key) > len(name_key(best.name))):
            best = entry
    return best


class DutySchedule:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        calendar: DutyCalendar | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.settings = settings
        self.calendar = calendar
        self.clock = clock
        self.post: Callable[[OnDuty], Awaitable[None]] | None = None  # the team feed's handoff line
        self.tell_admins: Callable[[str | None], Awaitable[None]] | None = None  # the calendar failed / is back
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # --- who is on duty -----------------------------------------------------------------------------------
    async def now(self) -> OnDuty | None:
        moment = self.clock()
        book = await self.db.directory.book()
        scheduled = self._from_calendar(moment, book) or await self._from_rotation(moment, book)
        override = await self.db.schedule.override()
        if override is not None and override.until > moment and scheduled is not None:
            entry = await self._entry(override.contact_id, override.group_id, book)
            return OnDuty(
                "override", entry, override.msisdn, override.set_at, override.until, scheduled.next, override.set_by
            )
        if scheduled is not None:
            return scheduled
        hand = await self.db.directory.duty()
        if hand is None:
            return None
        entry = await self._entry(
            hand.contact.id if hand.contact else None, hand.group.id if hand.group else None, book
        )
        since = seconds(hand.set_at)
        return OnDuty("hand", entry, hand.msisdn if entry is None else None, since, None, None, hand.set_by)

    @property
    def has_calendar(self) -> bool:
        return self.calendar is not None

    async def _entry(self, contact_id: int | None, group_id: int | None, book: Book) -> Entry | None:
        for entry in book.entries:
            if (entry.kind == "contact" and entry.id == contact_id) or (entry.kind == "group" and entry.id == group_id):
                return entry
        return None

    def _from_calendar(self, moment: float, book: Book) -> OnDuty | None:
        if self.calendar is None:
            return None
        for event in self.calendar.now(moment):
            entry = _find_in_title(event.title, book)
            if entry is not None:
                return OnDuty("calendar", entry, None, event.start, event.end, self._next_in_calendar(event, book))
        return None

    def _next_in_calendar(self, current: Event, book: Book) -> Entry | None:
        assert self.calendar is not None
        for event in self.calendar.upcoming(current.start):
            entry = _find_in_title(event.title, book)
            if entry is not None and event.start >= current.end - 1:
                return entry
        return None

    async def _from_rotation(self, moment: float, book: Book) -> OnDuty | None:
        rotation = await self.db.schedule.rotation()
        if rotation is None:
            return None
        by_id = {(e.kind, e.id): e for e in book.entries}
        members = [by_id[m] for m in rotation.members if m in by_id]  # a deleted member is skipped
        if not members:
            return None
        when = When(rotation.kind, rotation.minute, rotation.weekday, rotation.hours)  # type: ignore[arg-type]
        turn = turn_at(when, datetime.fromisoformat(rotation.anchor), len(members), moment, self.settings.tz)
        return OnDuty("rotation", members[turn.index], None, turn.since, turn.until, members[turn.next_index])

    # --- changing it --------------------------------------------------------------------------------------
    async def set_rotation(self, args: str, by: int) -> RotationView | RotationProblem:
        try:
            read: RotationArgs = read_rotation(args)
        except BadRotation as exc:
            return RotationProblem(exc.why)
        book = await self.db.directory.book()
        members: list[Entry] = []
        for phrase in read.members:
            entry = book.exact(phrase)
            if entry is None:
                found = book.prefixed(phrase)
                entry = found[0] if len(found) == 1 else None
            if entry is None:
                return RotationProblem("unknown", phrase)
            members.append(entry)
        moment = self.clock()
        anchor = first_handoff(read.when, moment, self.settings.tz)
        w = read.when
        row = RotationRow([(m.kind, m.id) for m in members], w.kind, w.minute, w.weekday, w.hours,
                          anchor.isoformat(), by, moment)  # fmt: skip
        await self.db.schedule.set_rotation(row)
        self._wake.set()
        return RotationView(members, read.when, await self.now())

    async def rotation(self) -> RotationView | None:
        rotation = await self.db.schedule.rotation()
        if rotation is None:
            return None
        by_id = {(e.kind, e.id): e for e in (await self.db.directory.book()).entries}
        members = [by_id[m] for m in rotation.members if m in by_id]
        when = When(rotation.kind, rotation.minute, rotation.weekday, rotation.hours)  # type: ignore[arg-type]
        return RotationView(members, when, await self.now())

    async def rotation_off(self, by: int) -> bool:
        gone = await self.db.schedule.clear_rotation(by, self.clock())
        self._wake.set()
        return gone

    async def scheduled(self) -> bool:
        """A schedule decides duty now (a rotation, or the calendar has a named event now)."""
        moment = self.clock()
        book = await self.db.directory.book()
        return (self._from_calendar(moment, book) or await self._from_rotation(moment, book)) is not None

    async def override_until_handoff(
        self, by: int, *, contact_id: int | None = None, group_id: int | None = None, msisdn: str | None = None
    ) -> float | None:
        """`/duty <recipient>` while a schedule runs: that recipient until the next handoff (returned); None when
        no schedule runs (then duty is set by hand, as before)."""
        moment = self.clock()
        book = await self.db.directory.book()
        scheduled = self._from_calendar(moment, book) or await self._from_rotation(moment, book)
        if scheduled is None or scheduled.until is None:
            return None
        await self.db.schedule.set_override(OverrideRow(contact_id, group_id, msisdn, scheduled.until, by, moment))
        self._wake.set()
        return scheduled.until

    # --- the loop: the calendar's reads and the handoffs' posts -------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="duty-schedule")

    async def stop(self) -> None:
        if self._task is not None:
            await cancelled(self._task)
            self._task = None

    async def _run(self) -> None:
        next_read = 0.0
        if self.calendar is not None:
            await self.calendar.load()
        while True:
            try:
                if self.calendar is not None and self.clock() >= next_read:
                    await self.read_calendar()
                    next_read = self.clock() + self.settings.duty_calendar_minutes * 60
                await self.handoff()
            except Exception:
                log.exception("duty schedule: a round failed")
            self._wake.clear()
            try:
                pause = await self._pause(next_read)
            except Exception as exc:  # the database not answering: look again soon, the loop goes on
                log.warning("duty schedule: could not read the schedule: %s", type(exc).__name__)
                pause = 5.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._wake.wait()

    async def _pause(self, next_read: float) -> float:
        """Until the next handoff or calendar read, at most a minute (a clock the tests move is read again)."""
        pause = 60.0
        current = await self.now()
        if current is not None and current.until is not None:
            pause = min(pause, max(0.2, current.until - self.clock() + 0.05))
        if self.calendar is not None:
            pause = min(pause, max(0.2, next_read - self.clock()))
        return pause

    def poke(self) -> None:
        """Look again now (the tests' clock moved; a setting changed)."""
        self._wake.set()

    async def read_calendar(self) -> None:
        assert self.calendar is not None
        ok = await self.calendar.refresh()
        told = await self.db.kv.get("duty_calendar_failing_told")
        if not ok and told is None:
            await self.db.kv.set("duty_calendar_failing_told", "1")
            if self.tell_admins is not None:
                await self.tell_admins(self.calendar.failing)
        elif ok and told is not None:
            await self.db.kv.set("duty_calendar_failing_told", None)
            if self.tell_admins is not None:
                await self.tell_admins(None)

    async def handoff(self) -> OnDuty | None:
        """Post the current turn to the team feed when it was not posted yet (once across restarts)."""
        current = await self.now()
        if current is None or current.source == "hand":
            return None
        if not await self.db.schedule.claim_handoff(current.turn, self.clock()):
            return None
        if self.post is not None:
            await self.post(current)
        return current
