"""The escalation ladder (issue 28) and its auto-SMS.

`escalation_steps`: the ladder as an admin set it (minutes after the group first fired, a recipient as typed).
`escalation_sends`: one row per (group, firing, step, number) that got an auto-SMS, written in the same
transaction as the `sends` row (state `sending`) before the gateway is called — its primary key is what makes a
step go to a number at most once, across restarts and replicas. Several rows share one send when steps due for
one number went out as one bundled SMS. Auto-SMS are `sends` rows of user `ESCALATION_USER` (no operator): the
tracker, the watchdog, /history and retention treat them like any send, and no operator's limit counts them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.storage.alerts import AlertRow
from bot.storage.models import SendRow
from bot.storage.store import Store, utcnow

#: The `sends.user_id` of an auto-SMS: nobody (Telegram's ids are positive).
ESCALATION_USER = 0
#: `kv`: when the admins were last told that the hourly cap held auto-SMS back (epoch seconds).
CAP_TOLD_KEY = "escalation_cap_told"
CHUNK = 200  # item rows per INSERT (7 parameters each)


class Conflict(Exception):
    """A step of the bundle was recorded meanwhile (or its group was taken or resolved): nothing was written."""


@dataclass(frozen=True, slots=True)
class Step:
    step: int
    minutes: int
    recipient: str


@dataclass(frozen=True, slots=True)
class Item:
    """One step of one group due for one number."""

    group_id: int
    fired_at: int
    step: int
    msisdn: str
    due_at: int


@dataclass(frozen=True, slots=True)
class AutoSms:
    """An auto-SMS of a group as its copies show it: the step, and the send (who, when, what became of it)."""

    step: int
    send: SendRow


class EscalationRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    # --- the ladder ------------------------------------------------------------------------------------
    async def steps(self) -> list[Step]:
        rows = await self._store.rows("SELECT step, minutes, recipient FROM escalation_steps ORDER BY step")
        return [Step(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    async def set_steps(self, steps: Sequence[tuple[int, str]], by: int) -> list[Step]:
        """The ladder becomes `steps` ((minutes, recipient), in order; empty: off), audited."""
        async with self._store.transaction() as db:
            await db.rows("DELETE FROM escalation_steps")
            for n, (minutes, recipient) in enumerate(steps, 1):
                await db.rows(
                    "INSERT INTO escalation_steps (step, minutes, recipient) VALUES (?, ?, ?)", (n, minutes, recipient)
                )
            details = json.dumps([[m, r] for m, r in steps], ensure_ascii=False)
            await db.rows(
                "INSERT INTO audit_log (at, actor_id, action, target_id, details) VALUES (?, ?, ?, ?, ?)",
                (utcnow(), by, "escalation_set" if steps else "escalation_off", None, details),
            )
        return [Step(n, m, r) for n, (m, r) in enumerate(steps, 1)]

    # --- what is due -----------------------------------------------------------------------------------
    async def escalating(self, severities: Sequence[str], fired_before: int) -> list[AlertRow]:
        """Firing groups nobody took, of these severities, that first fired at or before `fired_before`."""
        if not severities:
            return []
        marks = ",".join("?" * len(severities))
        rows = await self._store.rows(
            f"""SELECT * FROM alert_groups
                WHERE status = 'firing' AND taken_by IS NULL AND fired_at IS NOT NULL AND fired_at <= ?
                  AND LOWER(severity) IN ({marks})
                ORDER BY fired_at, id""",  # noqa: S608 - marks only
            (fired_before, *[s.lower() for s in severities]),
        )
        return [AlertRow(**dict(r)) for r in rows]

    async def recorded(self, group_ids: Sequence[int]) -> set[tuple[int, int, int, str]]:
        """(group, fired_at, step, number) already recorded for these groups."""
        if not group_ids:
            return set()
        marks = ",".join("?" * len(group_ids))
        rows = await self._store.rows(
            f"SELECT group_id, fired_at, step, msisdn FROM escalation_sends WHERE group_id IN ({marks})",  # noqa: S608
            tuple(group_ids),
        )
        return {(int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in rows}

    async def last_to(self, msisdns: Sequence[str]) -> dict[str, int]:
        """When each of these numbers last got an auto-SMS (epoch seconds)."""
        if not msisdns:
            return {}
        marks = ",".join("?" * len(msisdns))
        rows = await self._store.rows(
            f"""SELECT msisdn, MAX(recorded_at) FROM escalation_sends
                WHERE msisdn IN ({marks}) GROUP BY msisdn""",  # noqa: S608 - marks only
            tuple(msisdns),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    async def sent_since(self, since: int) -> int:
        """Auto-SMS recorded since `since` (epoch seconds), for the hourly cap."""
        found = await self._store.scalar(
            "SELECT COUNT(DISTINCT send_id) FROM escalation_sends WHERE recorded_at >= ?", (since,)
        )
        return int(found or 0)

    # --- recording, before the gateway -----------------------------------------------------------------
    async def record(
        self,
        items: Sequence[Item],
        *,
        at: int,
        chat_id: int,
        sender: str,
        text: str,
        encoding: str,
        parts: int,
        **who: Any,
    ) -> SendRow:
        """One auto-SMS for these items (one number): its `sends` row (`sending`) and a row per item, together.
        Raises Conflict, writing nothing, when an item was recorded meanwhile or its group was taken, resolved or
        fired anew. A bundle naming 600 alerts is a few statements, not 600."""
        now = utcnow()
        async with self._store.transaction() as db:
            row = await db.row(
                """INSERT INTO sends (user_id, chat_id, msisdn, sender, text, encoding, parts, state, locale,
                                      created_at, updated_at, claimed_at, recipient_name, recipient_via)
                   VALUES (?, ?, ?, ?, ?, ?, ?, 'sending', NULL, ?, ?, ?, ?, ?) RETURNING *""",
                (
                    ESCALATION_USER,
                    chat_id,
                    items[0].msisdn,
                    sender,
                    text,
                    encoding,
                    parts,
                    now,
                    now,
                    now,
                    who.get("name"),
                    who.get("via"),
                ),
            )
            assert row is not None
            ids = sorted({item.group_id for item in items})
            marks = ",".join("?" * len(ids))
            live = await db.rows(
                f"""SELECT id, fired_at FROM alert_groups
                    WHERE id IN ({marks}) AND status = 'firing' AND taken_by IS NULL""",  # noqa: S608 - marks only
                ids,
            )
            firing = {(int(r[0]), r[1]) for r in live}
            if any((item.group_id, item.fired_at) not in firing for item in items):
                raise Conflict(items)
            for start in range(0, len(items), CHUNK):
                chunk = items[start : start + CHUNK]
                values = ",".join("(?, ?, ?, ?, ?, ?, ?)" for _ in chunk)
                params = [
                    value
                    for i in chunk
                    for value in (i.group_id, i.fired_at, i.step, i.msisdn, i.due_at, row["id"], at)
                ]
                written = await db.rows(
                    f"""INSERT INTO escalation_sends (group_id, fired_at, step, msisdn, due_at, send_id, recorded_at)
                        VALUES {values} ON CONFLICT DO NOTHING RETURNING group_id""",  # noqa: S608 - marks only
                    params,
                )
                if len(written) != len(chunk):
                    raise Conflict(chunk)
        return SendRow(**dict(row))

    # --- what the copies show --------------------------------------------------------------------------
    async def of_group(self, group_id: int, fired_at: int | None) -> list[AutoSms]:
        """The auto-SMS of this firing of the group, in order (one per send: a bundle names several groups)."""
        if fired_at is None:
            return []
        rows = await self._store.rows(
            """SELECT e.step AS esc_step, s.* FROM escalation_sends AS e JOIN sends AS s ON s.id = e.send_id
               WHERE e.group_id = ? AND e.fired_at = ? ORDER BY s.id""",
            (group_id, fired_at),
        )
        out: list[AutoSms] = []
        for r in rows:
            data = dict(r)
            step = int(data.pop("esc_step"))
            out.append(AutoSms(step, SendRow(**data)))
        return out

    async def sends_since(self, since: int) -> list[int]:
        """The auto-SMS recorded since `since` (epoch seconds)."""
        rows = await self._store.rows("SELECT DISTINCT send_id FROM escalation_sends WHERE recorded_at >= ?", (since,))
        return [int(row[0]) for row in rows]

    async def groups_of_send(self, send_id: int) -> list[int]:
        rows = await self._store.rows(
            "SELECT DISTINCT group_id FROM escalation_sends WHERE send_id = ? ORDER BY group_id", (send_id,)
        )
        return [int(r[0]) for r in rows]

    async def is_auto(self, send_id: int) -> bool:
        found = await self._store.scalar("SELECT 1 FROM escalation_sends WHERE send_id = ? LIMIT 1", (send_id,))
        return found is not None

    async def want_groups(self, group_ids: Sequence[int]) -> None:
        """These groups' messages are to be drawn again (an auto-SMS went out or got its result)."""
        if not group_ids:
            return
        marks = ",".join("?" * len(group_ids))
        await self._store.rows(
            f"UPDATE alert_groups SET wanted_at = ? WHERE id IN ({marks})",  # noqa: S608 - marks only
            (f"{utcnow()}#esc{time.monotonic_ns()}", *group_ids),
        )
