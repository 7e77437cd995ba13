"""Shared helpers of the "break it on purpose" tests: a log trap, database snapshots and invariants.

The invariants every fault test ends with:

* the bot keeps serving: a following ``/help`` is answered (:func:`assert_serving`);
* the database is consistent: no ``sends`` row is stuck in ``sending``, and every send request the gateway
  received belongs to a row (:func:`assert_db_consistent`) — the row is written before the gateway is called;
* no update ended in an unhandled exception (:func:`unhandled`): the errors router's "unhandled ..." record
  or aiogram's own "Cause exception while process update" record.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeTelegram, FakeUser

#: What /help answers (in English): the anchor of "the bot keeps serving".
HELP_ANCHOR = "/send"
#: Tables that a stranger's update may write to (the access request and its audit trail).
ACCESS_TABLES = frozenset({"access_requests", "access_request_messages", "audit_log"})


class LogTrap(logging.Handler):
    """Keeps every record of every logger (installed on the root logger, level DEBUG by default)."""

    def __init__(self, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int = 0) -> list[logging.LogRecord]:
        return self.records[mark:]

    def render(self, record: logging.LogRecord) -> str:
        """Everything a handler could write for this record: message, arguments, extras, traceback, stack."""
        parts = [self._formatter.format(record), repr(record.args), repr(record.msg)]
        parts += [f"{k}={v!r}" for k, v in vars(record).items() if k not in ("args", "msg", "exc_info")]
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            parts += [self._formatter.formatException(record.exc_info), repr(exc), str(exc.args)]
        if record.stack_info:
            parts.append(record.stack_info)
        return "\n".join(parts)


@contextmanager
def trap_logs(level: int = logging.DEBUG) -> Iterator[LogTrap]:
    """Install a :class:`LogTrap` on the root logger (and lower the root's level) for the block."""
    trap = LogTrap(level)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(trap)
    root.setLevel(min(level, old_level) if old_level else level)
    try:
        yield trap
    finally:
        root.removeHandler(trap)
        root.setLevel(old_level)


def unhandled(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """Records of updates that ended in an exception no handler dealt with."""
    return [
        r
        for r in records
        if r.levelno >= logging.ERROR
        and (
            (r.name == "bot.handlers.errors" and r.getMessage().startswith("unhandled"))
            or r.name == "aiogram.event"
            or "Cause exception while process update" in r.getMessage()
        )
    ]


def describe(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.name} {r.levelname}: {r.getMessage()}" for r in records)


# --- the database --------------------------------------------------------------------------------------
def connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def rows(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    conn = connect(db_path)
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def sends(db_path: Path) -> list[dict[str, Any]]:
    return rows(db_path, "SELECT * FROM sends ORDER BY id")


def dump(db_path: Path, *, exclude: frozenset[str] = frozenset()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but ``exclude``), in a stable order: compare two dumps to find any write."""
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        ]
        return {
            t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
            for t in sorted(tables)
            if t not in exclude
        }
    finally:
        conn.close()


def assert_db_consistent(rig: Harness) -> None:
    """No row stuck in `sending`; every send the gateway received has its row (matched by number and text)."""
    all_sends = sends(rig.db_path)
    stuck = [r["id"] for r in all_sends if r["state"] == "sending"]
    assert not stuck, f"rows stuck in 'sending': {stuck}"
    recorded = {(r["msisdn"], r["text"]) for r in all_sends if r["state"] not in ("draft", "cancelled")}
    for request in rig.gateway.requests:
        if request.action != "send":
            continue
        key = (request.fields.get("MSISDN", ""), request.fields.get("Message", ""))
        assert key in recorded, f"the gateway got a send without a sends row: {key}"


async def assert_serving(user: FakeUser, timeout: float = 30.0) -> BotMessage:
    """The bot still answers: /help gets the command list."""
    user.mark_seen()
    started = time.monotonic()
    await user.send("/help")
    reply = await user.wait_for(lambda m: HELP_ANCHOR in m.plain and "/balance" in m.plain, timeout=timeout)
    assert time.monotonic() - started < timeout
    return reply


async def eventually(condition: Callable[[], bool], timeout: float, step: float = 0.05) -> None:
    """Wait until `condition()` holds (for state that has no event to wait on); AssertionError after `timeout`."""
    for _ in range(max(1, int(timeout / step))):
        if condition():
            return
        await asyncio.sleep(step)
    assert condition(), f"not true after {timeout}s"


def parse_errors(server: FakeTelegram) -> list[str]:
    """Error answers that mean the bot produced a malformed message (unescaped text, too long, empty)."""
    bad = ("can't parse entities", "message is too long", "message text is empty", "BUTTON_DATA_INVALID")
    return [f"{e.method}: {e.description}" for e in server.errors if any(b in e.description for b in bad)]


def telegram_text(server: FakeTelegram, *, chat_ids: set[int], query_ids: set[str]) -> str:
    """Everything the bot sent that people in `chat_ids` (or the senders of `query_ids`) could read."""
    out: list[str] = []
    for call in server.calls:
        params = call.params
        if params.get("chat_id") in chat_ids or str(params.get("callback_query_id", "")) in query_ids:
            out.append(repr(params))
        if call.method == "answerInlineQuery" and str(params.get("inline_query_id", "")) in query_ids:
            out.append(repr(params))
    return "\n".join(out)
