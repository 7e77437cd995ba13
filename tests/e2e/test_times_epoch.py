"""Issue 26.3: every stored moment is INTEGER epoch seconds, the same type and meaning on SQLite and PostgreSQL.

A database made before the conversion (its time columns ISO text, written with any offset, with 'Z', with
microseconds, with ' ' instead of 'T') is migrated: each moment becomes the epoch second it names, no row is lost,
a send being tracked is tracked on, an owed notice is still owed, a draft expires at the right moment and a spend
limit window counts the right sends — also in the old trap, a Moscow offset (+03:00) written between 00:00 and
03:00 UTC, when the local date is already the next one and text comparison put it on the wrong side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from bot.sms.names import name_key
from bot.storage import epoch_times, postgres
from bot.storage.db import Database
from bot.storage.migrations import LATEST, MIGRATIONS
from tests.support import engines
from tests.support.engines import execute, select

#: The schema just before the conversion (16/17 this release; more if later migrations come before it).
BEFORE = MIGRATIONS.index(epoch_times.MARKER)

#: 2026-12-07 23:30:00 UTC, i.e. 2026-12-08 02:30 in Moscow: the night the text comparison went wrong.
A = int(datetime(2026, 12, 7, 23, 30, tzinfo=UTC).timestamp())
MINUTE = 60

SENDS = """INSERT INTO sends (id, user_id, chat_id, msisdn, sender, text, encoding, parts, state, final, status_code,
                              status_name, gateway_id, created_at, updated_at, sent_at, claimed_at, notice_owed_at)
           VALUES (?, 7, 7, '79041764995', 'OnCall', ?, 'GSM-7', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
ROWS = [
    # 1: accepted at A (microseconds, ' ' separator), tracked: the queue must keep checking it.
    (1, "tracked", 1, "accepted", 0, 3, "ACCEPTD", "gw-1", "2026-12-08T02:29:00+03:00", "2026-12-07T23:30:00Z",
     "2026-12-07 23:30:00.654321+00:00", "2026-12-07T23:29:30+00:00", None),
    # 2: delivered, its operator not told yet (owed since A + 1 min, written in Moscow time).
    (2, "owed", 1, "accepted", 1, 4, "DELIVRD", "gw-2", "2026-12-07T23:00:00+00:00", "2026-12-08T02:31:00+03:00",
     "2026-12-07T23:00:05+00:00", "2026-12-07T23:00:00+00:00", "2026-12-08T02:31:00+03:00"),
    # 3: a draft made at A - 10 min in Moscow time: older than a cut-off at A, so it expires.
    (3, "old draft", 1, "draft", 0, None, None, None, "2026-12-08T02:20:00+03:00", "2026-12-08T02:20:00+03:00",
     None, None, None),
    # 4: a draft made at A + 10 min ('Z', no offset digits): newer than the cut-off, still sendable.
    (4, "new draft", 1, "draft", 0, None, None, None, "2026-12-07T23:40:00Z", "2026-12-07T23:40:00", None, None,
     None),
    # 5 and 6: an operator's presses at A - 5 min (Moscow time, 2 parts) and A + 20 min (UTC, 3 parts).
    (5, "spent before", 2, "accepted", 0, 3, "ACCEPTD", "gw-5", "2026-12-08T02:25:00+03:00",
     "2026-12-08T02:25:00+03:00", "2026-12-08T02:25:01+03:00", "2026-12-08T02:25:00+03:00", None),
    (6, "spent after", 3, "accepted", 0, 3, "ACCEPTD", "gw-6", "2026-12-07T23:50:00+00:00",
     "2026-12-07T23:50:00+00:00", "2026-12-07T23:50:01+00:00", "2026-12-07T23:50:00+00:00", None),
]  # fmt: skip
OTHERS = [
    ("INSERT INTO tracking (send_id, next_check_at, interval, attempts, deadline_at) VALUES (?, ?, ?, ?, ?)",
     [(1, A + 30.5, 30.0, 1, A + 86400.0)]),
    ("INSERT INTO audit_log (at, actor_id, action, target_id, details) VALUES (?, 1, 'allow', 7, '')",
     [("2026-12-07T23:30:00Z",), ("2026-12-08T02:30:00.5+03:00",)]),
    ("INSERT INTO seen_updates (update_id, seen_at) VALUES (?, ?)", [(1, "2026-12-07 23:30:00+00:00")]),
    ("INSERT INTO fsm_states (key, state, data, updated_at) VALUES (?, 'S', '{}', ?)",
     [("k1", "2026-12-08T02:30:00.123456+03:00"), ("k2", "2026-12-07T20:30:00-03:00")]),
    ("INSERT INTO names (name_key, kind) VALUES (?, 'contact')", [("ivan",)]),
    ("INSERT INTO contacts (id, name, name_key, msisdn, added_by, added_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
     [(41, "Ivan", "ivan", "79041764995", "2026-12-08T02:30:00+03:00", "2026-12-07T23:30:00Z")]),
    ("INSERT INTO alert_groups (id, group_key, status, alertname, severity, summary, external_url, received_at, "
     "posted_at, placed_for, wanted_at) VALUES (?, 'g', 'firing', 'Disk', 'critical', 's', '', ?, ?, ?, ?)",
     [(1, "2026-12-08T02:30:00+03:00", "2026-12-07T23:30:00+00:00", "2026-12-07T23:30:00+00:00",
       "2026-12-07T23:30:00+00:00#3")]),
]  # fmt: skip
MARKED = {"tracked": A, "owed": A - 30 * MINUTE, "old draft": A - 10 * MINUTE, "new draft": A + 10 * MINUTE}


def old_sqlite(path: Path) -> Path:
    """A SQLite file as the released bot left it: schema BEFORE, ISO text times in several forms."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.create_function("name_fold", 1, name_key)
        conn.executescript("\n".join(MIGRATIONS[:BEFORE]) + f"\nPRAGMA user_version = {BEFORE};")
        conn.executemany(SENDS, ROWS)
        for sql, many in OTHERS:
            conn.executemany(sql, many)
        conn.commit()
    return path


async def old_postgres(url: str) -> str:
    """A PostgreSQL database made by the released bot (schema BEFORE, text times), filled alike."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        for number in range(1, BEFORE + 1):
            await conn.execute(postgres.migration(number))
        await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", BEFORE)
    finally:
        await conn.close()
    await asyncio.to_thread(execute, url, SENDS, ROWS)
    for sql, many in OTHERS:
        await asyncio.to_thread(execute, url, sql, many)
    for table in ("sends", "contacts", "alert_groups"):  # the ids given above, as the bot's own inserts leave them
        await asyncio.to_thread(
            execute, url, f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), MAX(id)) FROM {table}", [()]
        )
    return url


@pytest.fixture
def pg_url(pg_server: engines.PgServer) -> Iterator[str]:
    yield from engines.fresh_database(pg_server)


COUNTED = ("sends", "tracking", "audit_log", "seen_updates", "fsm_states", "contacts", "alert_groups")


def counts(where: object) -> dict[str, int]:
    return {t: int(select(where, f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]) for t in COUNTED}


async def check_converted(db: Database, where: object) -> None:
    assert await db.schema_version() == LATEST
    sends = {r["text"]: r for r in select(where, "SELECT * FROM sends ORDER BY id")}
    assert {text: sends[text]["created_at"] for text in MARKED} == {
        "tracked": A - MINUTE, "owed": A - 30 * MINUTE, "old draft": A - 10 * MINUTE, "new draft": A + 10 * MINUTE,
    }  # fmt: skip
    assert sends["tracked"]["sent_at"] == A and sends["tracked"]["updated_at"] == A  # microseconds, ' ' and 'Z'
    assert sends["new draft"]["updated_at"] == A + 10 * MINUTE  # no offset at all: UTC, as utcnow() always wrote
    assert sends["old draft"]["sent_at"] is None and sends["owed"]["notice_owed_at"] == A + MINUTE  # NULL stays
    assert [r["at"] for r in select(where, "SELECT at FROM audit_log ORDER BY id")] == [A, A]
    assert select(where, "SELECT seen_at FROM seen_updates")[0]["seen_at"] == A
    fsm = {r["key"]: r["updated_at"] for r in select(where, "SELECT key, updated_at FROM fsm_states")}
    assert fsm == {"k1": A, "k2": A}
    contact = select(where, "SELECT id, added_at, updated_at FROM contacts")[0]
    assert (contact["id"], contact["added_at"], contact["updated_at"]) == (41, A, A)
    group = select(where, "SELECT received_at, posted_at, placed_for, wanted_at FROM alert_groups")[0]
    # `wanted_at` is a change token, not a moment: it stays what it was.
    assert (group["received_at"], group["posted_at"], group["placed_for"]) == (A, A, A)
    assert group["wanted_at"] == "2026-12-07T23:30:00+00:00#3"

    # A send being tracked is tracked on: due at its time, with its acceptance moment.
    [(tracked, send)] = await db.tracking.due(A + 31, limit=10)
    assert (tracked.send_id, send.gateway_id, send.sent_at) == (1, "gw-1", A)
    assert await db.tracking.due(A + 30, limit=10) == []
    # An owed notice is still owed.
    assert [(s.id, s.notice_owed_at) for s in await db.tracking.owed_notices()] == [(2, A + MINUTE)]
    # A spend limit's window from A counts the press at A + 20 min only, not the one at 02:25 Moscow (A - 5 min).
    assert await db.sends.parts_spent(7, [A, A - 6 * MINUTE, A + 21 * MINUTE]) == [3, 2 + 1 + 3, 0]
    # A draft made before the cut-off expires; the one made after it does not.
    assert [s.text for s in await db.sends.expire_drafts(A)] == ["old draft"]
    # New writes are numbers of the same kind, compared with the old ones as numbers.
    fresh = await db.sends.create_draft(
        user_id=7,
        chat_id=7,
        msisdn="79041764995",
        sender="OnCall",
        text="fresh",
        encoding="GSM-7",
        parts=1,
        locale="en",
    )
    stamp = fresh.created_at
    assert fresh.id == 7  # the id counter goes on where it was
    assert isinstance(stamp, int) and abs(stamp - time.time()) < 5


@pytest.mark.sqlite_only
async def test_an_old_sqlite_file_keeps_every_moment_as_epoch_seconds(tmp_path: Path) -> None:
    path = old_sqlite(tmp_path / "old.sqlite3")
    before = counts(path)
    db = await Database.open(path)
    try:
        assert counts(path) == before  # every row kept
        await check_converted(db, path)
    finally:
        await db.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        # INTEGER affinity: the values are integers, not digits in text, and the columns say so.
        assert conn.execute("SELECT DISTINCT typeof(created_at) FROM sends").fetchall() == [("integer",)]
        declared = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(sends)")}
        assert declared["created_at"] == declared["claimed_at"] == "INTEGER"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Indexes and AUTOINCREMENT counters are kept.
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"sends_user_claimed", "sends_msisdn_claimed", "audit_log_at", "alert_groups_placed"} <= indexes
        assert dict(conn.execute("SELECT name, seq FROM sqlite_sequence"))["contacts"] >= 41
    # The upgraded file has the very schema of a new one.
    fresh = await Database.open(tmp_path / "fresh.sqlite3")
    await fresh.close()

    def schema(p: Path) -> list[tuple[str, str]]:
        with contextlib.closing(sqlite3.connect(p)) as conn:
            return sorted(conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))

    assert schema(path) == schema(tmp_path / "fresh.sqlite3")


async def test_an_old_postgres_database_keeps_every_moment_as_epoch_seconds(pg_url: str) -> None:
    url = await old_postgres(pg_url)
    before = counts(url)
    db = await Database.open_postgres(url)
    try:
        assert counts(url) == before  # every row kept
        await check_converted(db, url)
    finally:
        await db.close()
    types = select(
        url,
        """SELECT column_name, data_type FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'sends' AND column_name LIKE '%\\_at'""",
    )
    assert {r["data_type"] for r in types} == {"bigint"}


@pytest.fixture
def moscow() -> Iterator[None]:
    """The machine's clock set to Moscow time (the old trap: a local offset against a UTC one)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Moscow"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.mark.sqlite_only
async def test_under_moscow_time_between_0_and_3_utc_windows_and_expiry_stay_right(
    tmp_path: Path, moscow: None
) -> None:
    """The same checks with the process in Europe/Moscow: nothing depends on the local zone."""
    assert time.localtime(A).tm_mday == 8 and time.gmtime(A).tm_mday == 7  # the local date is already tomorrow
    path = old_sqlite(tmp_path / "old.sqlite3")
    db = await Database.open(path)
    try:
        await check_converted(db, path)
    finally:
        await db.close()
