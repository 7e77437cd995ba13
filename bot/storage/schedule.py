"""Duty by schedule (issue 29): the rotation, an override of it, and the handoff last posted to the team feed.

One row each (id = 1). Moments are epoch seconds. Every change is written to the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.sms.names import Kind
from bot.storage.store import Store, utcnow


@dataclass(frozen=True, slots=True)
class RotationRow:
    members: list[tuple[Kind, int]]
    kind: str
    minute: int
    weekday: int
    hours: int
    anchor: str  # the first turn's handoff, local wall-clock ISO
    set_by: int
    set_at: float


@dataclass(frozen=True, slots=True)
class OverrideRow:
    contact_id: int | None
    group_id: int | None
    msisdn: str | None
    until: float
    set_by: int
    set_at: float


async def _audit(db: Any, actor_id: int, action: str, at: float, **details: Any) -> None:
    """The audit row is stamped with the real time of the change (`at`, the schedule's clock, goes in details)."""
    await db.rows(
        "INSERT INTO audit_log (at, actor_id, action, target_id, details) VALUES (?, ?, ?, NULL, ?)",
        (utcnow(), actor_id, action, json.dumps({**details, "clock": at})),
    )


class ScheduleRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def rotation(self) -> RotationRow | None:
        row = await self._store.row("SELECT * FROM duty_rotation WHERE id = 1")
        if row is None:
            return None
        members = [(m["kind"], int(m["id"])) for m in json.loads(row["members"])]
        return RotationRow(
            members,
            row["kind"],
            row["minute"],
            row["weekday"],
            row["hours"],
            row["anchor"],
            row["set_by"],
            row["set_at"],
        )

    async def set_rotation(self, rotation: RotationRow) -> None:
        members = json.dumps([{"kind": k, "id": i} for k, i in rotation.members])
        async with self._store.transaction() as db:
            await db.rows(
                """INSERT INTO duty_rotation (id, members, kind, minute, weekday, hours, anchor, set_by, set_at)
                   VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET members = excluded.members, kind = excluded.kind,
                     minute = excluded.minute, weekday = excluded.weekday, hours = excluded.hours,
                     anchor = excluded.anchor, set_by = excluded.set_by, set_at = excluded.set_at""",
                (
                    members,
                    rotation.kind,
                    rotation.minute,
                    rotation.weekday,
                    rotation.hours,
                    rotation.anchor,
                    rotation.set_by,
                    rotation.set_at,
                ),
            )
            await db.rows("DELETE FROM duty_override")  # a new rotation starts clean
            await _audit(
                db,
                rotation.set_by,
                "rotation_set",
                rotation.set_at,
                members=members,
                kind=rotation.kind,
                minute=rotation.minute,
                weekday=rotation.weekday,
                hours=rotation.hours,
            )

    async def clear_rotation(self, by: int, at: float) -> bool:
        async with self._store.transaction() as db:
            gone = await db.rows("DELETE FROM duty_rotation RETURNING id")
            await db.rows("DELETE FROM duty_override")
            if gone:
                await _audit(db, by, "rotation_off", at)
        return bool(gone)

    async def override(self) -> OverrideRow | None:
        row = await self._store.row("SELECT * FROM duty_override WHERE id = 1")
        if row is None:
            return None
        return OverrideRow(
            row["contact_id"], row["group_id"], row["msisdn"], row["until"], row["set_by"], row["set_at"]
        )

    async def set_override(self, override: OverrideRow) -> None:
        o = override
        async with self._store.transaction() as db:
            await db.rows(
                """INSERT INTO duty_override (id, contact_id, group_id, msisdn, until, set_by, set_at)
                   VALUES (1, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET contact_id = excluded.contact_id, group_id = excluded.group_id,
                     msisdn = excluded.msisdn, until = excluded.until, set_by = excluded.set_by,
                     set_at = excluded.set_at""",
                (o.contact_id, o.group_id, o.msisdn, o.until, o.set_by, o.set_at),
            )
            await _audit(
                db,
                o.set_by,
                "duty_override",
                o.set_at,
                contact_id=o.contact_id,
                group_id=o.group_id,
                msisdn=o.msisdn,
                until=o.until,
            )

    async def claim_handoff(self, turn: str, at: float) -> bool:
        """Record `turn` as the one posted to the team feed; False when it already was (by this process before a
        restart, or by another replica): each handoff is posted once."""
        rows = await self._store.rows(
            """INSERT INTO duty_handoffs (id, turn, posted_at) VALUES (1, ?, ?)
               ON CONFLICT(id) DO UPDATE SET turn = excluded.turn, posted_at = excluded.posted_at
               WHERE duty_handoffs.turn != excluded.turn RETURNING id""",
            (turn, at),
        )
        return bool(rows)

    async def last_handoff(self) -> str | None:
        value = await self._store.scalar("SELECT turn FROM duty_handoffs WHERE id = 1")
        return None if value is None else str(value)
