"""PostgreSQL as the bot's database (issue 26): migrations once under replicas starting together, a newer schema
refused, spend limits across connections, a move with `copy-db`, start-up failures in one line without the
password, and a lost connection answered in words while the bot reconnects.

Each test gets an empty database of its own on the test server (tests/support/engines.py, tests/support/pgserver.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.devkit.harness import Harness
from bot.storage.db import Database, StorageError
from bot.storage.migrations import LATEST
from tests.conftest import ADMIN, OPERATOR
from tests.support import engines
from tests.support.chaos_support import eventually
from tests.support.deploy_fixtures import run_forked
from tests.support.engines import execute, select

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def pg_url(pg_server: engines.PgServer) -> Iterator[str]:
    yield from engines.fresh_database(pg_server)


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def bot_env(tmp_path: Path, **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "HARNESS_"))}
    values = {
        "BOT_TOKEN": "1:x",
        "SMSKA_API_KEY": "k",
        "SMSKA_API_PASSWORD": "p-secret-value",
        "SMSKA_SENDER_IDS": "A",
        "ADMIN_IDS": "1",
        "TELEGRAM_API_URL": "http://127.0.0.1:9",
        "DATABASE_PATH": str(tmp_path / "unused.sqlite3"),
    }
    return {**base, **values, **env, "PYTHONPATH": str(ROOT)}


def run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot *args` to its end, a process of its own forked from the fork server (the imports are not
    what these tests are about)."""
    return run_forked(list(args), bot_env(tmp_path, **env), tmp_path)


async def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    dbs = await asyncio.gather(*(Database.open_postgres(pg_url) for _ in range(4)))
    try:
        assert [await db.schema_version() for db in dbs] == [LATEST] * 4
        assert select(pg_url, "SELECT COUNT(*) AS n FROM schema_version")[0]["n"] == 1
        await dbs[0].people.sync_admins([1])
        assert await dbs[3].people.operator(1) is not None  # one schema, seen by every connection
    finally:
        for db in dbs:
            await db.close()


async def test_a_newer_schema_is_refused_with_one_line(pg_url: str) -> None:
    db = await Database.open_postgres(pg_url)
    await db.close()
    execute(pg_url, "UPDATE schema_version SET version = ?", [(LATEST + 3,)])
    with pytest.raises(StorageError, match="newer than this bot knows") as caught:
        await Database.open_postgres(pg_url)
    assert "\n" not in str(caught.value) and (urlsplit(pg_url).password or "?") not in str(caught.value)


async def test_spend_limits_hold_for_presses_on_two_connections(pg_url: str) -> None:
    """Two bots on one database (issue 27's replicas): concurrent presses of one operator's drafts on both stay
    within the hourly limit, because each claim takes its turn under the operator's advisory lock."""
    first, second = await Database.open_postgres(pg_url), await Database.open_postgres(pg_url)
    try:
        for trial in range(5):
            drafts = [
                await first.sends.create_draft(
                    user_id=7,
                    chat_id=7,
                    msisdn=f"7904176{trial}{i:03d}",
                    sender="A",
                    text="t" * 10,
                    encoding="GSM-7",
                    parts=3,
                    locale="en",
                )
                for i in range(8)
            ]
            since = 946684800  # 2000-01-01
            limit = 3 * 4 * (trial + 1)  # four more sends' worth each trial
            claims = await asyncio.gather(
                *(
                    (first if i % 2 else second).sends.claim(d.id, 7, limits=[(since, limit)])
                    for i, d in enumerate(drafts)
                )
            )
            assert sum(1 for c in claims if c is not None) == 4
            assert (await first.sends.parts_spent(7, [since]))[0] == limit
    finally:
        await first.close()
        await second.close()


async def test_copy_db_moves_everything_and_tracking_and_owed_notices_go_on(tmp_path: Path, pg_url: str) -> None:
    h = Harness(tmp_path, admin_ids=(ADMIN,), delivery_delay=6.0)
    await h.__aenter__()
    try:
        await _move_and_go_on(h, tmp_path, pg_url)
    finally:
        await h.__aexit__(None, None, None)


async def _move_and_go_on(h: Harness, tmp_path: Path, pg_url: str) -> None:
    assert h.database_url is None
    admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    await admin.send("/send 79041764995 moved while tracked")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    await admin.send("/send 79041764996 a draft left behind")
    await admin.wait_for(lambda m: "a draft left behind" in m.plain)
    await h.stop_bot()  # the SMS is still on its way (the sandbox delivers it 6 s after it was sent)
    sqlite_file = tmp_path / "bot.sqlite3"
    before = {r["state"]: r["id"] for r in select(sqlite_file, "SELECT id, state FROM sends")}
    assert set(before) == {"accepted", "draft"}
    # An owed delivery notice of an older send, as a crash before telling would leave it.
    execute(
        sqlite_file,
        """INSERT INTO sends (user_id, chat_id, msisdn, sender, text, encoding, parts, state, created_at,
                              updated_at, final, status_code, status_name, notice_owed_at, gateway_id, sent_at)
           VALUES (?, ?, '79041764997', 'OnCall', 'owed before the move', 'GSM-7', 1, 'accepted', ?, ?, 1, 4,
                   'DELIVRD', ?, 'gw-owed', ?)""",
        [(ADMIN, ADMIN, 1767227400, 1767227400, 1767227460,
          1767227400)],  # 2026-01-01 00:30, 00:30, 00:31, 00:30 UTC
    )  # fmt: skip
    tables = [
        r["name"]
        for r in select(sqlite_file, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ]
    counts = {t: select(sqlite_file, f'SELECT COUNT(*) AS n FROM "{t}"')[0]["n"] for t in tables}

    moved = run_bot(tmp_path, "copy-db", str(sqlite_file), DATABASE_URL=pg_url)
    assert moved.returncode == 0, moved.stderr
    for table, n in counts.items():
        assert any(line.split() == [table, str(n), str(n)] for line in moved.stdout.splitlines()), (table, moved.stdout)
    assert "same rows on both sides" in moved.stdout
    assert (urlsplit(pg_url).password or "?") not in moved.stdout + moved.stderr

    again = run_bot(tmp_path, "copy-db", str(sqlite_file), DATABASE_URL=pg_url)
    assert again.returncode == 2 and "not empty" in again.stderr and len(again.stderr.strip().splitlines()) == 1

    old = select(sqlite_file, "SELECT * FROM sends ORDER BY id")
    new = select(pg_url, "SELECT * FROM sends ORDER BY id")
    assert new == old  # ids, times, owed markers as they were

    h.database_url = pg_url  # the same Telegram and gateway; the bot now on PostgreSQL
    await h.start_bot()
    # The owed notice goes out, and the SMS tracked on SQLite is tracked on to its delivery.
    await admin.wait_for(lambda m: "SMS to" in m.plain and "49\u201197" in m.plain, timeout=20)
    await admin.wait_for(lambda m: "delivered" in m.plain and "49\u201195" in m.plain, timeout=20)
    await admin.send("/send 79041764998 after the move")
    preview = await admin.wait_for(lambda m: "after the move" in m.plain)
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    ids = [r["id"] for r in select(pg_url, "SELECT id FROM sends ORDER BY id")]
    assert ids[-1] > max(r["id"] for r in old)  # a new row never reuses an old id
    owed = "SELECT COUNT(*) AS n FROM sends WHERE notice_owed_at IS NOT NULL"
    await eventually(lambda: True if select(pg_url, owed)[0]["n"] == 0 else None, 10, "every owed notice settled")


def test_start_up_failures_are_one_line_exit_2_and_never_the_password(tmp_path: Path, pg_url: str) -> None:
    password = urlsplit(pg_url).password or ""
    wrong = with_password(pg_url, "Wr0ng-Pw-Zq9secret")
    missing = pg_url.rpartition("/")[0] + "/no_such_database"
    unreachable = pg_url.replace(f":{urlsplit(pg_url).port}/", ":9/")
    cases = {wrong: "refused the password", missing: "does not exist", unreachable: "cannot reach the database"}
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:  # together
        runs = dict(zip(cases, pool.map(lambda url: run_bot(tmp_path, DATABASE_URL=url), cases), strict=True))
    for url, words in cases.items():
        out, err = runs[url].stdout, runs[url].stderr
        assert runs[url].returncode == 2, out + err
        assert words in err and len(err.strip().splitlines()) == 1, out + err
        assert password not in out + err and "Wr0ng-Pw-Zq9secret" not in out + err and "Traceback" not in err


async def test_a_lost_connection_is_answered_in_words_and_the_bot_reconnects(tmp_path: Path, pg_url: str) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), database_url=pg_url) as h:
        assert h.app is not None
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await admin.send("/help")
        await admin.next_message()
        statements = h.app.db.statements
        # The server ends the bot's connection (a restart, a failover): the next update is still served.
        execute(
            engines.pgserver.with_database(pg_url, "postgres"),
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()",
            [(pg_url.rpartition("/")[2],)],
        )
        await admin.send("/send 79041764995 after a lost connection")
        preview = await admin.wait_for(lambda m: "after a lost connection" in m.plain, timeout=15)
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=15)
        # The server cannot be reached at all: the operator hears words within 15 s, and the bot goes on.
        real = statements.url  # type: ignore[attr-defined]
        statements.url = real.replace(f":{urlsplit(real).port}/", ":9/")  # type: ignore[attr-defined]
        await statements._drop()  # type: ignore[attr-defined]
        started = time.monotonic()
        await admin.send("/status")
        told = await admin.wait_for(lambda m: "not answering" in m.plain, timeout=15)
        assert time.monotonic() - started < 15 and (urlsplit(pg_url).password or "?") not in told.plain
        statements.url = real  # type: ignore[attr-defined]
        await admin.send("/status")
        await admin.wait_for(lambda m: "not answering" not in m.plain and m is not told, timeout=15)
