"""The PostgreSQL side of the store (`DATABASE_URL=postgresql://…`), with asyncpg (bench/pg_drivers.py: about
twice as fast as psycopg 3 on the send path's statements).

One connection, like SQLite's: the store's lock keeps a transaction's statements together and each statement is
one round trip. A lost connection is not fatal: the statement that saw it fails with `DatabaseUnavailable` (the
operator is answered in words), and the next one connects again. Every statement and every connection attempt
has a timeout, so a server that stops answering is noticed in seconds, not at TCP's leisure.

The password is never in a message: errors are told by their kind and the server's own words (which do not carry
it), and `redact` takes it out of anything else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import asyncpg

from bot.storage.dialect import POSTGRES, numbered, postgres_ddl
from bot.storage.migrations import LATEST, MIGRATIONS, POSTGRES_MIGRATIONS
from bot.storage.store import DatabaseError, DatabaseUnavailable, Row, Statements, StorageError

T = TypeVar("T")
log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds for one connection attempt
STATEMENT_TIMEOUT = 8.0  # seconds for one statement: with a reconnect, an operator hears within 15 s
RETRY_AFTER = 2.0  # seconds after a failed reconnect during which statements fail at once (no queue of waits)
MIGRATION_LOCK = 0x534D534B  # pg_advisory_lock key: replicas starting together migrate once ("SMSK")

_LOST = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.exceptions._base.InternalClientError,  # e.g. the server ended the connection mid-statement
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and urlsplit(str(url)).scheme in ("postgresql", "postgres")


def redact(text: str, url: str) -> str:
    """`text` with the URL's password (as written and decoded) replaced by ***."""
    password = urlsplit(url).password
    for secret in {password, unquote(password or "")} - {None, ""}:
        assert secret is not None
        text = text.replace(secret, "***")
    return text


def describe(url: str) -> str:
    """The database a URL names, for messages: user@host:port/name, never the password."""
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    return f"{parts.username or ''}@{where}{parts.path or '/'}"


def migration(number: int) -> str:
    return POSTGRES_MIGRATIONS.get(number) or postgres_ddl(MIGRATIONS[number - 1])


class PgStatements(Statements):
    dialect = POSTGRES

    def __init__(self, url: str, conn: asyncpg.Connection | None) -> None:
        self.url = url
        self.pg: asyncpg.Connection | None = conn
        self._in_transaction = False
        self._retry_at = 0.0  # monotonic time before which a reconnect is not tried again

    async def _connection(self) -> asyncpg.Connection:
        if self.pg is not None and not self.pg.is_closed():
            return self.pg
        if self._in_transaction:  # the transaction died with its connection
            raise DatabaseUnavailable("the connection to the database was lost during a transaction")
        if time.monotonic() < self._retry_at:
            raise DatabaseUnavailable("the database is not answering (tried a moment ago)")
        try:
            self.pg = await connect(self.url)
        except StorageError as exc:
            self._retry_at = time.monotonic() + RETRY_AFTER
            log.warning("database not answering: %s", exc)
            raise DatabaseUnavailable(str(exc)) from None
        log.info("connected to the database again")
        return self.pg

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if self.observer is not None:
            self.observer(sql)
        conn = await self._connection()
        return list(await self._answer(conn.fetch(numbered(sql), *params, timeout=STATEMENT_TIMEOUT)))

    async def _script(self, sql: str) -> None:
        """Statements without parameters in one trip (the simple query protocol)."""
        if self.observer is not None:
            self.observer(sql)
        conn = await self._connection()
        await self._answer(conn.execute(sql, timeout=STATEMENT_TIMEOUT))

    async def _answer(self, trip: Awaitable[T]) -> T:
        try:
            return await trip
        except asyncpg.PostgresError as exc:
            if isinstance(exc, _LOST):
                await self._drop()
                raise DatabaseUnavailable(f"the database is not answering: {type(exc).__name__}") from None
            raise DatabaseError(redact(f"{type(exc).__name__}: {exc}", self.url)) from None
        except _LOST as exc:
            await self._drop()
            if isinstance(exc, TimeoutError):  # no answer at all (a partition): the updates queued behind this
                self._retry_at = time.monotonic() + RETRY_AFTER  # one are told at once, not after a connect's wait
            raise DatabaseUnavailable(f"the database is not answering: {type(exc).__name__}") from None

    async def _drop(self) -> None:
        conn, self.pg = self.pg, None
        if conn is not None:
            conn.terminate()

    async def begin(self, serialise: int | None = None) -> None:
        if serialise is None:
            await self.rows("BEGIN")
            self._in_transaction = True
            return
        # BEGIN and the advisory lock in one trip: the claim of a press costs three (this, the claim, COMMIT).
        await self._connection()
        self._in_transaction = True
        try:
            await self._script(f"BEGIN; SELECT pg_advisory_xact_lock({int(serialise)})")
        except BaseException:
            await self.rollback()
            raise

    async def commit(self) -> None:
        try:
            await self.rows("COMMIT")
        finally:
            self._in_transaction = False

    async def rollback(self) -> None:
        self._in_transaction = False
        if self.pg is None or self.pg.is_closed():
            return  # the server rolled it back when the connection went
        try:
            await self.rows("ROLLBACK")
        except DatabaseError as exc:
            log.warning("could not roll back: %s", exc)

    async def serialise(self, key: int) -> None:
        await self.rows("SELECT pg_advisory_xact_lock(CAST(? AS BIGINT))", (key,))

    async def close(self) -> None:
        if self.pg is not None and not self.pg.is_closed():
            try:
                await asyncio.wait_for(self.pg.close(), CONNECT_TIMEOUT)
            except Exception:
                self.pg.terminate()
        self.pg = None


async def connect(url: str) -> asyncpg.Connection:
    """One connection, or StorageError with one line naming what went wrong (never the password)."""
    where = describe(url)
    try:
        return await asyncpg.connect(
            url, timeout=CONNECT_TIMEOUT, command_timeout=STATEMENT_TIMEOUT, statement_cache_size=1000
        )
    except asyncpg.InvalidPasswordError:
        raise StorageError(f"the database {where} refused the password (DATABASE_URL)") from None
    except asyncpg.InvalidCatalogNameError:
        raise StorageError(f"the database {where} does not exist (create it, or fix DATABASE_URL)") from None
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        raise StorageError(redact(f"the database {where} refused the connection: {exc}", url)) from None
    except asyncpg.PostgresError as exc:
        raise StorageError(redact(f"the database {where} refused the connection: {exc}", url)) from None
    except TimeoutError:
        raise StorageError(f"the database {where} did not answer within {CONNECT_TIMEOUT:g} s") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StorageError(f"cannot reach the database {where}: {reason}") from None
    except Exception as exc:  # a malformed URL, an unknown option: asyncpg's own words, the password taken out
        raise StorageError(redact(f"cannot use DATABASE_URL ({where}): {exc}", url)) from None


async def migrate(statements: PgStatements) -> None:
    """Bring the schema to LATEST, once even when several replicas start together (a session advisory lock); a
    newer schema is refused with one line."""
    await statements.rows("SELECT pg_advisory_lock(CAST(? AS BIGINT))", (MIGRATION_LOCK,))
    try:
        await statements.rows("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        version = await statements.scalar("SELECT MAX(version) FROM schema_version")
        version = int(version or 0)
        if version > LATEST:
            raise StorageError(
                f"the database {describe(statements.url)} has schema version {version}, newer than this bot knows "
                f"({LATEST}); run a newer version of the bot or use another DATABASE_URL"
            )
        conn = await statements._connection()
        for number in range(version + 1, LATEST + 1):
            log.info("applying database migration %d", number)
            async with conn.transaction():
                await conn.execute(migration(number))
                await conn.execute("DELETE FROM schema_version")
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
    finally:
        await statements.rows("SELECT pg_advisory_unlock(CAST(? AS BIGINT))", (MIGRATION_LOCK,))


async def schema_version(statements: PgStatements) -> int:
    exists = await statements.scalar("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    return int(await statements.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
