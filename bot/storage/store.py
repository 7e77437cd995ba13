"""The one connection and its one lock, shared by every repository, on either engine.

All statements run under one asyncio lock: aiosqlite serialises them on its thread anyway (and a PostgreSQL
connection runs one statement at a time), and the lock keeps a multi-statement transaction of one coroutine from
swallowing another coroutine's statements.

Every statement is one trip (`execute_fetchall` on SQLite: execute, fetch, close in one go; one extended-protocol
round trip on PostgreSQL), not three. Writes that change a row end in `RETURNING`, so the caller gets the row it
wrote without a second trip to read it back.

The repositories write SQL once, with `?` placeholders; `Statements` is the engine's side of it (SQLite here,
PostgreSQL in bot/storage/postgres.py, the differences in bot/storage/dialect.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite

from bot.storage.dialect import SQLITE, Dialect
from bot.times import Epoch, now

#: A row as a repository sees it: sqlite3.Row or asyncpg.Record. Both index by position and by column name,
#: iterate over their values, slice, and turn into a dict with `dict(row)`.
Row = Any


class StorageError(Exception):
    """The database cannot be used (newer schema, unreadable file, ...); the message is one plain line."""


class DatabaseError(sqlite3.DatabaseError):
    """A statement failed on PostgreSQL. A subclass of sqlite3's, so that every place that answers a database
    failure (the error router, the redelivery guard, the access gate, POST /alerts) serves both engines. The
    message never carries the database password."""


class DatabaseUnavailable(DatabaseError):
    """The database server is not answering (connection lost, refused, timed out); the store reconnects by itself
    at the next statement."""


def utcnow() -> Epoch:
    """Now, as every time column stores it: whole epoch seconds (bot.times)."""
    return now()


class Statements:
    """Runs statements on the connection; the caller holds the lock (see `Store`)."""

    dialect: Dialect = SQLITE
    #: Called with each statement's text before it runs (tests count the round trips of a send with it).
    observer: Callable[[str], None] | None = None

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if self.observer is not None:
            self.observer(sql)
        return list(await self.conn.execute_fetchall(sql, params))

    async def row(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.rows(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self.rows(sql, params)
        return rows[0][0] if rows else None

    async def begin(self, serialise: int | None = None) -> None:
        """Opens a transaction; with `serialise`, one that takes its turn on that key (see `serialise`)."""
        await self.rows("BEGIN IMMEDIATE")  # one writer at a time: nothing below needs a lock of its own

    async def commit(self) -> None:
        await self.rows("COMMIT")

    async def rollback(self) -> None:
        await self.rows("ROLLBACK")

    async def serialise(self, key: int) -> None:
        """Inside a transaction: transactions that serialise on the same `key` (e.g. an operator's id, for the
        spend limits) run one after the other, across processes. BEGIN IMMEDIATE does it already on SQLite."""

    async def close(self) -> None:
        await self.conn.close()


class Store:
    """The connection, its lock, and one-statement helpers that take the lock for that statement."""

    def __init__(self, statements: Statements) -> None:
        self.lock = asyncio.Lock()
        self._unlocked = statements
        self.dialect = statements.dialect

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
    async def transaction(self, serialise: int | None = None) -> AsyncIterator[Statements]:
        """Several statements that commit together or not at all; with `serialise`, transactions on the same key
        run one after the other, across processes (`Statements.serialise`, taken with the BEGIN in one trip)."""
        async with self.lock:
            await self._unlocked.begin(serialise)
            try:
                yield self._unlocked
            except BaseException:
                await self._unlocked.rollback()
                raise
            await self._unlocked.commit()

    async def close(self) -> None:
        async with self.lock:
            await self._unlocked.close()
