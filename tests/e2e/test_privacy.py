"""The send log is private (issue 19, finding 3): its folder 0700 and its files 0600 whatever the umask, and
RETENTION_DAYS erases a send's text and number while who, when and what became of it stay."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devkit.harness import Harness
from tests.conftest import ADMIN


@pytest.fixture
def lax_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default outside Docker: 0755 folders, 0644 files
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.usefixtures("lax_umask")
async def test_the_data_folder_and_database_files_are_private(tmp_path: Path) -> None:
    db_path = tmp_path / "data" / "bot.sqlite3"
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"database_path": str(db_path)}) as h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await admin.send("/send 79041764995 secret text")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
        files = [db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm"))]
        assert all(f.exists() for f in files)
        # Before the fix: 0o755 for the folder and 0o644 for each file.
        assert mode(db_path.parent) == 0o700
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


@pytest.mark.usefixtures("lax_umask")
async def test_an_existing_world_readable_database_becomes_private(tmp_path: Path) -> None:
    db_path = tmp_path / "bot.sqlite3"
    sqlite3.connect(db_path).close()
    db_path.chmod(0o644)
    async with Harness(tmp_path, admin_ids=(ADMIN,)):
        assert mode(db_path) == 0o600


def rows(path: Path) -> list[dict[str, object]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sends ORDER BY id")]


async def test_retention_erases_text_and_number_and_keeps_who_when_and_outcome(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"retention_days": 30}) as h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        for text in ("old secret", "new secret"):
            await admin.send(f"/send 79041764995 {text}")
            preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
            await admin.press(preview, "✅ Send")
            await admin.wait_for(lambda m, p=preview: m.message_id == p.message_id and "Sent to" in m.plain)
            await admin.wait_for(lambda m: "delivered" in m.plain, timeout=10)
        with sqlite3.connect(h.db_path) as conn:  # the first one was made 31 days ago
            conn.execute("UPDATE sends SET created_at = created_at - 31 * 86400 WHERE text = 'old secret'")
        await h.restart()  # the sweep runs at start-up
        old, new = rows(h.db_path)
        # Before the fix: old["text"] == "old secret" (kept forever).
        assert (old["text"], old["msisdn"]) == ("", "") and old["erased_at"] is not None
        assert (old["user_id"], old["state"], old["status_name"]) == (ADMIN, "accepted", "DELIVRD")
        assert old["gateway_id"] and old["sent_at"] and old["created_at"]
        assert (new["text"], new["msisdn"]) == ("new secret", "79041764995")
        await admin.send("/history")
        page = await admin.wait_for(lambda m: "SMS sent, newest first" in m.plain)
        assert "number erased" in page.plain and "text erased" in page.plain and "new secret" in page.plain
