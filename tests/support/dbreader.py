"""The crash trials' view of the bot's database, on either engine, read beside the bot (a connection of its own):
sqlite3 on the SQLite file, or one asyncpg connection for PostgreSQL, kept open for the whole trial set and driven
from a thread of its own (so it is callable, synchronously, from the test's running event loop, like sqlite3).

`at_rest()` is what "the process is dead" means for each engine: a SQLite file whose writer died is at rest at
once (`PRAGMA integrity_check` then says whether it is sound); a PostgreSQL server may still be ending the dead
bot's session (a COMMIT already in the socket still lands), so it waits until the server has no session of the
bot left in the database, then checks the B-tree indexes with amcheck (where the server has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bot.storage.dialect import numbered

T = TypeVar("T")
Row = dict[str, Any]
Query = tuple[str, Sequence[Any]]


class Reader:
    """`rows(sql, params)`: one statement; `together(queries)`: several in one transaction (one moment of a
    running bot); `at_rest()`: the engine's integrity word once a bot was killed ("ok" when sound). SQL is written
    with `?` placeholders, as the bot's own."""

    def __init__(self, db_path: Path, url: str | None = None) -> None:
        self.db_path = Path(db_path)
        self.url = url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._amcheck: bool | None = None

    @property
    def engine(self) -> str:
        return "sqlite" if self.url is None else "postgresql"

    def __repr__(self) -> str:
        return f"Reader({self.engine})"

    # --- reading ---------------------------------------------------------------------------------------------
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.together([(sql, params)])[0]

    def together(self, queries: Sequence[Query]) -> list[list[Row]]:
        if self.url is None:
            with contextlib.closing(sqlite3.connect(self.db_path, timeout=10, isolation_level=None)) as conn:
                conn.row_factory = sqlite3.Row
                conn.execute("BEGIN")
                try:
                    return [[dict(r) for r in conn.execute(sql, tuple(params))] for sql, params in queries]
                finally:
                    conn.execute("COMMIT")
        return self._run(self._pg_together(queries))

    async def _pg_together(self, queries: Sequence[Query]) -> list[list[Row]]:
        conn = await self._pg()
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return [[dict(r) for r in await conn.fetch(numbered(sql), *params)] for sql, params in queries]

    # --- after a kill ------------------------------------------------------------------------------------------
    def at_rest(self, timeout: float = 15.0) -> str:
        """ "ok" when the database is sound with no bot connected, else what is wrong."""
        if self.url is None:
            with contextlib.closing(sqlite3.connect(self.db_path, timeout=10)) as conn:
                return "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))
        return self._run(self._pg_at_rest(timeout))

    async def _pg_at_rest(self, timeout: float) -> str:
        conn = await self._pg()
        others = """SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""
        deadline = time.monotonic() + timeout
        while (left := await conn.fetchval(others)) > 0:
            if time.monotonic() > deadline:
                return f"{left} session(s) of a killed bot still open after {timeout:g} s"
            await asyncio.sleep(0.005)
        if self._amcheck is None:
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
                self._amcheck = True
            except Exception:  # no contrib on this server: the sessions' end is the check
                self._amcheck = False
        if not self._amcheck:
            return "ok"
        indexes = await conn.fetch(
            """SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE a.amname = 'btree' AND n.nspname = 'public' AND i.indisvalid"""
        )
        broken = []
        for index in indexes:
            try:
                await conn.execute("SELECT bt_index_check($1::oid::regclass, true)", index["oid"])
            except Exception as exc:
                broken.append(f"{index['relname']}: {exc}")
        return "; ".join(broken) or "ok"

    def engine_used(self) -> str | None:
        """Why the bot did not run on this reader's engine (None: it did): on PostgreSQL it must not have made a
        SQLite file."""
        if self.url is not None and self.db_path.exists():
            return f"DATABASE_URL was set, yet the bot wrote {self.db_path}"
        return None

    # --- the PostgreSQL connection, on its own thread ----------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="db-reader", daemon=True)
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    async def _pg(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.url, timeout=10, server_settings={"application_name": "crash-trials-reader"}
            )
        return self._conn

    def close(self) -> None:
        if self._loop is None:
            return
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._run(self._conn.close(timeout=5))
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None
        self._conn = None


def reader(where: Reader | Path) -> Reader:
    """A Reader as is; a SQLite file's path as a Reader of it."""
    return where if isinstance(where, Reader) else Reader(where)
