"""Recent Telegram update_ids, so that an update delivered twice (a webhook retry, polling after a restart that
came before the offset was confirmed) is handled once. Kept in the database: a restart does not forget them.

Group commit. The guarantee: an update's id is committed to the database before any effect of handling it (the
caller awaits `first_sight` first), so a redelivered update is never handled twice, and a crash loses no update
Telegram will not deliver again. It is paid for once per batch, not once per update: ids that arrive while a
write is in flight wait for it to end and then go in one multi-row INSERT, one statement and one commit (one
fsync) for all of them; each caller is released when the statement holding its id has committed. A lone update
waits for nothing but its own statement. If the statement fails, every caller of that batch gets the error (the
middleware answers them as before).
"""

from __future__ import annotations

import asyncio

from bot.storage.store import Store, utcnow

KEEP = 10_000  # update_ids remembered; older ones are forgotten (Telegram redelivers only recent ones)
PRUNE_EVERY = 1_000  # first sightings between two prunings
BATCH_MAX = 200  # ids in one INSERT (two parameters each: well below SQLite's and PostgreSQL's limits)


class UpdatesRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._since_prune = 0
        self._waiting: list[tuple[int, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Statements written and ids they carried (a test reads them: fewer statements than updates).
        self.statements = 0

    async def first_sight(self, update_id: int) -> bool:
        """True the first time this update_id is seen (and it is remembered, committed), False for a redelivery."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((update_id, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await asyncio.shield(future)

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:BATCH_MAX], self._waiting[BATCH_MAX:]
            try:
                firsts = await self._insert([update_id for update_id, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for update_id, future in batch:
                if not future.done():
                    future.set_result(update_id in firsts)
                firsts.discard(update_id)  # the same id twice in one batch: the second is a redelivery

    async def _insert(self, update_ids: list[int]) -> set[int]:
        now = utcnow()
        marks = ", ".join(["(?, ?)"] * len(update_ids))
        params = [value for update_id in update_ids for value in (update_id, now)]
        rows = await self._store.rows(
            f"INSERT INTO seen_updates (update_id, seen_at) VALUES {marks} "  # noqa: S608 — placeholders only
            "ON CONFLICT DO NOTHING RETURNING update_id",
            params,
        )
        self.statements += 1
        firsts = {int(row[0]) for row in rows}
        self._since_prune += len(firsts)
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            await self._store.rows(
                "DELETE FROM seen_updates WHERE update_id NOT IN "
                "(SELECT update_id FROM seen_updates ORDER BY update_id DESC LIMIT ?)",
                (KEEP,),
            )
        return firsts
