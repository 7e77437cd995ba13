"""The SQLite file: migrations, upgrade without loss, refusal of a newer schema, exactly-once claims."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.storage.db import Database, StorageError
from bot.storage.migrations import LATEST, MIGRATIONS


async def test_new_file_and_folder_are_created_with_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.sqlite3"
    db = await Database.open(path)
    try:
        assert await db.schema_version() == LATEST
    finally:
        await db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_older_file_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
        conn.execute(
            "INSERT INTO operators (user_id, role, name, added_at) VALUES (42, 'operator', 'Old Timer', '2025-01-01')"
        )
        conn.execute("UPDATE operators SET active = 1")
    db = await Database.open(path)
    try:
        assert await db.schema_version() == LATEST
        operator = await db.get_operator(42)
        assert operator is not None and operator.name == "Old Timer"
    finally:
        await db.close()


async def test_newer_file_is_refused_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 5}")
    with pytest.raises(StorageError, match="newer than this bot knows"):
        await Database.open(path)


def test_newer_file_stops_the_bot_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 5}")
    env = {
        **os.environ,
        "BOT_TOKEN": "1:x",
        "SMSKA_API_KEY": "k",
        "SMSKA_API_PASSWORD": "p-secret-value",
        "SMSKA_SENDER_IDS": "A",
        "ADMIN_IDS": "1",
        "DATABASE_PATH": str(path),
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
    }
    run = subprocess.run(
        [sys.executable, "-m", "bot"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert run.returncode == 2
    assert "newer than this bot knows" in run.stderr and "Traceback" not in run.stderr
    # The file is untouched.
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST + 5


async def test_one_claim_wins_among_many(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        row = await db.create_draft(
            user_id=1, chat_id=1, msisdn="79041764995", sender="A", text="t", encoding="GSM-7", parts=1, locale="en"
        )
        results = await asyncio.gather(*(db.claim_draft(row.id, 1) for _ in range(20)))
        assert results.count(True) == 1
        assert not await db.claim_draft(row.id, 2)  # someone else's draft is never theirs to send
        assert not await db.cancel_draft(row.id, 1)  # a draft that is being sent cannot be cancelled
        interrupted = await db.interrupted_sends()
        assert [r.id for r in interrupted] == [row.id]
        await db.mark_unknown(row.id, "interrupted", owed=False)
        again = await db.get_send(row.id)
        assert again is not None and again.state == "unknown"
    finally:
        await db.close()


async def test_operators_and_languages_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    await db.sync_admins([1])
    assert await db.allow(7, by=1, name="Oleg")
    await db.set_locale(7, "ru")
    await db.close()
    db = await Database.open(path)
    try:
        assert (await db.get_operator(7)) is not None
        assert await db.locale_for(7) == "ru"
        assert [a["action"] for a in await db.audit()] == ["allow"]
    finally:
        await db.close()
