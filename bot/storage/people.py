"""People (everyone who wrote to the bot) and operators (who may use it), with an in-memory cache of both."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.storage.models import Operator, Person
from bot.storage.store import Store, utcnow

CACHE_LIMIT = 10_000  # people (and operators) kept in memory; past it the cache starts over


class PeopleRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        # Read on every update by the access gate, so kept in memory: filled under the lock, and dropped by this
        # database's own writes to those rows (inside the lock, or after the write), so a read never returns what
        # a finished write replaced. The access repository writes `operators` too, and drops its entries through
        # `forget_operator(s)`. On PostgreSQL other replicas write these rows as well: `Freshness` (db.freshness)
        # forgets both caches at the first update after another session wrote them.
        self._people: dict[int, Person | None] = {}
        self._operators: dict[int, Operator | None] = {}

    async def _cached(self, cache: dict[int, Any], cls: type[Any], sql: str, user_id: int) -> Any:
        """One row by user id, from `cache` when there (a missing row is cached as None too)."""
        if user_id in cache:
            return cache[user_id]
        async with self._store.locked() as db:
            if user_id in cache:  # read by another update while this one waited for the lock (a burst of one user's)
                return cache[user_id]
            row = await db.row(sql, (user_id,))
            result = None if row is None else cls(**dict(row))
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            cache[user_id] = result
        return result

    def forget_operator(self, user_id: int) -> None:
        self._operators.pop(user_id, None)

    def forget_operators(self) -> None:
        self._operators.clear()

    def forget_all(self) -> None:
        """Read everyone afresh from now on (PostgreSQL: another session wrote these rows; bot/storage/freshness.py)."""
        self._people.clear()
        self._operators.clear()

    # --- people ----------------------------------------------------------------------------------------
    async def touch(self, user_id: int, name: str, username: str | None, last_locale: str | None) -> None:
        await self._store.rows(
            """INSERT INTO people (user_id, name, username, last_locale, last_seen_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(user_id) DO UPDATE SET name = excluded.name, username = excluded.username,
                 last_locale = COALESCE(excluded.last_locale, people.last_locale),
                 last_seen_at = excluded.last_seen_at""",
            (user_id, name, username, last_locale, utcnow()),
        )
        self._people.pop(user_id, None)

    async def get(self, user_id: int) -> Person | None:
        result: Person | None = await self._cached(
            self._people, Person, "SELECT * FROM people WHERE user_id = ?", user_id
        )
        return result

    async def set_locale(self, user_id: int, locale: str) -> None:
        await self._store.rows(
            """INSERT INTO people (user_id, locale) VALUES (?, ?)
               ON CONFLICT(user_id) DO UPDATE SET locale = excluded.locale""",
            (user_id, locale),
        )
        self._people.pop(user_id, None)

    async def locale_for(self, user_id: int) -> str | None:
        """The stored choice, else the language of the last update (for notices the bot sends on its own)."""
        value = await self._store.scalar(
            "SELECT COALESCE(locale, last_locale) FROM people WHERE user_id = ?", (user_id,)
        )
        return value if isinstance(value, str) else None

    async def names(self) -> dict[int, str]:
        """Display names of everyone the bot has seen or admitted."""
        rows = await self._store.rows(
            "SELECT user_id, name FROM operators WHERE name != '' UNION ALL "
            "SELECT user_id, name FROM people WHERE name != ''"
        )
        return {r[0]: r[1] for r in rows}

    # --- operators -------------------------------------------------------------------------------------
    async def operator(self, user_id: int) -> Operator | None:
        """An active operator (or admin), else None."""
        result: Operator | None = await self._cached(
            self._operators, Operator, "SELECT * FROM operators WHERE user_id = ? AND active = 1", user_id
        )
        return result

    async def revoked(self, user_id: int) -> bool:
        """An operator whose access was withdrawn (the gate answers them in words)."""
        found = await self._store.scalar(
            "SELECT 1 FROM operators WHERE user_id = ? AND active = 0 AND role = 'operator'", (user_id,)
        )
        return found is not None

    async def operators(self) -> list[Operator]:
        rows = await self._store.rows(
            "SELECT * FROM operators WHERE active = 1 ORDER BY role = 'operator', added_at, user_id"
        )
        return [Operator(**dict(r)) for r in rows]

    async def sync_admins(self, admin_ids: Iterable[int]) -> None:
        ids = sorted(set(admin_ids))
        now = utcnow()
        async with self._store.transaction() as db:
            self.forget_operators()
            for user_id in ids:
                await db.rows(
                    """INSERT INTO operators (user_id, role, added_at, active) VALUES (?, 'admin', ?, 1)
                       ON CONFLICT(user_id) DO UPDATE SET role = 'admin', active = 1""",
                    (user_id, now),
                )
            marks = ",".join("?" * len(ids))
            # Someone taken out of ADMIN_IDS loses access until an admin allows them again.
            await db.rows(
                f"UPDATE operators SET active = 0 WHERE role = 'admin' AND user_id NOT IN ({marks})",  # noqa: S608
                ids,
            )
