"""The tests' fresh databases start from a template (tests/support/db_templates.py): the schema the bot's own
migrations make from empty, table for table; made once per key, by one builder even when workers race, and never
held open, so every `CREATE DATABASE … TEMPLATE` finds nobody connected to it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.devkit.harness import SQLITE_TEMPLATE, Harness
from bot.storage.db import Database
from bot.storage.migrations import LATEST
from tests.conftest import ADMIN
from tests.support import db_templates, engines


def sqlite_schema(path: Path) -> tuple[int, list[tuple[str, str, str]]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:  # closed: a WAL file's reader leaves no -wal behind
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").fetchall()
    return version, rows


async def test_the_sqlite_template_is_what_the_migrations_make_and_is_made_once_per_key(tmp_path: Path) -> None:
    empty = tmp_path / "from-empty" / "bot.sqlite3"
    await (await Database.open(empty)).close()
    template = db_templates.sqlite_template(tmp_path / "run", key="0123456789abcdef")
    assert sqlite_schema(template) == sqlite_schema(empty) and sqlite_schema(template)[0] == LATEST
    assert len(sqlite_schema(template)[1]) > 20
    made = template.stat().st_mtime_ns
    assert db_templates.sqlite_template(tmp_path / "run", key="0123456789abcdef") == template
    assert template.stat().st_mtime_ns == made  # the same key: the file made before, not made again
    other = db_templates.sqlite_template(tmp_path / "run", key="fedcba9876543210")  # a changed migration's key
    assert other != template and sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(
        [template.name, other.name]
    )


async def test_a_bot_on_a_new_file_starts_from_the_template_and_serves(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # As tests/conftest.py's `database_url` sets it for every SQLite test (here whatever TEST_ENGINE says).
    monkeypatch.delenv("HARNESS_DATABASE_URL", raising=False)
    monkeypatch.setenv(SQLITE_TEMPLATE, str(db_templates.sqlite_template(db_templates.run_folder(tmp_path_factory))))
    caplog.set_level("INFO", logger="bot.storage.db")
    async with Harness(tmp_path, admin_ids=(ADMIN,)) as h:
        assert not [r for r in caplog.records if "applying database migration" in r.getMessage()]
        assert sqlite_schema(h.db_path) == sqlite_schema(Path(os.environ[SQLITE_TEMPLATE]))
        assert h.db_path.stat().st_mode & 0o777 == 0o600
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await admin.send("/send 79041764995 from the template")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [r["text"] for r in engines.select(h.db_path, "SELECT text FROM sends")] == ["from the template"]


# -- PostgreSQL ------------------------------------------------------------------------------------------------


def pg_columns(url: str) -> list[dict[str, object]]:
    return engines.select(
        url,
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, column_name",
    )


def pg_objects(url: str) -> list[dict[str, object]]:
    return engines.select(
        url,
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' ORDER BY c.relname",
    )


@pytest.fixture
def server_url(pg_server: engines.PgServer) -> Iterator[str]:
    yield pg_server.need()


def test_the_postgres_template_is_what_the_migrations_make_and_one_of_racing_workers_builds_it(
    server_url: str,
) -> None:
    key = f"test{uuid.uuid4().hex[:12]}"
    name = f"tmpl_{key}"
    empty = engines.create_database(server_url)
    copies: list[str] = []
    try:
        asyncio.run(_migrate(empty))
        with ThreadPoolExecutor(4) as pool:  # four workers at once: one builds, the others wait for it
            names = list(pool.map(lambda _: db_templates.pg_template(server_url, key), range(4)))
        assert names == [name] * 4
        [row] = engines.select(
            server_url, "SELECT datallowconn, datistemplate FROM pg_database WHERE datname = ?", (name,)
        )
        assert row == {"datallowconn": False, "datistemplate": True}  # nobody can stay connected to it
        with ThreadPoolExecutor(3) as pool:  # copies made at the same moment
            copies = list(pool.map(lambda _: engines.create_database(server_url, name), range(3)))
        for url in copies:
            assert pg_columns(url) == pg_columns(empty) and pg_objects(url) == pg_objects(empty)
            assert engines.select(url, "SELECT version FROM schema_version") == [{"version": LATEST}]
        assert len(pg_objects(copies[0])) > 40
    finally:
        for url in [empty, *copies]:
            engines.drop_database(server_url, url)
        db_templates.drop_template(server_url, name)


async def _migrate(url: str) -> None:
    await (await Database.open_postgres(url)).close()


def test_a_half_built_postgres_template_is_built_again(server_url: str) -> None:
    """A builder killed halfway leaves a database that still allows connections: the next one drops it and builds
    the template whole."""
    key = f"test{uuid.uuid4().hex[:12]}"
    name = f"tmpl_{key}"
    asyncio.run(engines._admin(server_url, f'CREATE DATABASE "{name}"'))  # killed before any migration
    copy = None
    try:
        assert db_templates.pg_template(server_url, key) == name
        copy = engines.create_database(server_url, name)
        assert engines.select(copy, "SELECT version FROM schema_version") == [{"version": LATEST}]
    finally:
        if copy is not None:
            engines.drop_database(server_url, copy)
        db_templates.drop_template(server_url, name)
