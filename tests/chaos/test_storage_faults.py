"""Storage faults: the database cannot be written — read-only, locked by another process, disk full.

Each fault is put on a running bot, then an operator tries what writes: a one-shot ``/send`` (a draft row), the
Send press on a preview made before the fault (the ``draft → sending`` claim), a guided ``/send``, and a first
update from an admin the bot has not seen since it started (it records who they are). Every attempt must get a
clear answer in words within 30 s and leave a log line, and no SMS may leave without its row: every send the
gateway received matches a ``sends`` row. Reads keep working (``/balance``, ``/help``, ``/history``) where the
fault allows reads. After the fault is lifted, the bot sends normally again.

How each fault is made (we run as root, so file permissions stop nothing):

* read-only — ``PRAGMA query_only = ON`` on the bot's own connection: SQLite then refuses every write with
  ``attempt to write a readonly database``, exactly as for a read-only file or mount;
* locked — another PROCESS (a ``python -c`` child) holds ``BEGIN EXCLUSIVE``; in WAL mode readers go on and
  writers wait ``busy_timeout`` then get ``database is locked``. The bot's busy_timeout (5 s) is lowered to
  0.3 s on its connection: each of the test's ten or so writes waits it out, and what the operator is shown
  does not depend on its length;
* disk full — SQLite reports ``database or disk is full`` (SQLITE_FULL) when a write needs space it cannot get.
  A small filesystem cannot be mounted here, and ``PRAGMA max_page_count`` only bites when a write needs a NEW
  page (most small inserts and updates fit in the pages a fresh database already has), so it does not fail
  writes reliably. The stand-in: the bot's aiosqlite connection raises
  ``sqlite3.OperationalError("database or disk is full")`` for every writing statement
  (INSERT/UPDATE/DELETE/REPLACE/BEGIN IMMEDIATE), at the point where SQLite itself would raise it, while
  reads go through. A second case fills the disk in the worst window — after the ``draft → sending`` claim,
  before the outcome is recorded — to show that a send the gateway accepted is not lost: the row stays and
  becomes ``unknown`` (with a notice) when the bot restarts on a healthy disk, and the log names the
  gateway's id.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.support.fault_support import LogTrap, assert_db_consistent, assert_serving, eventually, sends, trap_logs

ADMIN = 1001
LATE_ADMIN = 1002  # an admin who writes for the first time while the database is broken
PATIENCE = 30.0
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|BEGIN\s+IMMEDIATE)", re.IGNORECASE)
STORAGE_WORDS = "database"  # the answer names the cause


def disk_full(conn: Any, *, when: Callable[[str], bool] = lambda sql: True) -> Callable[[], None]:
    """Make the bot's aiosqlite connection fail writing statements with SQLITE_FULL's message; returns undo."""
    original = conn._execute

    async def execute(fn: Any, *args: Any, **kwargs: Any) -> Any:
        sql = args[0] if args and isinstance(args[0], str) else ""
        if WRITES.match(sql) and when(sql):
            raise sqlite3.OperationalError("database or disk is full")
        return await original(fn, *args, **kwargs)

    conn._execute = execute

    def undo() -> None:
        conn._execute = original

    return undo


@contextmanager
def locked_by_another_process(db_path: Path) -> Iterator[None]:
    script = (
        "import sqlite3, sys\n"
        f"conn = sqlite3.connect({str(db_path)!r}, isolation_level=None, timeout=10)\n"
        "conn.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        yield
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


@asynccontextmanager
async def bot(tmp_path: Path) -> AsyncIterator[tuple[Harness, LogTrap, FakeUser]]:
    with trap_logs(20) as trap:
        async with Harness(tmp_path, admin_ids=(ADMIN, LATE_ADMIN)) as h:
            admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
            await assert_serving(admin)
            yield h, trap, admin


async def preview_for(user: FakeUser, command: str) -> BotMessage:
    await user.send(command)
    return await user.wait_for(lambda m: "Check before sending" in m.plain, timeout=PATIENCE)


def send_requests(h: Harness) -> int:
    return sum(1 for r in h.gateway.requests if r.action == "send")


async def tries_to_write(h: Harness, trap: LogTrap, admin: FakeUser, draft: BotMessage) -> None:
    """What an operator does that writes; each answered in words within 30 s, with a log line; nothing sent."""
    sends_before = send_requests(h)

    async def answered(step: Callable[[], Awaitable[Any]], predicate: Callable[[BotMessage], bool]) -> BotMessage:
        mark = trap.mark()
        admin.mark_seen()
        started = time.monotonic()
        await step()
        reply = await admin.wait_for(predicate, timeout=PATIENCE)
        assert time.monotonic() - started < PATIENCE
        assert STORAGE_WORDS in reply.plain, reply.plain
        assert [r for r in trap.since(mark) if r.levelno >= 40], "no log line"
        return reply

    await answered(lambda: admin.send("/send 79041764995 one shot"), lambda m: STORAGE_WORDS in m.plain)
    # The press on a preview made before the fault: an alert, and no SMS.
    cq = await admin.press(draft, "✅ Send")
    answer = await h.telegram.callback_answer(cq, timeout=PATIENCE)
    assert answer.show_alert and answer.text and STORAGE_WORDS in answer.text, answer
    # Guided: the steps are kept in the database (so that they survive a restart): the first one says it.
    await answered(lambda: admin.send("/send"), lambda m: STORAGE_WORDS in m.plain)
    assert send_requests(h) == sends_before
    assert_db_consistent(h)


async def reads_and_recovers(h: Harness, admin: FakeUser, late: FakeUser | None) -> None:
    await admin.send("/balance")
    assert "Balance" in (await admin.wait_for(lambda m: "Balance" in m.plain, timeout=PATIENCE)).plain
    await assert_serving(admin)
    if late is not None:  # someone the bot has not seen since it started can still read
        await late.send("/balance")
        await late.wait_for(lambda m: "Balance" in m.plain, timeout=PATIENCE)


async def sends_again(h: Harness, admin: FakeUser) -> None:
    preview = await preview_for(admin, "/send 79041764995 after the fault")
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=PATIENCE)
    assert_db_consistent(h)


async def test_read_only_database(tmp_path: Path) -> None:
    async with bot(tmp_path) as (h, trap, admin):
        assert h.app is not None
        draft = await preview_for(admin, "/send 79041764995 drafted before")
        late = h.telegram.user(LATE_ADMIN, first_name="Bob", language_code="en")
        await h.app.db._conn.execute("PRAGMA query_only = ON")
        await tries_to_write(h, trap, admin, draft)
        await reads_and_recovers(h, admin, late)
        await h.app.db._conn.execute("PRAGMA query_only = OFF")
        await sends_again(h, admin)


async def test_database_locked_by_another_process(tmp_path: Path) -> None:
    async with bot(tmp_path) as (h, trap, admin):
        assert h.app is not None
        draft = await preview_for(admin, "/send 79041764995 drafted before")
        late = h.telegram.user(LATE_ADMIN, first_name="Bob", language_code="en")
        await h.app.db._conn.execute("PRAGMA busy_timeout = 300")
        with locked_by_another_process(h.db_path):
            await tries_to_write(h, trap, admin, draft)
            await reads_and_recovers(h, admin, late)
        await sends_again(h, admin)


async def test_disk_full(tmp_path: Path) -> None:
    async with bot(tmp_path) as (h, trap, admin):
        assert h.app is not None
        draft = await preview_for(admin, "/send 79041764995 drafted before")
        late = h.telegram.user(LATE_ADMIN, first_name="Bob", language_code="en")
        undo = disk_full(h.app.db._conn)
        try:
            await tries_to_write(h, trap, admin, draft)
            await reads_and_recovers(h, admin, late)
        finally:
            undo()
        await sends_again(h, admin)


async def test_disk_fills_after_the_claim(tmp_path: Path) -> None:
    """The worst window: the claim is written, the gateway accepts, then nothing more can be written."""
    async with bot(tmp_path) as (h, trap, admin):
        assert h.app is not None
        preview = await preview_for(admin, "/send 79041764995 in the window")
        # The preview's id is stored just after it is shown: the disk fills after that.
        await eventually(lambda: any(r["preview_message_id"] for r in sends(h.db_path)), PATIENCE)
        undo = disk_full(h.app.db._conn, when=lambda sql: "state = 'sending'" not in sql)
        mark = trap.mark()
        try:
            cq = await admin.press(preview, "✅ Send")
            answer = await h.telegram.callback_answer(cq, timeout=PATIENCE)
            # The press was answered at once ("Sending…"); what went wrong after it comes as a message.
            told = await admin.wait_for(lambda m: "/history" in m.plain, timeout=PATIENCE)
        finally:
            undo()
        assert answer.text == "Sending…", answer
        assert told.message_id != preview.message_id, told.plain
        [sent] = h.gateway.sent
        [row] = [r for r in sends(h.db_path) if r["text"] == "in the window"]
        assert row["state"] == "sending"  # the fact that a send was attempted is kept
        assert any(sent.id in r.getMessage() for r in trap.since(mark) if r.levelno >= 40), "gateway id not logged"
        await h.restart()
        await h.telegram.wait_for_poll()  # polling really started (stopping before it does would not stop it)
        notice = await admin.wait_for(lambda m: "restarted while sending" in m.plain, timeout=PATIENCE)
        assert "904\u00a0176\u201149\u201195" in notice.plain
        [row] = [r for r in sends(h.db_path) if r["text"] == "in the window"]
        assert row["state"] == "unknown"
        assert len(h.gateway.sent) == 1
        assert_db_consistent(h)
