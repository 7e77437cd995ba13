"""The watchdog's notice is recorded as given before it is sent (issue 24, row 14): when the database cannot be
written once the notice is decided (disk full, locked, read-only), the phone rings once, not every 5 s.

The fault is SQLite's own refusal on the bot's real connection, as in tests/test_storage_faults.py: from the
moment the notice is decided, every writing statement fails with "database or disk is full".

The watchdog's wait after a failed round (5 s) is set small, and the test waits for the watchdog's own rounds
(each begins by reading the notices owed) instead of a fixed quiet time: three rounds after the notice, two
of them after the failed one, and still one ring."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import Any

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage
from tests.conftest import ADMIN
from tests.support.fault_support import trap_logs

NEVER_FINAL = "79000000031"  # the sandbox keeps it 3|ACCEPTD forever
FAST = {"delivery_alert_minutes": 0.02}  # 1.2 s: also the longest the watchdog sleeps between ordinary rounds
RETRY = 0.2  # seconds after a failed round (the bot's own wait is 5 s)
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|BEGIN\s+IMMEDIATE)", re.IGNORECASE)
ROUND = "FROM delivery_alerts a JOIN sends s"  # what the watchdog reads first in each round (the notices owed)


class FullAfterTheNoticeIsDecided:
    """Every write fails with SQLITE_FULL's words once a watchdog notice was inserted; `rounds` counts the
    watchdog's rounds begun (`changed` is set at each)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.original = conn._execute
        self.full = False
        self.rounds = 0
        self.changed = asyncio.Event()
        conn._execute = self.execute

    async def execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sql = args[0] if args and isinstance(args[0], str) else ""
        if ROUND in sql:
            self.rounds += 1
            self.changed.set()
        if self.full and WRITES.match(sql):
            raise sqlite3.OperationalError("database or disk is full")
        result = await self.original(fn, *args, **kwargs)
        if "INSERT INTO delivery_alerts" in sql:
            self.full = True
        return result

    async def more_rounds(self, n: int, timeout: float = 20) -> None:
        target = self.rounds + n
        async with asyncio.timeout(timeout):
            while self.rounds < target:
                self.changed.clear()
                await self.changed.wait()

    def undo(self) -> None:
        self.conn._execute = self.original


def alarms(messages: list[BotMessage]) -> list[BotMessage]:
    return [m for m in messages if "Not delivered after" in m.plain]


async def test_a_notice_that_cannot_be_recorded_rings_once(tmp_path: Path) -> None:
    with trap_logs(20):
        async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=FAST) as h:
            assert h.app is not None and h.app.watchdog is not None
            h.app.watchdog.retry = RETRY
            alice = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
            await alice.send(f"/send {NEVER_FINAL} Backup job failed")
            preview = await alice.wait_for(lambda m: "Check before sending" in m.plain)
            full = FullAfterTheNoticeIsDecided(h.app.db._conn)
            try:
                await alice.press(preview, "✅ Send")
                await alice.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
                await alice.wait_for(lambda m: "Not delivered after" in m.plain, timeout=10)
                # Another ring in the rounds after the failed one is the fault: none may come. A ring of a round
                # is sent before the next round begins.
                await full.more_rounds(3)
                assert len(alarms(alice.messages)) == 1
            finally:
                full.undo()
            assert len(h.gateway.sent) == 1
