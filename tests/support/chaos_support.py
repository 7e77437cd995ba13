"""What the chaos tests (tests/chaos/test_chaos_model.py, tests/chaos/test_crash_trials.py) share: the ledger that matches
what the gateway received to rows of the send log, the invariants, what an operator saw, and log scanning.

Every SMS text carries a unique token (``Zq<run>n<n>``), so a gateway request, a row of the send log and the
messages in a chat can be matched to each other without trusting the bot's own ids.

The invariants are what a person on call would notice:
* ``double_send``: the gateway received a send of one draft more than once (someone woken twice);
* ``sent_unconfirmed``: the gateway received a send of a draft that is cancelled or was never confirmed;
* ``failed_but_sent``: the operator was told "Nothing was sent" but the gateway took it (they would resend);
* ``accepted_mismatch``: "Sent, id X" but the gateway has no such SMS, or another id;
* ``lost``: the gateway took an SMS the send log has no record of, or a confirmed row went back to a draft or
  vanished; ``stuck``: a row in ``sending`` after a restart (the operator never learns what became of it);
* ``untracked``: an accepted SMS with neither a tracking row nor a final status (no delivery notice ever);
* ``integrity``: the SQLite file fails ``PRAGMA integrity_check`` (PostgreSQL: a killed bot's session outlives it,
  or amcheck finds an index broken);
* ``unhandled``: an exception escaped to aiogram's logger or our error net;
* ``not_told``: a settled SMS whose outcome the operator was never shown (or was shown a wrong one);
* ``misreported``: the row's outcome disagrees with what the gateway did (e.g. a 500 recorded as "not sent",
  which invites a second, duplicate send).
* ``unsent``: a recipient of a pressed send to several recipients never attempted, at rest (the press was made:
  after a restart it must go out). Batch tokens are ``Zq<run>b<n>``; `audit_batches` checks them per
  recipient (the gateway's requests matched by token and number).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import BotMessage, FakeTelegram
from tests.support.dbreader import Reader, reader

T = TypeVar("T")
Row = dict[str, Any]

TOKEN = re.compile(r"\bZq\d+[nb]\d+\b")
SETTLED = ("accepted", "failed", "unknown")
KINDS = (
    "double_send",
    "sent_unconfirmed",
    "failed_but_sent",
    "accepted_mismatch",
    "lost",
    "stuck",
    "untracked",
    "integrity",
    "unhandled",
    "not_told",
    "misreported",
    "unsent",
)

# What the operator reads (English catalog).
SENT = "Sent to"
NOTHING_SENT = "Nothing was sent"
NOT_SENT = "was not sent"  # told after a restart: "This SMS to ... was not sent: the gateway refused it."
MAYBE = "may or may not"
CANCELLED = "Cancelled. Nothing was sent."
ERROR_NET = "Something went wrong on my side"


def token_of(text: str | None) -> str | None:
    found = TOKEN.search(text or "")
    return found.group(0) if found else None


# ------------------------------------------------------------------------------------------------ waiting


async def eventually(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Re-check a condition until it holds (a value that is not None); fail after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = probe()
                if value is not None:
                    return value
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:g}s: {what}") from None


async def first(awaitables: Iterable[Awaitable[Any]]) -> None:
    """Wait for the first of several awaitables; cancel the rest."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


# ----------------------------------------------------------------------------------------------- storage


def read_sends(db: Reader | Path) -> list[Row]:
    """The send log as an operator's backup would read it (outside the bot; either engine: tests/support/dbreader.py)."""
    return reader(db).rows("SELECT * FROM sends ORDER BY id")


def snapshot(db: Reader | Path) -> tuple[list[Row], set[int]]:
    """The send log and the ids in the tracking queue, read in one transaction: one moment of a bot that may be
    running (the tracker may end a row's tracking between two separate reads)."""
    rows, tracking = reader(db).together(
        [("SELECT * FROM sends ORDER BY id", ()), ("SELECT send_id FROM tracking", ())]
    )
    return rows, {int(r["send_id"]) for r in tracking}


def read_members(db: Reader | Path) -> list[Row]:
    """Every recipient of every send to several recipients, with its batch's state and its send row's."""
    return reader(db).rows(
        """SELECT m.*, b.state AS batch_state, b.sent_all_at, b.text AS text, s.state AS send_state,
                  s.gateway_id AS gateway_id
           FROM batch_members m JOIN batches b ON b.id = m.batch_id LEFT JOIN sends s ON s.id = m.send_id
           ORDER BY m.batch_id, m.position"""
    )


def is_batch(token: str | None) -> bool:
    return token is not None and "b" in token[2:]


def integrity(db: Reader | Path) -> str:
    """ "ok" when the database a killed bot left is at rest and sound (SQLite: `PRAGMA integrity_check`;
    PostgreSQL: no session of the bot left, indexes checked): see tests/support/dbreader.py."""
    return reader(db).at_rest()


# ------------------------------------------------------------------------------------------------ ledger


@dataclass
class Findings:
    """Violations by kind, with a readable line for each."""

    counts: Counter[str] = field(default_factory=Counter)
    lines: list[str] = field(default_factory=list)

    def add(self, kind: str, line: str) -> None:
        assert kind in KINDS, kind
        self.counts[kind] += 1
        self.lines.append(f"[{kind}] {line}")

    def merge(self, other: Findings) -> None:
        self.counts.update(other.counts)
        self.lines.extend(other.lines)

    def __bool__(self) -> bool:
        return bool(self.lines)

    def summary(self) -> str:
        return ", ".join(f"{kind}={self.counts.get(kind, 0)}" for kind in KINDS)


def gateway_by_token(gateway: SandboxGateway) -> tuple[Counter[str], dict[str, list[str]]]:
    """(send requests received per token, ids of the SMS the gateway actually sent per token)."""
    received: Counter[str] = Counter()
    for request in gateway.requests:
        if request.action == "send":
            token = token_of(request.fields.get("Message"))
            if token:
                received[token] += 1
    sent: dict[str, list[str]] = {}
    for message in gateway.sent:
        token = token_of(message.text)
        if token:
            sent.setdefault(token, []).append(message.id)
    return received, sent


def audit(rows: list[Row], tracked: set[int], gateway: SandboxGateway, *, at_rest: bool) -> Findings:
    """The invariants over the send log and the gateway's records. `at_rest`: no send can be in flight (the
    bot restarted, or everything settled), so `sending` is a stuck row.

    Rows are grouped by token: one message handled twice (delivered again after a crash) makes two drafts with
    one text. Each draft may reach the gateway at most once, and only once it left `draft`."""
    found = Findings()
    received, sent = gateway_by_token(gateway)
    groups: dict[str, list[Row]] = {}
    for row in rows:
        token = token_of(row["text"])
        assert token is not None, row["text"]
        groups.setdefault(token, []).append(row)
    for token in received:
        if token not in groups:
            found.add("lost", f"{token}: the gateway received it, the send log has no row")
    for token, group in groups.items():
        claimed = [r for r in group if r["state"] in ("sending", *SETTLED)]
        ids = sent.get(token, [])
        states = [f"row {r['id']} {r['state']}" for r in group]
        if received[token] > len(claimed) or len(ids) > len(claimed):
            kind = "double_send" if claimed else "sent_unconfirmed"
            found.add(kind, f"{token} ({states}): {received[token]} send requests, sent as {ids}")
        if claimed and all(r["state"] == "failed" for r in claimed) and ids:
            found.add("failed_but_sent", f"{token} ({states}): 'Nothing was sent', yet the gateway sent {ids}")
        for row in group:
            where = f"{token} (row {row['id']}, {row['state']})"
            if row["state"] == "accepted":
                if row["gateway_id"] not in ids:
                    found.add("accepted_mismatch", f"{where}: shown id {row['gateway_id']}, gateway sent {ids}")
                if row["id"] not in tracked and row["final_at"] is None:
                    found.add("untracked", f"{where}: no tracking row and no final status")
            if row["state"] == "sending" and at_rest and not is_batch(token):  # a batch's: audit_batches
                found.add("stuck", f"{where}: still `sending` at rest")
    return found


def audit_batches(members: list[Row], gateway: SandboxGateway, *, at_rest: bool) -> Findings:
    """Per recipient of a send to several recipients: at most one gateway send each, and only after the press;
    each one the gateway received recorded as attempted; at rest, none left in `sending` (in flight: `unknown`;
    never attempted: sent after the restart) and every pressed batch's sending over."""
    found = Findings()
    received: Counter[tuple[str, str]] = Counter()
    for request in gateway.requests:
        token = token_of(request.fields.get("Message")) if request.action == "send" else None
        if is_batch(token):
            assert token is not None
            received[(token, request.fields.get("MSISDN", ""))] += 1
    sent = {(token_of(m.text), m.msisdn): m.id for m in gateway.sent if is_batch(token_of(m.text))}
    by_key = {(str(token_of(m["text"])), str(m["msisdn"])): m for m in members}
    for key, count in received.items():
        member = by_key.get(key)
        where = f"{key[0]} to {key[1]}"
        if member is None:
            found.add("lost", f"{where}: the gateway received it, no such recipient in the log")
        elif member["batch_state"] != "pressed":
            found.add("sent_unconfirmed", f"{where}: sent, yet its batch is {member['batch_state']}")
        elif count > 1:
            found.add("double_send", f"{where}: {count} send requests")
        elif member["attempted_at"] is None:
            found.add("lost", f"{where}: the gateway received it, the log says never attempted")
    for key, member in by_key.items():
        where = f"{key[0]} to {key[1]} ({member['send_state']})"
        if member["batch_state"] == "pressed" and member["send_id"] is None:
            found.add("lost", f"{where}: the batch was pressed, the recipient has no send row")
        if member["send_state"] in ("accepted", "failed") and not received[key]:
            found.add("misreported", f"{where}: the gateway never received it")
        if member["send_state"] == "accepted" and sent.get(key) != member["gateway_id"]:
            found.add("accepted_mismatch", f"{where}: shown id {member['gateway_id']}, gateway sent {sent.get(key)}")
        if at_rest and member["send_state"] == "sending":
            kind = "stuck" if member["attempted_at"] is not None else "unsent"
            found.add(kind, f"{where}: still `sending` at rest")
        if at_rest and member["batch_state"] == "pressed" and member["sent_all_at"] is None:
            found.add("unsent", f"{where}: its batch's sending never ended")
    return found


# ---------------------------------------------------------------------------------- what the operator saw


def preview_of(telegram: FakeTelegram, row: Row) -> BotMessage | None:
    if row["preview_message_id"] is None:
        return None
    try:
        return telegram.message(row["chat_id"], row["preview_message_id"])
    except KeyError:
        return None


def texts_about(telegram: FakeTelegram, row: Row) -> list[str]:
    """Everything the operator was shown about one SMS: every version of its preview and the bot's replies to
    it, and any message that quotes its token."""
    token = token_of(row["text"])
    shown: list[str] = []
    for message in telegram.messages(row["chat_id"]):
        ours = row["preview_message_id"] is not None and row["preview_message_id"] in (
            message.message_id,
            message.reply_to,
        )
        for version in message.versions:
            if ours or (token and token in TOKEN.findall(version.plain)):
                shown.append(version.plain)
    return shown


def operator_told(telegram: FakeTelegram, row: Row, *, on_preview: bool = False) -> str | None:
    """Why the operator would not know the outcome of a settled row (None: they were told). An accepted SMS
    counts as told by "Sent, id X" or by its delivery notice — unless `on_preview`: then the Send press itself
    must have been answered with "Sent, id X"."""
    shown = texts_about(telegram, row)
    state = row["state"]
    if state == "accepted":
        gid = row["gateway_id"]
        # Without a crash, the press itself shows "Sent, id X"; after one, the delivery notice may be the first
        # word (the preview edited to it, and a reply).
        ok = any(SENT in t and gid in t for t in shown) or (
            not on_preview and (delivery_notices(telegram, row) > 0 or any("SMS to" in t and gid in t for t in shown))
        )
    elif state == "failed":
        ok = any(NOTHING_SENT in t or NOT_SENT in t for t in shown)
    elif state == "unknown":
        ok = any(MAYBE in t for t in shown)
    elif state == "cancelled":
        ok = True  # the Cancel press's own answer; a lost one is harmless (pressing Send says "cancelled")
    else:
        return None
    if any(SENT in t for t in shown) and state != "accepted":
        return f"shown 'Sent' but the row is {state}"
    if any(NOTHING_SENT in t and CANCELLED not in t for t in shown) and state in ("accepted", "unknown"):
        return f"shown 'Nothing was sent' but the row is {state}"
    return None if ok else f"never shown the outcome ({state}); saw {[t[:60] for t in shown]}"


def is_delivery_notice(message: BotMessage, gateway_id: str) -> bool:
    """A new message (the phone rings; an edit alone is silent) with the delivery result of this SMS."""
    first_version = message.versions[0].plain
    return gateway_id in first_version and "SMS to" in first_version


def delivery_notices(telegram: FakeTelegram, row: Row) -> int:
    """How many delivery notices ("SMS to ...: <status>") name this SMS's id (new messages, not edits)."""
    gid = row["gateway_id"]
    return sum(
        1
        for m in telegram.messages(row["chat_id"])
        if gid and gid in m.versions[0].plain and "SMS to" in m.versions[0].plain
    )


# ----------------------------------------------------------------------------------------------- logging


class LogWatch(logging.Handler):
    """Keeps WARNING+ records of this process (the in-process bot)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogWatch:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)


def is_unhandled(name: str, level: str, has_traceback: bool, message: str, expected: Iterable[str] = ()) -> bool:
    """An exception that escaped: an ERROR of aiogram's dispatcher/event loggers, our error net, or any record
    of our code carrying a traceback — unless its message matches one of the `expected` regexes."""
    if any(re.search(pattern, message) for pattern in expected):
        return False
    if name.startswith(("aiogram.event", "aiogram.dispatcher")) and level in ("ERROR", "CRITICAL"):
        return True
    if name.startswith("bot") and (has_traceback or level in ("ERROR", "CRITICAL")):
        return True
    return bool(name == "asyncio" and level in ("ERROR", "CRITICAL"))


def unhandled_records(records: Iterable[logging.LogRecord], expected: Iterable[str] = ()) -> list[str]:
    patterns = list(expected)
    return [
        f"{r.name} {r.levelname}: {r.getMessage()}"
        for r in records
        if is_unhandled(r.name, r.levelname, r.exc_info is not None, r.getMessage(), patterns)
    ]


def unhandled_json_lines(lines: Iterable[str], expected: Iterable[str] = ()) -> list[str]:
    """The same over the JSON log lines of a bot process (LOG_FORMAT=json); a line that is not JSON (a raw
    traceback on stderr) counts too."""
    patterns = list(expected)
    bad = []
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line or "Error" in line:
                bad.append(f"raw output: {line[:200]}")
            continue
        if not isinstance(entry, dict):
            continue
        name, level, message = str(entry.get("logger")), str(entry.get("level")), str(entry.get("message"))
        if is_unhandled(name, level, "exception" in entry, message, patterns):
            bad.append(f"{name} {level}: {message} {str(entry.get('exception', ''))[-300:]}")
    return bad
