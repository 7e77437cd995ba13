"""Small named values that must survive a restart (e.g. that the admins were warned of a low balance)."""

from __future__ import annotations

from bot.storage.store import Store


class KvRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, key: str) -> str | None:
        value = await self._store.scalar("SELECT value FROM kv WHERE key = ?", (key,))
        return None if value is None else str(value)

    async def set(self, key: str, value: str | None) -> None:
        """Store `value` under `key`; None deletes it."""
        if value is None:
            await self._store.rows("DELETE FROM kv WHERE key = ?", (key,))
        else:
            await self._store.rows("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))
