"""Both storage engines in the tests: the `engine` fixture ("sqlite" or "postgresql") and `database_url` (None on
SQLite; a fresh PostgreSQL database of its own on PostgreSQL, copied from the migrated template of db_templates.py,
dropped after the test). `fresh_database` without `migrated` gives an empty one: the bot migrates it from nothing.

The PostgreSQL server: `TEST_PG_URL` when set (`.ci/run` starts one with tests/support/pgserver.py and exports it), else
one started for this test process in a temporary folder (tests/support/pgserver.py) and stopped at its end. Where there
is no PostgreSQL server, the PostgreSQL tests are skipped, said in one line; under CI=true they fail instead.

Which tests run on both engines: the files in `BOTH_ENGINES` (every test there that takes `engine`, `rig` or
`database_url`). `TEST_ENGINE=postgresql` runs every test that takes the `rig` fixture on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.storage.dialect import numbered
from tests.support import pgserver

BOTH_ENGINES = {
    "test_storage.py",
    "test_e2e_send.py",
    "test_batch_send.py",
    "test_fsm_restart.py",
    "test_recovery_background.py",
    "test_crash_trials.py",
    "test_crash_batch.py",
    "test_spend_limits.py",
    "test_access_decisions.py",
    "test_redelivery.py",
    "test_watchdog.py",
    "test_escalation.py",
    "test_alert_take.py",
}
ENGINES = ("sqlite", "postgresql")
_names = itertools.count(1)


def default_engine() -> str:
    return "postgresql" if os.environ.get("TEST_ENGINE", "").lower() in ("postgresql", "postgres", "pg") else "sqlite"


def parametrize(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        return
    if "engine" in metafunc.fixturenames and metafunc.definition.path.name in BOTH_ENGINES:
        metafunc.parametrize("engine", ENGINES, indirect=True)


NO_SERVER = "PostgreSQL: no server here (apt-get install postgresql): the PostgreSQL tests are skipped"


def missing_server_line() -> str | None:
    """The one line that says the PostgreSQL tests will be skipped (none under CI=true: they fail there)."""
    if os.environ.get("TEST_PG_URL") or pgserver.find_bin() is not None or os.environ.get("CI", "") == "true":
        return None
    return NO_SERVER


class PgServer:
    def __init__(self) -> None:
        self.url: str | None = None
        self.reason = ""
        self._base: Path | None = None

    def start(self) -> None:
        if os.environ.get("TEST_PG_URL"):
            self.url = os.environ["TEST_PG_URL"]
            return
        if pgserver.find_bin() is None and os.environ.get("CI", "").lower() != "true":
            self.reason = NO_SERVER
            return
        self._base = Path(tempfile.mkdtemp(prefix="smska-pg-"))
        try:
            self.url = pgserver.start(self._base, allow_install=os.environ.get("CI", "").lower() == "true")
        except RuntimeError as exc:
            self.reason = f"PostgreSQL: {exc}"

    def stop(self) -> None:
        if self._base is not None:
            pgserver.stop(self._base)
            shutil.rmtree(self._base, ignore_errors=True)

    def need(self) -> str:
        if self.url is None and not self.reason:
            self.start()
        if self.url is None:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(self.reason or "PostgreSQL is needed under CI=true")
            pytest.skip(self.reason)
        return self.url


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(server_url: str, template: str | None = None) -> str:
    """A new database of this test's own: empty, or a copy of the database `template` (db_templates.py)."""
    name = f"t{os.getpid()}_{next(_names)}"
    copied = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"{copied}'))
    return pgserver.with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = url.rpartition("/")[2]
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fresh_database(server: PgServer, *, migrated: bool = False) -> Iterator[str]:
    """A database of its own for one test, dropped after it: empty (the bot migrates it from nothing), or with
    `migrated` a copy of the migrated template (db_templates.py: the bot's migrations run once per server)."""
    server_url = server.need()
    from tests.support import db_templates  # imports the bot: not for xdist's controller (missing_server_line)

    url = create_database(server_url, db_templates.pg_template(server_url) if migrated else None)
    try:
        yield url
    finally:
        drop_database(server_url, url)


def select(where: Any, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows of a test's database as dicts, read beside the bot (its own connection), on either engine. `where`:
    a Harness (its `database_url`, else its `db_path`), a postgresql:// URL, or a SQLite file's path. Callable
    from a running event loop (PostgreSQL is read on a thread of its own)."""
    return execute(where, sql, [params])[0]


def execute(where: Any, sql: str, many: Sequence[Sequence[Any]]) -> list[list[dict[str, Any]]]:
    """`sql` once per parameter tuple of `many`, in one transaction, beside the bot (see `select`); the rows of
    each."""
    url = getattr(where, "database_url", None) if not isinstance(where, str | Path) else None
    if isinstance(where, str) and where.startswith("postgresql://"):
        url = where
    if url is None:
        path = getattr(where, "db_path", where)
        with sqlite3.connect(path) as conn:
            conn.row_factory = sqlite3.Row
            return [[dict(r) for r in conn.execute(sql, tuple(params))] for params in many]

    async def run() -> list[list[dict[str, Any]]]:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            async with conn.transaction():
                return [[dict(r) for r in await conn.fetch(numbered(sql), *params)] for params in many]
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()
