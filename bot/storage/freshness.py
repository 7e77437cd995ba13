"""PostgreSQL: what a replica keeps in memory of people, operators and guided steps stays true, for one cheap
statement per update.

Other replicas (and anyone with psql) write `people`, `operators` and `fsm_states` too: `/deny` made there must
refuse the next update here, a guided step taken there must go on here. Every write to those tables, whoever
makes it, fires a trigger (migration 21, `POSTGRES_STAMPS`) that stamps the writing session's row of
`cache_writes` (one row per `pg_backend_pid()`) with the next value of a sequence, in the writer's own
transaction: the stamp is visible exactly when the write is. `Freshness.check`, called once per update before
anything of it reads those tables (bot/middlewares/locale.py), reads this session's pid and every other
session's stamp in one statement; when they differ from the last check, the caches are forgotten and the rows
are read again as they are needed.

Why it holds: a foreign write commits with its stamp, so the first check after that commit sees the stamps move
and forgets every entry read before it (an entry is read and kept under the store's lock, in one step; an entry
kept after the check was read after it, so it is at least as new). This process's own writes keep its caches
right already (each updates or drops its entry), so its own stamps are left out (`pid <> pg_backend_pid()`): a
guided flow costs no re-reads on the replica that runs it. A sequence never gives a value twice, so a row that
moved never looks like the one seen before (a pid used again, a row removed and made anew); a new connection (a
new pid) forgets everything once; removing the rows of ended sessions stamps row 0, so a removal is seen too.

SQLite: one process, the only writer; nothing to check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from bot.storage.store import Store

#: Migration 21 on PostgreSQL.
POSTGRES_STAMPS = """
    CREATE SEQUENCE cache_write_stamps;
    -- One row per database session that wrote people, operators or guided steps: the sequence's value at its
    -- latest write. Row 0 is stamped when rows of ended sessions are removed.
    CREATE TABLE cache_writes (
        pid  BIGINT PRIMARY KEY,
        n    BIGINT NOT NULL
    );
    CREATE FUNCTION stamp_cache_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO cache_writes (pid, n) VALUES (pg_backend_pid(), nextval('cache_write_stamps'))
        ON CONFLICT (pid) DO UPDATE SET n = excluded.n;
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER people_stamp AFTER INSERT OR UPDATE OR DELETE ON people
        FOR EACH ROW EXECUTE FUNCTION stamp_cache_write();
    CREATE TRIGGER people_truncate_stamp AFTER TRUNCATE ON people
        FOR EACH STATEMENT EXECUTE FUNCTION stamp_cache_write();
    CREATE TRIGGER operators_stamp AFTER INSERT OR UPDATE OR DELETE ON operators
        FOR EACH ROW EXECUTE FUNCTION stamp_cache_write();
    CREATE TRIGGER operators_truncate_stamp AFTER TRUNCATE ON operators
        FOR EACH STATEMENT EXECUTE FUNCTION stamp_cache_write();
    CREATE TRIGGER fsm_states_stamp AFTER INSERT OR UPDATE OR DELETE ON fsm_states
        FOR EACH ROW EXECUTE FUNCTION stamp_cache_write();
    CREATE TRIGGER fsm_states_truncate_stamp AFTER TRUNCATE ON fsm_states
        FOR EACH STATEMENT EXECUTE FUNCTION stamp_cache_write();
"""

#: This session's pid and the other sessions' stamps, in one row.
STAMPS = (
    "SELECT pg_backend_pid(), (SELECT string_agg(pid || ':' || n, ',' ORDER BY pid) FROM cache_writes "
    "WHERE pid <> pg_backend_pid())"
)

#: Rows of sessions that ended, removed; row 0 stamped in the same statement when any was.
PRUNE = """
    WITH gone AS (
        DELETE FROM cache_writes WHERE pid <> 0 AND pid NOT IN (SELECT pid FROM pg_stat_activity) RETURNING pid
    )
    INSERT INTO cache_writes (pid, n) SELECT 0, nextval('cache_write_stamps') WHERE EXISTS (SELECT 1 FROM gone)
    ON CONFLICT (pid) DO UPDATE SET n = excluded.n
    RETURNING n
"""


class Freshness:
    def __init__(self, store: Store, forget: Sequence[Callable[[], None]]) -> None:
        self._store = store
        self._forget = forget
        self._seen: tuple[int, str | None] | None = None
        self._next: asyncio.Future[None] | None = None  # the check that starts next, and who waits for it
        self._reader: asyncio.Task[None] | None = None
        #: Statements made, and checks that forgot the caches (tests read them).
        self.statements = 0
        self.forgotten = 0

    async def check(self) -> None:
        """Forget the caches when another session wrote people, operators or guided steps since the last check
        (PostgreSQL; nothing on SQLite). Call it before anything of the update reads them.

        Updates that ask while a check is under way share the next one, which starts after they asked (one that
        started before may have read before this update's turn: its chat's lock, say), so a burst costs a
        statement per batch, not per update; a lone update waits for nothing but its own."""
        if not self._store.dialect.postgres:
            return
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())
        await asyncio.shield(self._next)

    async def _read(self) -> None:
        while self._next is not None:
            batch, self._next = self._next, None
            try:
                row = await self._store.row(STAMPS)
            except BaseException as exc:
                if not batch.done():
                    batch.set_exception(exc)
                    batch.exception()  # retrieved here too: nobody may be left waiting for it
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            self.statements += 1
            assert row is not None
            seen = (int(row[0]), row[1])
            # Nothing may run between the statement and the forgetting: no await from here on.
            if seen != self._seen:
                self._seen = seen
                self.forgotten += 1
                for forget in self._forget:
                    forget()
            if not batch.done():
                batch.set_result(None)

    async def prune(self) -> None:
        """Remove the rows of sessions that ended (PostgreSQL, at start-up: each reconnect leaves one)."""
        if self._store.dialect.postgres:
            await self._store.rows(PRUNE)
