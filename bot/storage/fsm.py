"""The guided steps' state (aiogram FSM) in the bot's SQLite database, so that a step survives a restart: an
operator who gave the number before it is asked for the text after it.

`FsmRepository` (`db.fsm`) stores one row per aiogram storage key: the state's name and its data as JSON.
`SqliteStorage` is the aiogram `BaseStorage` over it, used by the Dispatcher (bot/app.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from bot.storage.store import Store, utcnow

EMPTY = "{}"


def key_text(key: StorageKey) -> str:
    return ":".join(
        str(part)
        for part in (key.bot_id, key.chat_id, key.user_id, key.thread_id, key.business_connection_id, key.destiny)
    )


class FsmRepository:
    """Read on every update (the state filters), so kept in memory once read, like `kv`: the bot is the only
    writer of `fsm_states` while it runs. A write that changes nothing is not made; one that leaves nothing to
    remember deletes the row. Every change is one statement."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: dict[str, tuple[str | None, str]] = {}  # key -> (state, data as JSON)

    async def _load(self, key: str) -> tuple[str | None, str]:
        if key not in self._cache:
            async with self._store.locked() as db:
                row = await db.row("SELECT state, data FROM fsm_states WHERE key = ?", (key,))
                self._cache[key] = (None, EMPTY) if row is None else (row["state"], str(row["data"]))
        return self._cache[key]

    async def get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        state, data = await self._load(key)
        value = json.loads(data)
        return state, value if isinstance(value, dict) else {}

    async def set_state(self, key: str, state: str | None) -> None:
        await self._write(key, state, (await self._load(key))[1])

    async def set_data(self, key: str, data: Mapping[str, Any]) -> None:
        text = json.dumps(dict(data), ensure_ascii=False, sort_keys=True) if data else EMPTY
        await self._write(key, (await self._load(key))[0], text)

    async def forget_older_than(self, cutoff: str) -> int:
        """Guided steps left untouched since before `cutoff` (ISO UTC) are forgotten, with the text they kept
        (RETENTION_DAYS; bot/services/retention.py). Returns how many."""
        rows = await self._store.rows("DELETE FROM fsm_states WHERE updated_at < ? RETURNING key", (cutoff,))
        for row in rows:
            self._cache.pop(str(row[0]), None)
        return len(rows)

    async def _write(self, key: str, state: str | None, data: str) -> None:
        if self._cache.get(key) == (state, data):
            return
        if state is None and data == EMPTY:
            await self._store.rows("DELETE FROM fsm_states WHERE key = ?", (key,))
        else:
            await self._store.rows(
                """INSERT INTO fsm_states (key, state, data, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET state = excluded.state, data = excluded.data,
                     updated_at = excluded.updated_at""",
                (key, state, data, utcnow()),
            )
        self._cache[key] = (state, data)


class SqliteStorage(BaseStorage):
    def __init__(self, repository: FsmRepository) -> None:
        self.repository = repository

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        await self.repository.set_state(key_text(key), name)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self.repository.get(key_text(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self.repository.set_data(key_text(key), data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self.repository.get(key_text(key)))[1]

    async def close(self) -> None:
        """The database is the App's to close."""
