"""Small named values that must survive a restart (e.g. that the admins were warned of a low balance)."""

from __future__ import annotations

from bot.storage.store import Store


class KvRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        # Read after every accepted send, so kept in memory: filled under the lock, set after this repository's
        # own writes. On SQLite the bot is the only writer of `kv` while it runs; on PostgreSQL other replicas
        # write it too (the low-balance mark cleared there), so every read goes to the database.
        self._values: dict[str, str | None] = {}
        self._shared = store.dialect.postgres

    async def get(self, key: str) -> str | None:
        if key in self._values and not self._shared:
            return self._values[key]
        async with self._store.locked() as db:
            value = await db.scalar("SELECT value FROM kv WHERE key = ?", (key,))
            self._values[key] = None if value is None else str(value)
        return self._values[key]

    async def set(self, key: str, value: str | None) -> None:
        """Store `value` under `key`; None deletes it."""
        if value is None:
            await self._store.rows("DELETE FROM kv WHERE key = ?", (key,))
        else:
            await self._store.rows(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        self._values[key] = value

    async def claim(self, key: str, value: str) -> bool:
        """Store `value` under `key` only if nothing is stored there yet: True for the one caller (of every
        replica) that did. A mark written before the admins are told, so that they are told once."""
        row = await self._store.row(
            "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING RETURNING key", (key, value)
        )
        if row is not None:
            self._values[key] = value
        return row is not None
