"""The delivery-tracking queue (one `tracking` row per accepted SMS not final yet) and owed delivery notices.

A send whose tracking ended carries `notice_owed_at` until its operator was told (`notice_given`), so a notice
decided before a crash or a stop still goes out at the next start.
"""

from __future__ import annotations

from dataclasses import fields

from bot.storage.models import SendRow, TrackingRow
from bot.storage.store import Store, utcnow

_TRACKING = ", ".join(f"t.{f.name}" for f in fields(TrackingRow))
_SEND = ", ".join(f"s.{f.name}" for f in fields(SendRow))
_SPLIT = len(fields(TrackingRow))


class TrackingRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def due(self, now: float, limit: int) -> list[tuple[TrackingRow, SendRow]]:
        """The queue rows whose check time has come, earliest first, each with its send (one read for both)."""
        rows = await self._store.rows(
            f"""SELECT {_TRACKING}, {_SEND} FROM tracking t JOIN sends s ON s.id = t.send_id
                WHERE t.next_check_at <= ? ORDER BY t.next_check_at LIMIT ?""",  # noqa: S608
            (now, limit),
        )
        return [(TrackingRow(*r[:_SPLIT]), SendRow(*r[_SPLIT:])) for r in rows]

    async def next_time(self) -> float | None:
        value = await self._store.scalar("SELECT MIN(next_check_at) FROM tracking")
        return None if value is None else float(value)

    async def depth(self) -> int:
        return int(await self._store.scalar("SELECT COUNT(*) FROM tracking"))

    async def first_due(self) -> float | None:
        """When the earliest delivery-status check is due (epoch seconds), or None when nothing is tracked."""
        due = await self._store.scalar("SELECT MIN(next_check_at) FROM tracking")
        return None if due is None else float(due)

    async def reschedule(
        self, send: SendRow, *, next_check_at: float, interval: float, status: tuple[int, str] | None
    ) -> None:
        """The next check of `send` (as `due` read it); its status is written only when it changed."""
        changed = status is not None and status != (send.status_code, send.status_name)
        if not changed:
            await self._store.rows(
                "UPDATE tracking SET next_check_at = ?, interval = ?, attempts = attempts + 1 WHERE send_id = ?",
                (next_check_at, interval, send.id),
            )
            return
        assert status is not None
        async with self._store.transaction() as db:
            await db.rows(
                "UPDATE tracking SET next_check_at = ?, interval = ?, attempts = attempts + 1 WHERE send_id = ?",
                (next_check_at, interval, send.id),
            )
            await db.rows(
                "UPDATE sends SET status_code = ?, status_name = ?, updated_at = ? WHERE id = ?",
                (status[0], status[1], utcnow(), send.id),
            )

    async def finish(
        self, send_id: int, *, status: tuple[int, str] | None, final: bool, notice_owed: bool = False
    ) -> SendRow | None:
        """Stop tracking: a final status (final=True) or the tracking window ran out (final=False); returns the
        send as written (None when there is none). `notice_owed`: the operator is still to be told; it stays owed
        (`owed_notices`) until `notice_given`."""
        now = utcnow()
        owed = now if notice_owed else None
        async with self._store.transaction() as db:
            if status is not None:
                row = await db.row(
                    """UPDATE sends SET status_code = ?, status_name = ?, final = ?, final_at = ?, updated_at = ?,
                         notice_owed_at = COALESCE(?, notice_owed_at)
                       WHERE id = ? RETURNING *""",
                    (status[0], status[1], int(final), now, now, owed, send_id),
                )
            else:
                row = await db.row(
                    """UPDATE sends SET final_at = ?, updated_at = ?, notice_owed_at = COALESCE(?, notice_owed_at)
                       WHERE id = ? RETURNING *""",
                    (now, now, owed, send_id),
                )
            await db.rows("DELETE FROM tracking WHERE send_id = ?", (send_id,))
        return None if row is None else SendRow(**dict(row))

    async def owed_notices(self) -> list[SendRow]:
        """Sends whose tracking ended but whose operator was not told yet (a crash or a stop came first)."""
        rows = await self._store.rows("SELECT * FROM sends WHERE notice_owed_at IS NOT NULL ORDER BY id")
        return [SendRow(**dict(r)) for r in rows]

    async def notice_given(self, send_id: int) -> None:
        await self._store.rows("UPDATE sends SET notice_owed_at = NULL WHERE id = ?", (send_id,))
