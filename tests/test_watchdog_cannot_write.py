"""The watchdog's notice is recorded as given before it is sent (issue 24, row 14): when the database cannot be
written once the notice is decided (disk full, locked, read-only), the phone rings once, not every 5 s.

The fault is SQLite's own refusal on the bot's real connection, as in tests/test_storage_faults.py: from the
moment the notice is decided, every writing statement fails with "database or disk is full"."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeTelegramTimeout
from tests.conftest import ADMIN
from tests.fault_support import trap_logs

NEVER_FINAL = "79000000031"  # the sandbox keeps it 3|ACCEPTD forever
FAST = {"delivery_alert_minutes": 0.02}  # 1.2 s
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|BEGIN\s+IMMEDIATE)", re.IGNORECASE)
QUIET = 12.0  # seconds: more than two of the watchdog's 5 s retries after a failed round


def full_after_the_notice_is_decided(conn: Any) -> Callable[[], None]:
    """Every write fails with SQLITE_FULL's words once a watchdog notice was inserted; returns undo."""
    original = conn._execute
    full = False

    async def execute(fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal full
        sql = args[0] if args and isinstance(args[0], str) else ""
        if full and WRITES.match(sql):
            raise sqlite3.OperationalError("database or disk is full")
        result = await original(fn, *args, **kwargs)
        if "INSERT INTO delivery_alerts" in sql:
            full = True
        return result

    conn._execute = execute

    def undo() -> None:
        conn._execute = original

    return undo


def alarms(messages: list[BotMessage]) -> list[BotMessage]:
    return [m for m in messages if "Not delivered after" in m.plain]


async def test_a_notice_that_cannot_be_recorded_rings_once(tmp_path: Path) -> None:
    with trap_logs(20):
        async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=FAST) as h:
            alice = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
            await alice.send(f"/send {NEVER_FINAL} Backup job failed")
            preview = await alice.wait_for(lambda m: "Check before sending" in m.plain)
            undo = full_after_the_notice_is_decided(h.app.db._conn)
            try:
                await alice.press(preview, "✅ Send")
                await alice.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
                await alice.wait_for(lambda m: "Not delivered after" in m.plain, timeout=10)
                # Another ring within two retry rounds is the fault: none may come.
                with pytest.raises(FakeTelegramTimeout):
                    await alice.wait_for(lambda m: "Not delivered after" in m.plain and not m.edited, timeout=QUIET)
                assert len(alarms(alice.messages)) == 1
            finally:
                undo()
            assert len(h.gateway.sent) == 1
