"""A duty rotation, pure: `/rotation <members> <when>` read, and who of the members is on duty at a moment.

`when` is one of (English or Russian words, case ignored):

- `weekly Mon 10:00` / `еженедельно пн 10:00` — a handoff every week on that day at that local time;
- `daily 09:00` / `ежедневно 09:00` — every day at that time;
- `every 12h from 08:00` / `каждые 12ч с 08:00` — every N hours (N from 1 to 168) counted from that time.

Handoffs are wall-clock times in the team's time zone (`TIMEZONE`): a weekly handoff at 10:00 stays at 10:00
across a DST change. Duty passes along the members at each handoff; the first member is on duty from the
handoff at or before the moment the rotation was set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Kind = Literal["weekly", "daily", "hours"]

WEEKDAYS = {
    **{name: n for n, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{
        name: n for n, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    },
    **{name: n for n, name in enumerate(("пн", "вт", "ср", "чт", "пт", "сб", "вс"))},
    **{name: n for n, name in enumerate(("пон", "вто", "сре", "чет", "пят", "суб", "вос"))},
}
_TIME = r"(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)"
_WHEN = re.compile(
    r"(?:(?P<weekly>weekly|еженедельно|каждую\s+неделю)\s+(?P<day>[^\W\d_]+)\.?,?\s+" + _TIME + r"|"
    r"(?P<daily>daily|ежедневно|каждый\s+день)\s+" + _TIME.replace("h>", "h2>").replace("m>", "m2>") + r"|"
    r"(?P<every>every|каждые|каждый)\s+(?P<n>\d{1,3})\s*(?:h|hours?|ч|час(?:а|ов)?)\s+(?:from|с|от)\s+"
    + _TIME.replace("h>", "h3>").replace("m>", "m3>")
    + r")\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class When:
    kind: Kind
    minute: int  # minutes after local midnight of the handoff (the first one, for `hours`)
    weekday: int = 0  # weekly: 0 = Monday
    hours: int = 24  # hours: the period

    @property
    def period(self) -> timedelta:
        return {"weekly": timedelta(days=7), "daily": timedelta(days=1)}.get(self.kind, timedelta(hours=self.hours))


@dataclass(frozen=True, slots=True)
class RotationArgs:
    members: list[str]  # the member phrases, as typed (contacts or groups, read by the directory)
    when: When


class BadRotation(ValueError):
    """What was typed is not `<members> <when>`; `why`: "when" (no schedule at the end), "members" (none),
    "hours" (a period of 0 or over a week), "day" (not a weekday)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def read_rotation(args: str) -> RotationArgs:
    match = _WHEN.search(args.strip())
    if match is None:
        raise BadRotation("when")
    if match["weekly"]:
        day = WEEKDAYS.get(match["day"].casefold().rstrip("."))
        if day is None:
            raise BadRotation("day")
        when = When("weekly", int(match["h"]) * 60 + int(match["m"]), weekday=day)
    elif match["daily"]:
        when = When("daily", int(match["h2"]) * 60 + int(match["m2"]))
    else:
        hours = int(match["n"])
        if not 1 <= hours <= 168:
            raise BadRotation("hours")
        when = When("hours", int(match["h3"]) * 60 + int(match["m3"]), hours=hours)
    members = [m.strip() for m in args.strip()[: match.start()].split(",") if m.strip()]
    if not members:
        raise BadRotation("members")
    return RotationArgs(members, when)


def _local(naive: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` as an aware UTC moment (a time skipped by DST moves forward, as clocks do)."""
    aware = naive.replace(tzinfo=tz)
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if back != naive:  # inside a spring-forward gap
        aware = (naive + timedelta(hours=1)).replace(tzinfo=tz)
    return aware.astimezone(UTC)


def first_handoff(when: When, moment: float, tz: ZoneInfo) -> datetime:
    """The latest handoff at or before `moment` (epoch seconds), as a naive local wall-clock time."""
    local = datetime.fromtimestamp(moment, UTC).astimezone(tz).replace(tzinfo=None)
    start = local.replace(hour=when.minute // 60, minute=when.minute % 60, second=0, microsecond=0)
    if when.kind == "weekly":
        start -= timedelta(days=(start.weekday() - when.weekday) % 7)
    while _local(start, tz).timestamp() > moment:
        start -= when.period if when.kind != "hours" else timedelta(hours=when.hours)
    if when.kind == "hours":  # the latest of the every-N-hours handoffs counted from that time of day
        step = timedelta(hours=when.hours)
        while _local(start + step, tz).timestamp() <= moment:
            start += step
    return start


@dataclass(frozen=True, slots=True)
class Turn:
    index: int  # whose turn, in the members' order
    since: float  # epoch seconds of the handoff that began it
    until: float  # of the next handoff
    next_index: int


def turn_at(when: When, anchor: datetime, count: int, moment: float, tz: ZoneInfo) -> Turn:
    """Whose turn it is at `moment` of a rotation of `count` members whose first turn began at `anchor` (a naive
    local time, from `first_handoff`). Walking handoffs in wall-clock steps keeps them at the same local time."""
    step = when.period
    n = max(0, int((moment - _local(anchor, tz).timestamp()) // step.total_seconds()) - 1)
    while _local(anchor + step * (n + 1), tz).timestamp() <= moment:
        n += 1
    since = _local(anchor + step * n, tz).timestamp()
    until = _local(anchor + step * (n + 1), tz).timestamp()
    return Turn(n % count, since, until, (n + 1) % count)
