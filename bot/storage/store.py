"""The one connection and its one lock, shared by every repository.

All statements run under one asyncio lock: aiosqlite serialises them on its thread anyway, and the lock keeps a
multi-statement transaction of one coroutine from swallowing another coroutine's statements.

Every statement is one trip to aiosqlite's thread (`execute_fetchall`: execute, fetch, close in one go), not
three: under load every trip waits for the GIL. Writes that change a row end in `RETURNING`, so the caller gets
the row it wrote without a second trip to read it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite

Row = aiosqlite.Row


class StorageError(Exception):
    """The database cannot be used (newer schema, unreadable file, ...); the message is one plain line."""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Statements:
    """Runs statements on the connection; the caller holds the lock (see `Store`)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def row(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.rows(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self.rows(sql, params)
        return rows[0][0] if rows else None


class Store:
    """The connection, its lock, and one-statement helpers that take the lock for that statement."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.lock = asyncio.Lock()
        self._unlocked = Statements(conn)

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self.lock:
            return await self._unlocked.rows(sql, params)

    async def row(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self.lock:
            return await self._unlocked.row(sql, params)

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self.lock:
            return await self._unlocked.scalar(sql, params)

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[Statements]:
        """Several statements with nothing of another coroutine in between (each still commits on its own)."""
        async with self.lock:
            yield self._unlocked

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """Several statements that commit together or not at all."""
        async with self.lock:
            await self._unlocked.rows("BEGIN IMMEDIATE")
            try:
                yield self._unlocked
            except BaseException:
                await self._unlocked.rows("ROLLBACK")
                raise
            await self._unlocked.rows("COMMIT")
