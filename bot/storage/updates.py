"""Recent Telegram update_ids, so that an update delivered twice (a webhook retry, polling after a restart that
came before the offset was confirmed) is handled once. Kept in the database: a restart does not forget them."""

from __future__ import annotations

from bot.storage.store import Store, utcnow

KEEP = 10_000  # update_ids remembered; older ones are forgotten (Telegram redelivers only recent ones)
PRUNE_EVERY = 1_000  # first sightings between two prunings


class UpdatesRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._since_prune = 0

    async def first_sight(self, update_id: int) -> bool:
        """True the first time this update_id is seen (and it is remembered), False for a redelivery."""
        row = await self._store.row(
            "INSERT INTO seen_updates (update_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING update_id",
            (update_id, utcnow()),
        )
        if row is None:
            return False
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            await self._store.rows(
                "DELETE FROM seen_updates WHERE update_id NOT IN "
                "(SELECT update_id FROM seen_updates ORDER BY update_id DESC LIMIT ?)",
                (KEEP,),
            )
        return True
