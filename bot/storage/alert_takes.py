"""✋ I'm on it: who took an alert group (`alert_groups.taken_by`, `taken_at` in epoch seconds) and letting it go.

The first press wins in one statement (`... WHERE taken_by IS NULL`), so two operators pressing at once never both
take it. Each take and let-go is audited, and marks the group wanted so that every copy is brought up to date by
the alert dispatcher (the chat queue, Telegram's pace)."""

from __future__ import annotations

import itertools

from bot import times
from bot.storage.alerts import AlertRow
from bot.storage.store import Store, utcnow

_ticks = itertools.count(1)


class AlertTakes:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def take(self, group_id: int, user_id: int) -> AlertRow | None:
        """`user_id` takes the firing group nobody holds; None when it is not to be taken (held, resolved, gone)."""
        at = utcnow()
        async with self._store.transaction() as db:
            row = await db.row(
                """UPDATE alert_groups SET taken_by = ?, taken_at = ?, wanted_at = ?
                   WHERE id = ? AND status = 'firing' AND taken_by IS NULL RETURNING *""",
                (user_id, times.now(), f"{at}#take{next(_ticks)}", group_id),
            )
            if row is not None:
                await db.rows(
                    "INSERT INTO audit_log (at, actor_id, action, target_id) VALUES (?, ?, ?, ?)",
                    (at, user_id, "alert_take", group_id),
                )
        return AlertRow(**dict(row)) if row is not None else None

    async def let_go(self, group_id: int, user_id: int) -> AlertRow | None:
        """`user_id` lets go of the group they hold; None when they do not hold it."""
        at = utcnow()
        async with self._store.transaction() as db:
            row = await db.row(
                """UPDATE alert_groups SET taken_by = NULL, taken_at = NULL, wanted_at = ?
                   WHERE id = ? AND taken_by = ? RETURNING *""",
                (f"{at}#letgo{next(_ticks)}", group_id, user_id),
            )
            if row is not None:
                await db.rows(
                    "INSERT INTO audit_log (at, actor_id, action, target_id) VALUES (?, ?, ?, ?)",
                    (at, user_id, "alert_let_go", group_id),
                )
        return AlertRow(**dict(row)) if row is not None else None
