"""The team's duty calendar (`DUTY_CALENDAR_URL`): an iCalendar (.ics) address read every
`DUTY_CALENDAR_MINUTES`. Recurring events, their exceptions and time zones are `icalendar` and
`recurring-ical-events`' job, not ours.

The address is a secret (a private calendar link carries a key): it never reaches a log line or a chat. A
calendar that cannot be read or parsed keeps the last one that could (kept in the database, so a restart during
an outage keeps it too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import httpx
import icalendar
import recurring_ical_events  # type: ignore[import-untyped]
from pydantic import SecretStr

from bot.storage.kv import KvRepository

log = logging.getLogger(__name__)

KV_KEY = "duty_calendar_ics"
MAX_BYTES = 4 * 1024 * 1024
#: How far ahead "who is next" looks.
HORIZON = timedelta(days=62)


@dataclass(frozen=True, slots=True)
class Event:
    title: str
    start: float  # epoch seconds
    end: float


class CalendarUnreadable(Exception):
    """One plain reason, never the address: "HTTP 404", "timeout", "not an iCalendar file"."""


def _moment(value: date | datetime, tz: tzinfo) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # a floating time: the team's time zone
            value = value.replace(tzinfo=tz)
        return value.timestamp()
    return datetime(value.year, value.month, value.day, tzinfo=tz).timestamp()  # an all-day event


def parse(text: bytes) -> icalendar.Calendar:
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as exc:
        raise CalendarUnreadable("not an iCalendar file") from exc
    if not isinstance(calendar, icalendar.Calendar):
        raise CalendarUnreadable("not an iCalendar file")
    return calendar


class DutyCalendar:
    def __init__(self, url: SecretStr, http: httpx.AsyncClient, kv: KvRepository, tz: tzinfo) -> None:
        self._url = url
        self._http = http
        self._kv = kv
        self.tz = tz
        self._calendar: icalendar.Calendar | None = None
        self.failing: str | None = None  # why the latest read failed; None when it worked

    async def load(self) -> None:
        """The calendar last read, kept from before a restart (the address may be down right now)."""
        kept = await self._kv.get(KV_KEY)
        if kept is not None and self._calendar is None:
            try:
                self._calendar = parse(kept.encode())
            except CalendarUnreadable:
                log.warning("duty calendar: the kept copy cannot be parsed")

    async def refresh(self) -> bool:
        """Read the address once; True when it was read and parsed (then it is the calendar from now on)."""
        try:
            text = await self._fetch()
            calendar = parse(text)
            self.at_moment(calendar, datetime.now(UTC).timestamp())  # recurrence rules that cannot be expanded
        except CalendarUnreadable as exc:
            self.failing = str(exc)
            log.warning("duty calendar: cannot read it: %s", exc)
            return False
        except Exception as exc:
            self.failing = type(exc).__name__
            log.warning("duty calendar: cannot read it: %s", type(exc).__name__)
            return False
        self._calendar = calendar
        self.failing = None
        await self._kv.set(KV_KEY, text.decode("utf-8", "replace"))
        return True

    async def _fetch(self) -> bytes:
        try:
            async with self._http.stream("GET", self._url.get_secret_value(), timeout=10.0) as response:
                if response.status_code != 200:
                    raise CalendarUnreadable(f"HTTP {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise CalendarUnreadable("over 4 MB")
                return bytes(body)
        except httpx.TimeoutException as exc:
            raise CalendarUnreadable("timeout") from exc
        except httpx.HTTPError as exc:  # the message may hold the address: only the kind of failure
            raise CalendarUnreadable(type(exc).__name__) from exc

    @property
    def known(self) -> bool:
        return self._calendar is not None

    def at_moment(self, calendar: icalendar.Calendar, moment: float) -> list[Event]:
        when = datetime.fromtimestamp(moment, UTC)
        return self._events(recurring_ical_events.of(calendar).at(when))

    def now(self, moment: float) -> list[Event]:
        """The events happening at `moment`, the latest started first."""
        if self._calendar is None:
            return []
        return sorted(self.at_moment(self._calendar, moment), key=lambda e: -e.start)

    def upcoming(self, moment: float) -> list[Event]:
        """Events starting after `moment` within the horizon, soonest first."""
        if self._calendar is None:
            return []
        start = datetime.fromtimestamp(moment, UTC)
        found = self._events(recurring_ical_events.of(self._calendar).between(start, start + HORIZON))
        return sorted((e for e in found if e.start > moment), key=lambda e: e.start)

    def _events(self, components: Any) -> list[Event]:
        events = []
        for component in components:
            if component.name != "VEVENT" or component.get("DTSTART") is None:
                continue
            start: Any = component["DTSTART"].dt
            end_prop: Any = component.get("DTEND")
            duration: Any = component.get("DURATION")
            end: Any
            if end_prop is not None:
                end = end_prop.dt
            else:  # no end: its duration, or a day for an all-day event, or an instant
                default = timedelta(days=1) if not isinstance(start, datetime) else timedelta(0)
                end = start + (duration.dt if duration is not None else default)
            title = str(component.get("SUMMARY", "")).strip()
            events.append(Event(title, _moment(start, self.tz), _moment(end, self.tz)))
        return events
