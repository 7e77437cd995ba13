"""The database on both engines (tests/support/engines.py) and the SQLite file: migrations, upgrade without loss, refusal of a newer schema, exactly-once claims."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from bot.storage import epoch_times
from bot.storage.db import Database, StorageError
from bot.storage.migrations import LATEST, MIGRATIONS
from bot.storage.templates import Saved
from tests.support.deploy_fixtures import run_forked
from tests.support.engines import select


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
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
        operator = await db.people.operator(42)
        assert operator is not None and operator.name == "Old Timer"
    finally:
        await db.close()


# A file as today's deployments hold it: schema version 1, a row in every table, and the owed outcome and notice
# markers that version 1 kept in `kv` ('outcome_owed:<send id>', 'notice_owed:<send id>' -> when it became owed).
VERSION_1_ROWS = """
INSERT INTO operators (user_id, role, name, added_by, added_at, active) VALUES
  (1, 'admin', '', NULL, '2025-05-01T08:00:00+00:00', 1),
  (7, 'operator', 'Oleg', 1, '2025-05-02T09:00:00+00:00', 1),
  (8, 'operator', 'Gone', 1, '2025-05-02T09:30:00+00:00', 0);
INSERT INTO people (user_id, name, username, locale, last_locale, last_seen_at) VALUES
  (1, 'Alice', 'alice', NULL, 'en', '2025-05-03T10:00:00+00:00'),
  (7, 'Oleg', NULL, 'ru', 'ru', '2025-05-03T10:05:00+00:00');
INSERT INTO access_requests (id, user_id, name, username, locale, status, created_at, decided_by, decided_at) VALUES
  (1, 7, 'Oleg', NULL, 'ru', 'approved', '2025-05-02T08:55:00+00:00', 1, '2025-05-02T09:00:00+00:00'),
  (2, 9, 'Eve', 'eve', 'en', 'pending', '2025-05-03T11:00:00+00:00', NULL, NULL);
INSERT INTO access_request_messages (request_id, chat_id, message_id) VALUES (1, 1, 11), (2, 1, 12);
INSERT INTO audit_log (id, at, actor_id, action, target_id, details) VALUES
  (1, '2025-05-02T08:55:00+00:00', 7, 'request', 7, ''),
  (2, '2025-05-02T09:00:00+00:00', 1, 'allow', 7, ''),
  (3, '2025-05-03T11:00:00+00:00', 9, 'request', 9, '');
INSERT INTO sends (id, user_id, chat_id, msisdn, sender, text, encoding, parts, state, preview_message_id,
                   result_message_id, gateway_id, balance_after, error_code, error_text, status_code, status_name,
                   final, locale, created_at, sent_at, final_at, updated_at) VALUES
  (1, 7, 7, '79041764995', 'OnCall', 'a draft', 'GSM-7', 1, 'draft', 21, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   0, 'ru', '2025-05-04T10:00:00+00:00', NULL, NULL, '2025-05-04T10:00:01+00:00'),
  (2, 7, 7, '79041764995', 'OnCall', 'cancelled', 'GSM-7', 1, 'cancelled', 22, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, 0, 'ru', '2025-05-04T10:01:00+00:00', NULL, NULL, '2025-05-04T10:01:05+00:00'),
  (3, 1, 1, '79041764995', 'Backup', 'in flight at the crash', 'GSM-7', 1, 'sending', 23, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, 0, 'en', '2025-05-04T10:02:00+00:00', NULL, NULL, '2025-05-04T10:02:03+00:00'),
  (4, 1, 1, '79041764995', 'OnCall', 'being tracked', 'GSM-7', 1, 'accepted', 24, 24, 'gw-4', '998.50', NULL,
   NULL, 3, 'ACCEPTD', 0, 'en', '2025-05-04T10:03:00+00:00', '2025-05-04T10:03:02+00:00', NULL,
   '2025-05-04T10:03:02+00:00'),
  (5, 1, 1, '79041764995', 'OnCall', 'delivered, notice owed', 'GSM-7', 1, 'accepted', 25, 26, 'gw-5', '997.00',
   NULL, NULL, 4, 'DELIVRD', 1, 'en', '2025-05-04T10:04:00+00:00', '2025-05-04T10:04:02+00:00',
   '2025-05-04T10:05:00+00:00', '2025-05-04T10:05:00+00:00'),
  (6, 7, 7, '79041764995', 'OnCall', 'refused, outcome owed', 'UCS-2', 2, 'failed', 27, NULL, NULL, NULL, 3,
   'GatewayRejected', NULL, NULL, 0, 'ru', '2025-05-04T10:06:00+00:00', NULL, '2025-05-04T10:06:01+00:00',
   '2025-05-04T10:06:01+00:00'),
  (7, 7, 7, '79041764995', 'OnCall', 'no answer, outcome owed', 'GSM-7', 1, 'unknown', 28, NULL, NULL, NULL, NULL,
   'no answer', NULL, NULL, 0, 'ru', '2025-05-04T10:07:00+00:00', NULL, NULL, '2025-05-04T10:07:30+00:00'),
  (8, 1, 1, '79041764995', 'OnCall', 'window ran out, told', 'GSM-7', 1, 'accepted', 29, 30, 'gw-8', '996.00',
   NULL, NULL, 3, 'ACCEPTD', 0, 'en', '2025-05-03T10:00:00+00:00', '2025-05-03T10:00:02+00:00',
   '2025-05-04T10:00:02+00:00', '2025-05-04T10:00:02+00:00');
INSERT INTO tracking (send_id, next_check_at, interval, attempts, deadline_at) VALUES (4, 1746353000.5, 20.0, 2, 1746356582.0);
INSERT INTO kv (key, value) VALUES
  ('outcome_owed:6', '2025-05-04T10:06:01+00:00'),
  ('outcome_owed:7', '2025-05-04T10:07:30+00:00'),
  ('notice_owed:5', '2025-05-04T10:05:00+00:00'),
  ('low_balance_warned', '997.00'),
  ('outcome_owed:99', '2025-05-01T00:00:00+00:00');  -- no such send: nothing to attach it to, so it stays
"""
OWED_OUTCOMES = {6: 1746353161, 7: 1746353250}  # 2025-05-04 10:06:01 and 10:07:30 UTC (issue 26.3: epoch seconds)
OWED_NOTICES = {5: 1746353100}  # 2025-05-04 10:05:00 UTC


def as_stored(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows of an older file as migration 18 leaves them: ISO times as epoch seconds."""
    return [
        {
            k: epoch_times.iso_epoch(v) if isinstance(v, str) and epoch_times.is_time_column(k, "TEXT") else v
            for k, v in r.items()
        }
        for r in rows
    ]


def dump(path: Path) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, as plain dicts in rowid order (read outside the bot)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [dict(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in tables}


def schema(path: Path) -> set[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {(r[0], r[1]) for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}


@pytest.mark.sqlite_only
async def test_a_version_1_file_upgrades_without_losing_a_row_or_a_marker(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(f"{MIGRATIONS[0]}\nPRAGMA user_version = 1;\n{VERSION_1_ROWS}")
        conn.commit()
    before = dump(path)
    db = await Database.open(path)
    try:
        assert await db.schema_version() == LATEST
        # The markers are where the code looks for them now, with the moment they became owed.
        assert {r.id: r.outcome_owed_at for r in await db.sends.owed_outcomes()} == OWED_OUTCOMES
        assert {r.id: r.notice_owed_at for r in await db.tracking.owed_notices()} == OWED_NOTICES
        assert await db.kv.get("low_balance_warned") == "997.00"
        [(tracked, send)] = await db.tracking.due(1746353000.5, limit=10)
        assert (tracked.send_id, tracked.attempts, send.gateway_id) == (4, 2, "gw-4")
        assert [r.id for r in await db.sends.interrupted()] == [3]
        assert await db.people.operator(7) is not None and await db.people.operator(8) is None
        assert [a["action"] for a in await db.access.audit()] == ["request", "allow", "request"]
    finally:
        await db.close()
    after = dump(path)
    # Every table keeps every row; sends only gained its new columns; kv lost only the moved markers; the new
    # tables of later migrations (3: seen_updates, 4: fsm_states, 5: templates, 6: the team feed and alerts,
    # 7: the watchdog's notices and resends, 8: the address book, 9: batches, 10: duty, 12: alert digests) start
    # empty.
    later = {"templates", "feed_lines", "alert_groups", "alert_messages", "delivery_alerts", "resends"}
    later |= {"names", "contacts", "recipient_groups", "group_members", "duty", "batches", "batch_members"}
    later |= {"duty_rotation", "duty_override", "duty_handoffs"}  # 10: duty by schedule
    later |= {"alert_digests", "alert_digest_messages", "alert_drafts"}  # 12: alert digests and drafts
    later |= {"leases"}  # the replicas' leases (issue 27)
    later |= {"escalation_steps", "escalation_sends"}  # the ladder and its auto-SMS (issue 28)
    # 14: ids never reused — SQLite's counters of AUTOINCREMENT tables, at 0 here.
    assert set(after) - set(before) == {"seen_updates", "fsm_states", "sqlite_sequence", *later}
    assert after["fsm_states"] == [] and all(after[t] == [] for t in later)
    assert {r["seq"] for r in after["sqlite_sequence"]} == {0}
    for table in before:
        if table not in ("sends", "kv", "seen_updates"):
            assert after[table] == as_stored(before[table]), table
    added = ("outcome_owed_at", "notice_owed_at", "claimed_at", "erased_at", "expired_at", "recipient_name")  # 2-9
    added += ("recipient_via",)  # 11
    assert [{k: v for k, v in r.items() if k not in added} for r in after["sends"]] == as_stored(before["sends"])
    assert {r["id"]: r["outcome_owed_at"] for r in after["sends"] if r["outcome_owed_at"]} == OWED_OUTCOMES
    assert {r["id"]: r["notice_owed_at"] for r in after["sends"] if r["notice_owed_at"]} == OWED_NOTICES
    assert after["kv"] == [r for r in before["kv"] if r["key"] in ("low_balance_warned", "outcome_owed:99")]
    # An upgraded file has the very schema of a new one.
    fresh = await Database.open(tmp_path / "fresh.sqlite3")
    await fresh.close()
    assert schema(path) == schema(tmp_path / "fresh.sqlite3")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_owed_markers_are_set_and_cleared_on_the_send_row(tmp_path: Path, database_url: str | None) -> None:
    db = await Database.connect(tmp_path / "bot.sqlite3", database_url)
    try:
        drafts = [
            await db.sends.create_draft(
                user_id=1,
                chat_id=1,
                msisdn="79041764995",
                sender="A",
                text=f"t{i}",
                encoding="GSM-7",
                parts=1,
                locale="en",
            )
            for i in range(4)
        ]
        for draft in drafts:
            assert await db.sends.claim(draft.id, 1) is not None
        failed = await db.sends.mark_failed(drafts[0].id, 3, "SendFailed")
        unknown = await db.sends.mark_unknown(drafts[1].id, "no answer")
        quiet = await db.sends.mark_unknown(drafts[2].id, "interrupted", owed=False)
        assert failed is not None and failed.state == "failed" and failed.outcome_owed_at is not None
        assert unknown is not None and unknown.state == "unknown" and unknown.outcome_owed_at is not None
        assert quiet is not None and quiet.outcome_owed_at is None
        assert await db.sends.mark_failed(drafts[0].id, 3, "again") is None  # no longer `sending`: nothing written
        assert [r.id for r in await db.sends.owed_outcomes()] == [drafts[0].id, drafts[1].id]
        await db.sends.outcome_shown(drafts[0].id)
        assert [r.id for r in await db.sends.owed_outcomes()] == [drafts[1].id]

        accepted = await db.sends.mark_accepted(
            drafts[3].id, "gw-1", Decimal("10.5"), first_check_at=1.0, interval=10.0, deadline_at=100.0
        )
        assert accepted is not None and (accepted.state, accepted.gateway_id, accepted.balance_after) == (
            "accepted",
            "gw-1",
            "10.5",
        )
        [(tracked, send)] = await db.tracking.due(5.0, limit=10)
        assert (tracked.send_id, send) == (accepted.id, accepted)
        await db.tracking.reschedule(send, next_check_at=20.0, interval=20.0, status=(3, "ACCEPTD"))
        assert await db.tracking.due(5.0, limit=10) == []
        [(tracked, send)] = await db.tracking.due(20.0, limit=10)
        assert (tracked.attempts, tracked.interval, send) == (1, 20.0, accepted)  # the same status: not rewritten
        await db.tracking.reschedule(send, next_check_at=40.0, interval=40.0, status=(1, "ENROUTE"))
        [(tracked, send)] = await db.tracking.due(40.0, limit=10)
        assert (tracked.attempts, send.status_code, send.status_name) == (2, 1, "ENROUTE")
        finished = await db.tracking.finish(accepted.id, status=(4, "DELIVRD"), final=True, notice_owed=True)
        assert finished is not None and (finished.status_name, finished.final) == ("DELIVRD", 1)
        assert finished.notice_owed_at is not None and await db.tracking.depth() == 0
        assert [r.id for r in await db.tracking.owed_notices()] == [accepted.id]
        await db.tracking.notice_given(accepted.id)
        assert await db.tracking.owed_notices() == []
    finally:
        await db.close()


@pytest.mark.sqlite_only
async def test_newer_file_is_refused_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 5}")
    with pytest.raises(StorageError, match="newer than this bot knows"):
        await Database.open(path)


@pytest.mark.sqlite_only
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
    run = run_forked([], env, tmp_path, timeout=60)  # a process of its own, forked: the imports are not the subject
    assert run.returncode == 2
    assert "newer than this bot knows" in run.stderr and "Traceback" not in run.stderr
    # The file is untouched.
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST + 5


async def test_one_claim_wins_among_many(tmp_path: Path, database_url: str | None) -> None:
    db = await Database.connect(tmp_path / "bot.sqlite3", database_url)
    try:
        row = await db.sends.create_draft(
            user_id=1, chat_id=1, msisdn="79041764995", sender="A", text="t", encoding="GSM-7", parts=1, locale="en"
        )
        results = await asyncio.gather(*(db.sends.claim(row.id, 1) for _ in range(20)))
        [claimed] = [r for r in results if r is not None]
        assert claimed.id == row.id and claimed.state == "sending"  # the winner gets the row it wrote
        assert await db.sends.claim(row.id, 2) is None  # someone else's draft is never theirs to send
        assert await db.sends.cancel(row.id, 1) is None  # a draft that is being sent cannot be cancelled
        interrupted = await db.sends.interrupted()
        assert [r.id for r in interrupted] == [row.id]
        written = await db.sends.mark_unknown(row.id, "interrupted", owed=False)
        assert written is not None and written.state == "unknown"
        again = await db.sends.get(row.id)
        assert again == written
    finally:
        await db.close()


async def test_operators_and_languages_survive_reopening(tmp_path: Path, database_url: str | None) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.connect(path, database_url)
    await db.people.sync_admins([1])
    assert await db.access.allow(7, by=1, name="Oleg")
    await db.people.set_locale(7, "ru")
    await db.close()
    db = await Database.connect(path, database_url)
    try:
        assert (await db.people.operator(7)) is not None
        assert await db.people.locale_for(7) == "ru"
        assert [a["action"] for a in await db.access.audit()] == ["allow"]
    finally:
        await db.close()


async def test_kv_values_are_kept_across_reopening(tmp_path: Path, database_url: str | None) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.connect(path, database_url)
    assert await db.kv.get("low_balance_warned") is None  # remembered as missing, then set: the cache follows
    await db.kv.set("low_balance_warned", "12.50")
    assert await db.kv.get("low_balance_warned") == "12.50"
    await db.close()
    db = await Database.connect(path, database_url)
    try:
        assert await db.kv.get("low_balance_warned") == "12.50"
        await db.kv.set("low_balance_warned", None)
        assert await db.kv.get("low_balance_warned") is None
    finally:
        await db.close()
    assert select(database_url or path, "SELECT COUNT(*) AS n FROM kv")[0]["n"] == 0


async def test_ids_of_the_address_book_are_never_reused_and_the_upgrade_keeps_rows(tmp_path: Path) -> None:
    """Issue 24 row 6: a file from before migration 14 keeps its contacts, groups, members, duty and templates;
    an id deleted before or after the upgrade is never given again."""
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript("\n".join(MIGRATIONS[:9]) + "\nPRAGMA user_version = 9;")
        conn.executescript(
            """
            INSERT INTO names VALUES ('ivan', 'contact'), ('olga', 'contact'), ('night', 'group');
            INSERT INTO contacts VALUES (1, 'Ivan', 'ivan', '79041764995', 1, 't', 't');
            INSERT INTO contacts VALUES (2, 'Olga', 'olga', '79161234567', 1, 't', 't');
            INSERT INTO recipient_groups VALUES (1, 'Night', 'night', 1, 't', 't');
            INSERT INTO group_members VALUES (1, 0, 2, NULL);
            INSERT INTO duty VALUES (1, 2, NULL, NULL, 1, 't');
            INSERT INTO templates (id, key, name, text, saved_by, saved_at) VALUES (4, 'db', 'db', 'DB down', 1, 't');
            INSERT INTO audit_log (at, actor_id, action, target_id) VALUES ('t', 1, 'contact_delete', 3);
            """
        )
    db = await Database.open(path)
    try:
        assert await db.schema_version() == LATEST
        assert [c.name for c in await db.directory.contacts(10)] == ["Ivan", "Olga"]
        assert [m.name for m in await db.directory.members(1)] == ["Olga"]
        duty = await db.directory.duty()
        assert duty is not None and duty.contact is not None and duty.contact.name == "Olga"
        assert (await db.templates.by_key("db")) is not None
        await db.directory.delete_contact(2, 1)
        added, _ = await db.directory.save_contact("Petr", "79261234567", 1)
        assert added.id == 4  # not 2 (deleted now), not 3 (deleted before the upgrade, in the audit log)
        assert await db.directory.members(1) == [] and await db.directory.duty() is None  # cascades still work
        await db.templates.delete(4, 1)
        saved = await db.templates.save("web", "web", "Web down", 1)
        assert isinstance(saved, Saved) and saved.template.id == 5
    finally:
        await db.close()
