"""Fresh test databases that start migrated: a template made once by the bot's own migrations, then copied.

A test's bot would otherwise migrate every new database from empty (21 migrations: ~50 ms of CPU for a SQLite file,
~0.2 s for a PostgreSQL database). The template is the real result of `Database.connect` on an empty database —
never a hand-written schema — and is named by `schema_key`: a hash of every migration's text and of the code that
applies them, so a changed migration makes a new template and never reuses a stale one.

- SQLite: `sqlite_template(root)` — `template-<key>.sqlite3` in `root` (the test run's shared temporary folder),
  made once per run; `HARNESS_SQLITE_TEMPLATE` names it to the dev kit's Harness and the fast tier's FastBot, which
  copy it into place of a database file that does not exist yet (bot/devkit/harness.py: `from_template`).
- PostgreSQL: `pg_template(server_url)` — a database `tmpl_<key>` on the server, made once per server (under an
  advisory lock: one xdist worker builds it, the others wait) and closed to connections, so that `CREATE DATABASE
  x TEMPLATE tmpl_<key>` never finds anyone connected to it. `datallowconn = false` marks it finished: a
  half-built one (its builder killed) still allows connections and is dropped and built again.

What still starts from empty, on purpose: `Database.open`/`open_postgres` called by a test itself (the migration and
upgrade tests), a database path whose folder does not exist yet (the bot creates it: the privacy test), the
subprocess bots (tests/support/deploy_fixtures.py), and `engines.fresh_database` (tests/e2e/test_postgres.py, the
replica harness: migrations once under replicas starting together).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import sqlite3
from collections.abc import Coroutine, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.storage import db as db_module
from bot.storage import epoch_times, migrations, migrations_later, postgres
from tests.support import pgserver

T = TypeVar("T")

#: The code that turns the migrations' texts into a schema: a change to any of it is a new template too.
APPLYING = (db_module, postgres, epoch_times, migrations, migrations_later)
TEMPLATE_LOCK = 0x534D5354  # pg_advisory_lock key on the server's admin database while a template is built ("SMST")


def schema_key(
    sqlite: Iterable[str] | None = None,
    postgresql: Mapping[int, str] | None = None,
    code: Iterable[str] | None = None,
) -> str:
    """16 hex digits naming the schema the migrations make: every SQLite migration's text, PostgreSQL's own texts,
    the source of the code that applies them, and SQLite's version. Defaults: the bot's own."""
    sqlite = migrations.MIGRATIONS if sqlite is None else sqlite
    postgresql = migrations.POSTGRES_MIGRATIONS if postgresql is None else postgresql
    if code is None:
        code = [Path(str(module.__file__)).read_text(encoding="utf-8") for module in APPLYING]
    digest = hashlib.sha256()
    for part in [*sqlite, "\0postgresql", *(f"{n}\0{text}" for n, text in sorted(postgresql.items()))]:
        digest.update(part.encode() + b"\0\0")
    for part in ["\0code", *code, sqlite3.sqlite_version]:
        digest.update(part.encode() + b"\0\0")
    return digest.hexdigest()[:16]


@functools.cache
def bot_key() -> str:
    """`schema_key` of the bot's own migrations, read once per process."""
    return schema_key()


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """A coroutine to its end on a thread of its own: callable from a sync fixture and from a running loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _migrate(path: Path | str, url: str | None = None) -> None:
    database = await db_module.Database.connect(path, url)
    await database.close()


def run_folder(factory: pytest.TempPathFactory) -> Path:
    """The test run's temporary folder, shared by its xdist workers (each has a folder of its own inside it)."""
    base = Path(factory.getbasetemp())
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def sqlite_template(root: Path, key: str | None = None) -> Path:
    """The migrated SQLite file for `key` (default: the bot's migrations) in `root`, made now when missing. Made
    under a name of this process's own and renamed into place: workers racing to make it each make one, and the
    last rename wins with a file as good as the others."""
    path = root / f"template-{key or bot_key()}.sqlite3"
    if path.exists():
        return path
    building = root / f"building-{os.getpid()}-{path.stem}"
    building.mkdir(parents=True, exist_ok=True)
    made = building / "bot.sqlite3"
    made.unlink(missing_ok=True)
    _run(_migrate(made))
    leftovers = [p.name for p in building.iterdir() if p != made]  # closed: the WAL is checkpointed and removed
    if leftovers:
        raise RuntimeError(f"the template {made} was left with {leftovers}: not a single file to copy")
    os.replace(made, path)
    building.rmdir()
    return path


async def _pg_template(server_url: str, name: str) -> None:
    import asyncpg

    async def finished(conn: asyncpg.Connection) -> bool:
        allows = await conn.fetchval("SELECT datallowconn FROM pg_database WHERE datname = $1", name)
        return allows is False

    conn = await asyncpg.connect(server_url, timeout=10)
    try:
        if await finished(conn):
            return
        await conn.execute("SELECT pg_advisory_lock($1)", TEMPLATE_LOCK)  # the others wait here for the builder
        try:
            if await finished(conn):
                return
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a builder killed halfway
            await conn.execute(f'CREATE DATABASE "{name}"')
            await _migrate("", pgserver.with_database(server_url, name))
            await conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", TEMPLATE_LOCK)
    finally:
        await conn.close()


_made: dict[tuple[str, str], str] = {}


def pg_template(server_url: str, key: str | None = None) -> str:
    """The name of the migrated template database for `key` (default: the bot's migrations) on the server of
    `server_url` (its admin database), made now when missing; once per process and server, then remembered."""
    key = key or bot_key()
    if (server_url, key) not in _made:
        name = f"tmpl_{key}"
        _run(_pg_template(server_url, name))
        _made[(server_url, key)] = name
    return _made[(server_url, key)]


def drop_template(server_url: str, name: str) -> None:
    """Drop a template database (a test's own: the run's are kept, keyed, for the next run on the server)."""

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(server_url, timeout=10)
        try:
            await conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false')
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(drop())
    _made.pop(next((k for k, v in _made.items() if v == name and k[0] == server_url), ("", "")), None)
