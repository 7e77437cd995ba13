"""The guided steps' state (aiogram FSM) in the bot's SQLite database, so that a step survives a restart: an
operator who gave the number before it is asked for the text after it.

`FsmRepository` (`db.fsm`) stores one row per aiogram storage key: the state's name and its data as JSON.
`SqliteStorage` is the aiogram `BaseStorage` over it, used by the Dispatcher (bot/app.py).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from bot.storage.store import Store, utcnow
from bot.times import Epoch

EMPTY = "{}"
CACHED = 1024  # guided steps remembered in memory, the most recently used; the rest are read again when needed
MAX_STATE_BYTES = 256 * 1024  # one guided step's data as JSON; what the handlers keep stays well below it


class StateTooLarge(ValueError):
    """A guided step's data over MAX_STATE_BYTES: refused rather than written (and decoded at every update)."""


def key_text(key: StorageKey) -> str:
    return f"{key.bot_id}:{key.chat_id}:{key.user_id}:{key.thread_id}:{key.business_connection_id}:{key.destiny}"


class FsmRepository:
    """Read on every update of an operator (the state filters), so kept in memory once read, like `kv`: on SQLite
    the bot is the only writer of `fsm_states` while it runs; on PostgreSQL `Freshness` (db.freshness) forgets the
    cache at the first update after another replica wrote a step. The cache holds the CACHED most recently used keys (only
    operators reach it: the Dispatcher's FSM middleware runs after the access gate, bot/app.py). A write that
    changes nothing is not made; one that leaves nothing to remember deletes the row. Every change is one
    statement."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cache: OrderedDict[str, tuple[str | None, str]] = OrderedDict()  # key -> (state, data as JSON)

    def _remember(self, key: str, value: tuple[str | None, str]) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > CACHED:
            self._cache.popitem(last=False)

    async def _load(self, key: str) -> tuple[str | None, str]:
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        async with self._store.locked() as db:
            found = self._cache.get(key)
            if found is not None:  # read by another update while this one waited for the lock
                return found
            row = await db.row("SELECT state, data FROM fsm_states WHERE key = ?", (key,))
            found = (None, EMPTY) if row is None else (row["state"], str(row["data"]))
            self._remember(key, found)
        return found

    def forget_all(self) -> None:
        """Read every step afresh from now on (PostgreSQL: another session wrote these rows; bot/storage/freshness.py)."""
        self._cache.clear()

    async def get(self, key: str) -> tuple[str | None, dict[str, Any]]:
        state, data = await self._load(key)
        value = json.loads(data)
        return state, value if isinstance(value, dict) else {}

    async def state(self, key: str) -> str | None:
        """The step alone (read at every update by the FSM middleware: its data is not decoded for it)."""
        return (await self._load(key))[0]

    async def changed_at(self, key: str) -> Epoch | None:
        """When the step of `key` last changed (epoch seconds); None when nothing is stored."""
        at = await self._store.scalar("SELECT updated_at FROM fsm_states WHERE key = ?", (key,))
        return None if at is None else int(at)

    async def set_state(self, key: str, state: str | None) -> None:
        await self._write(key, state, (await self._load(key))[1])

    async def set_data(self, key: str, data: Mapping[str, Any]) -> None:
        text = json.dumps(dict(data), ensure_ascii=False, sort_keys=True) if data else EMPTY
        if len(text.encode()) > MAX_STATE_BYTES:
            raise StateTooLarge(f"a guided step's data of {len(text.encode())} bytes (at most {MAX_STATE_BYTES})")
        await self._write(key, (await self._load(key))[0], text)

    async def forget_older_than(self, cutoff: Epoch) -> int:
        """Guided steps left untouched since before `cutoff` (epoch seconds) are forgotten, with the text they kept
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
        self._remember(key, (state, data))


class SqliteStorage(BaseStorage):
    def __init__(self, repository: FsmRepository) -> None:
        self.repository = repository

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state.state if isinstance(state, State) else state
        await self.repository.set_state(key_text(key), name)

    async def get_state(self, key: StorageKey) -> str | None:
        return await self.repository.state(key_text(key))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self.repository.set_data(key_text(key), data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self.repository.get(key_text(key)))[1]

    async def close(self) -> None:
        """The database is the App's to close."""
