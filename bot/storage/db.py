"""Storage: one connection, migrations at open; the tables are reached through repositories.

Two engines: SQLite, one file (`DATABASE_PATH`, the default), or PostgreSQL (`DATABASE_URL=postgresql://…`,
bot/storage/postgres.py). `Database` holds the connection, its lifecycle and the migrations. Every repository
shares the one connection and its one asyncio lock (`bot.storage.store`), whichever the engine:

- `db.people`: people and operators (cached in memory: the access gate reads them on every update);
- `db.access`: access requests, the admins' decisions, the audit log;
- `db.sends`: the send log and its state changes, the owed outcomes;
- `db.tracking`: the delivery-tracking queue and the owed delivery notices;
- `db.kv`: small named values;
- `db.updates`: recent Telegram update_ids (a redelivered update is handled once).
- `db.fsm`: the guided steps' state (aiogram FSM).
- `db.templates`: the team's saved SMS texts (`#name` in /send).
- `db.feed`, `db.alerts`: the team feed's lines; alert groups and the messages they were posted in.
- `db.results`: recent SMS to a number (the duplicate guard) and the watchdog's notices (issue 17).
- `db.directory`: the team's contacts, groups and who is on duty.
- `db.batches`: sends to several recipients (one press, one `sends` row per recipient).
- `db.schedule`: duty by schedule — the rotation, its override, the handoff last posted.
- `db.retention`: what the retention sweep forgets, a statement per table.
- `db.freshness`: PostgreSQL: forgets the people and guided-step caches when another replica wrote them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

import aiosqlite

from bot.sms.names import name_key
from bot.storage import epoch_times
from bot.storage.access import AccessRepository
from bot.storage.alert_takes import AlertTakes
from bot.storage.alerts import AlertsRepository
from bot.storage.batches import BatchesRepository
from bot.storage.directory import DirectoryRepository
from bot.storage.escalation import EscalationRepository
from bot.storage.feed import FeedRepository
from bot.storage.freshness import Freshness
from bot.storage.fsm import FsmRepository
from bot.storage.kv import KvRepository
from bot.storage.migrations import LATEST, MIGRATIONS
from bot.storage.people import PeopleRepository
from bot.storage.results import ResultsRepository
from bot.storage.retention import RetentionRepository
from bot.storage.schedule import ScheduleRepository
from bot.storage.sends import SendsRepository
from bot.storage.store import Statements, StorageError, Store
from bot.storage.templates import TemplatesRepository
from bot.storage.tracking import TrackingRepository
from bot.storage.updates import UpdatesRepository

__all__ = ["Database", "StorageError"]

log = logging.getLogger(__name__)


def private(path: Path) -> None:
    """Make an existing database file readable by the bot's user only (0600); a file it may not change is left
    as it is, with a warning."""
    try:
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError as exc:
        log.warning("could not make %s private (0600): %s", path, exc.strerror)


class Database:
    def __init__(self, statements: Statements, path: Path | None = None, url: str | None = None) -> None:
        self.path = path  # SQLite's file; None on PostgreSQL
        self.url = url  # PostgreSQL's DATABASE_URL (a secret: never logged); None on SQLite
        self.statements = statements  # the engine's side (tests watch its statements: `observer`)
        # SQLite's connection (tests reach it to make the file read-only, locked, full); None on PostgreSQL.
        self._conn: aiosqlite.Connection | None = getattr(statements, "conn", None)
        self._store = Store(statements)
        self.dialect = statements.dialect
        self.people = PeopleRepository(self._store)
        self.access = AccessRepository(self._store, self.people)
        self.sends = SendsRepository(self._store)
        self.tracking = TrackingRepository(self._store)
        self.kv = KvRepository(self._store)
        self.updates = UpdatesRepository(self._store)
        self.fsm = FsmRepository(self._store)
        self.templates = TemplatesRepository(self._store)
        self.feed = FeedRepository(self._store)
        self.alerts = AlertsRepository(self._store)
        self.alert_takes = AlertTakes(self._store)
        self.results = ResultsRepository(self._store)
        self.directory = DirectoryRepository(self._store)
        self.batches = BatchesRepository(self._store)
        self.schedule = ScheduleRepository(self._store)
        self.escalation = EscalationRepository(self._store)  # the ladder and its auto-SMS (issue 28)
        self.retention = RetentionRepository(self._store)
        # PostgreSQL: the two caches above forgotten when another session wrote their tables (one read per update).
        self.freshness = Freshness(self._store, (self.people.forget_all, self.fsm.forget_all))

    @classmethod
    async def connect(cls, path: Path | str, url: str | None = None) -> Database:
        """PostgreSQL when `url` (DATABASE_URL) is set, else the SQLite file at `path`."""
        if url:
            return await cls.open_postgres(url)
        return await cls.open(path)

    @classmethod
    async def open_postgres(cls, url: str) -> Database:
        from bot.storage import postgres

        if not postgres.is_postgres_url(url):
            raise StorageError("DATABASE_URL must start with postgresql:// (unset it to use SQLite at DATABASE_PATH)")
        statements = postgres.PgStatements(url, await postgres.connect(url))
        try:
            await postgres.migrate(statements)
            db = cls(statements, url=url)
            await db.freshness.prune()
        except BaseException:
            await statements.close()
            raise
        return db

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        path = Path(path)
        try:
            created = not path.parent.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            if created:  # the send log's folder is the bot's alone, whatever the umask
                path.parent.chmod(0o700)
        except FileExistsError:
            raise StorageError(f"cannot create the database folder {path.parent}: a file has that name") from None
        except OSError as exc:
            raise StorageError(f"cannot create the database folder {path.parent}: {exc.strerror}") from None
        # Tried with the plain sqlite3 module first: when aiosqlite's connect fails, its worker thread outlives
        # the event loop and prints "Event loop is closed" tracebacks after our one clear line.
        try:
            if not path.exists():  # created private, whatever the umask
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            private(path)
            sqlite3.connect(path).close()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database file {path}: {exc}") from None
        except OSError as exc:
            raise StorageError(f"cannot open the database file {path}: {exc.strerror}") from None
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except Exception as exc:
            raise StorageError(f"cannot open the database file {path}: {exc}") from None
        conn.row_factory = aiosqlite.Row
        db = cls(Statements(conn), path)
        try:
            await db._prepare(conn, path)
        except BaseException:
            await conn.close()
            raise
        return db

    async def _prepare(self, conn: aiosqlite.Connection, path: Path) -> None:
        # Migration 15 folds stored names again with the Python fold (SQLite's own folds ASCII only).
        await conn.create_function("name_fold", 1, name_key, deterministic=True)
        # Migration 18 reads ISO times with Python's reader (any offset, 'Z', microseconds).
        await conn.create_function("iso_epoch", 1, epoch_times.iso_epoch, deterministic=True)
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.execute("PRAGMA foreign_keys = ON")
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            version = await self.schema_version()
            for suffix in ("-wal", "-shm", "-journal"):  # SQLite gives new ones the main file's mode
                private(path.with_name(path.name + suffix))
        except aiosqlite.DatabaseError as exc:
            raise StorageError(f"the database file {path} is not usable: {exc}") from None
        if version > LATEST:
            raise StorageError(
                f"the database file {path} has schema version {version}, newer than this bot knows "
                f"({LATEST}); run a newer version of the bot or use another DATABASE_PATH"
            )
        # Foreign keys are off while migrations run (SQLite's way to rebuild a table: a DROP would cascade, a
        # rename would rewrite the children's references); each migration is checked before it commits.
        await conn.execute("PRAGMA foreign_keys = OFF")
        # A new file holds nothing to lose: its schema is written without waiting for the disk after each of the
        # ~20 migrations (a new test database took ~0.2 s of fsyncs). The first commit after them, at the file's
        # own level again, makes all of it durable (an fsync flushes the whole WAL file).
        [(synchronous,)] = await conn.execute_fetchall("PRAGMA synchronous")
        if version == 0:
            await conn.execute("PRAGMA synchronous = OFF")
        for number in range(version + 1, LATEST + 1):
            log.info("applying database migration %d", number)
            text = MIGRATIONS[number - 1]
            if text == epoch_times.MARKER:  # made from this file's schema (bot/storage/epoch_times.py)
                with contextlib.closing(sqlite3.connect(path)) as reader:  # the schema only, before BEGIN
                    text = epoch_times.sqlite_script(reader)
            # executescript commits on its own; the version bump is inside the same script.
            await conn.executescript(f"BEGIN IMMEDIATE;\n{text}\nPRAGMA user_version = {number};\nCOMMIT;")
            broken = list(await conn.execute_fetchall("PRAGMA foreign_key_check"))
            if broken:  # pragma: no cover - a migration's own bug; said, not hidden
                log.warning("database migration %d left %d rows without their parent rows", number, len(broken))
        await conn.execute(f"PRAGMA synchronous = {synchronous}")
        await conn.execute("PRAGMA foreign_keys = ON")

    async def close(self) -> None:
        await self._store.close()

    async def schema_version(self) -> int:
        if self.url is not None:
            from bot.storage import postgres

            assert isinstance(self.statements, postgres.PgStatements)
            async with self._store.locked() as db:
                return await postgres.schema_version(db)  # type: ignore[arg-type]
        return int(await self._store.scalar("PRAGMA user_version"))

    async def ping(self) -> bool:
        try:
            await self._store.scalar("SELECT 1")
        except Exception:
            return False
        return True
