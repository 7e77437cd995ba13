"""The team feed's lines (TEAM_CHAT_ID): one per send (or batch), with the message that shows it there.

`wanted_at` says the line must be drawn again from the send's current state (set at every change, cleared by
the drawing that saw that change): a change that comes while the line is being drawn is never lost, and lines
owed when the bot stopped are drawn at the next start.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage.store import Store, utcnow
from bot.times import Epoch


@dataclass(frozen=True, slots=True)
class FeedLine:
    id: int
    kind: str  # "send" | "batch"
    ref: str  # the send's (or batch's) id
    chat_id: int
    message_id: int | None
    shown: str | None
    wanted_at: str | None
    created_at: Epoch


class FeedRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._tick = 0  # tells two changes within one second apart (wanted_at is compared, not ordered)

    async def want(self, kind: str, ref: str, chat_id: int) -> FeedLine:
        """The line of `kind`/`ref` in `chat_id` must be drawn (again)."""
        now = utcnow()
        self._tick += 1
        row = await self._store.row(
            """INSERT INTO feed_lines (kind, ref, chat_id, wanted_at, created_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (kind, ref, chat_id) DO UPDATE SET wanted_at = excluded.wanted_at RETURNING *""",
            (kind, ref, chat_id, f"{now}#{self._tick}", now),
        )
        assert row is not None
        return FeedLine(**dict(row))

    async def get(self, line_id: int) -> FeedLine | None:
        row = await self._store.row("SELECT * FROM feed_lines WHERE id = ?", (line_id,))
        return FeedLine(**dict(row)) if row is not None else None

    async def wanted(self, limit: int = 500) -> list[FeedLine]:
        rows = await self._store.rows(
            "SELECT * FROM feed_lines WHERE wanted_at IS NOT NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [FeedLine(**dict(r)) for r in rows]

    async def drawn(self, line: FeedLine, message_id: int, text: str) -> None:
        """`line` (as read before drawing) now shows `text` in `message_id`; still wanted if it changed since."""
        await self._store.rows(
            """UPDATE feed_lines SET message_id = ?, shown = ?,
                      wanted_at = CASE WHEN wanted_at IS NOT DISTINCT FROM ? THEN NULL ELSE wanted_at END
                WHERE id = ?""",
            (message_id, text, line.wanted_at, line.id),
        )

    async def done(self, line: FeedLine) -> None:
        """Nothing to draw for `line` as read (it already shows it, or cannot be drawn)."""
        await self._store.rows(
            "UPDATE feed_lines SET wanted_at = NULL WHERE id = ? AND wanted_at IS NOT DISTINCT FROM ?",
            (line.id, line.wanted_at),
        )
