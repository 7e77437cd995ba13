"""Fault matrix: every gateway fault × every gateway action, and Telegram's own failures — each a test id.

One Harness serves the whole module (one event loop, ``loop_scope="module"``), so a cell costs what its fault
costs and nothing more. Every cell ends with the same checks:

* the operator sees a sign of work (a chat action, a toast, a message) within 2 s and is answered in words
  within 15 s, measured from the command or the press; both times are kept per cell and the worst cell is
  printed at the end (``test_worst_cell``);
* the bot keeps serving: a following /help is answered;
* the database is consistent: no row in ``sending``, every send the gateway received has its row, and a send
  row's state matches what the operator was told ("may or may not" ↔ ``unknown``, "Nothing was sent" ↔
  ``failed`` with the gateway's code, "Sent to" ↔ ``accepted``);
* no update ended in an unhandled exception.

Time: the gateway client's per-request timeout is 0.5 s (``smska_timeout``) and its per-call budget 1 s (the
harness sets 6 s) — a persistent fault on /balance or /status is retried until the budget is spent, then
answered. What those cells prove is that each fault turns into the right words and the right row;
``test_production_timing`` runs the slowest faults (a hanging gateway on every action, a 500 to every
balance request) with production's timeout (10 s) and budgets (12 s for an operator, 25 s in the background)
against the contract's 2 s / 15 s.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.config import Settings
from bot.devkit.harness import API_PASSWORD, TOKEN, Harness
from bot.devkit.sandbox import Fault
from bot.devkit.telegram import NOT_MODIFIED, BotMessage, FakeUser
from bot.gateway.client import SmskaClient
from tests.support.fault_support import (
    LogTrap,
    assert_db_consistent,
    assert_serving,
    describe,
    eventually,
    parse_errors,
    sends,
    trap_logs,
    unhandled,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN = 1001
PATIENCE = 15.0  # the contract: an operator-facing request is answered within 15 s
SIGN = 2.0  # ... and shows within 2 s that it is being worked on
BUDGET = 1.0
#: cell id -> (seconds to the first sign of work, seconds to the final answer)
SIGNS = {"sendChatAction", "answerCallbackQuery", "sendMessage", "editMessageText"}

UNAVAILABLE = [Fault.HTTP_500, Fault.HTML, Fault.EMPTY, Fault.GARBAGE, Fault.HANG, Fault.DROP, Fault.DROP_AFTER_SEND]
CODES = {
    1: "refused the login or password",
    3: "could not send the SMS",
    4: "rejected the request as invalid",
    5: "Not enough money",
    6: "does not accept this number",
    7: "does not allow this sender name",
}
GATEWAY_FAULTS: list[tuple[Fault, int | None]] = [(f, None) for f in UNAVAILABLE] + [(Fault.ERROR, c) for c in CODES]
ACTIONS = ["send", "balance", "query"]


def fault_id(fault: Fault, code: int | None) -> str:
    return f"error{code}" if code is not None else fault.name


class Rig:
    def __init__(self, harness: Harness, trap: LogTrap) -> None:
        self.h = harness
        self.trap = trap
        self.admin = harness.telegram.user(ADMIN, first_name="Alice", language_code="en")
        self.counter = 0

    def text(self, tag: str) -> str:
        self.counter += 1
        return f"cell {self.counter} {tag}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    directory: Path = tmp_path_factory.mktemp("fault_matrix")
    with trap_logs() as trap:
        async with Harness(directory, admin_ids=(ADMIN,), settings_overrides={"smska_timeout": 0.5}) as harness:
            assert harness.app is not None
            harness.app.gateway.budget = BUDGET
            yield Rig(harness, trap)


async def preview_for(user: FakeUser, command: str) -> BotMessage:
    await user.send(command)
    return await user.wait_for(lambda m: "Check before sending" in m.plain, timeout=PATIENCE)


def first_sign(rig: Rig, since: float) -> float:
    """Seconds from `since` to the bot's first visible call in the admin's chat (or answer to a press)."""
    times = [
        c.time
        for c in rig.h.telegram.calls
        if c.time >= since
        and c.method in SIGNS
        and (c.method == "answerCallbackQuery" or c.params.get("chat_id") == ADMIN)
    ]
    assert times, "no sign of work at all"
    return min(times) - since


def record(rig: Rig, cell: str, started: float, elapsed: float) -> None:
    """Each cell is held to the contract itself (the cells run on whichever worker is free: no test sees them
    all); `pytest -s` prints each cell's figures."""
    sign = first_sign(rig, started)
    print(f"\nfault matrix cell {cell}: first sign of work {sign:.2f}s, final answer {elapsed:.2f}s")
    assert sign < SIGN, f"{cell}: first sign of work after {sign:.2f}s"
    assert elapsed < PATIENCE, f"{cell}: final answer after {elapsed:.2f}s"


def send_requests(rig: Rig) -> int:
    return sum(1 for r in rig.h.gateway.requests if r.action == "send")


def row_for(rig: Rig, text: str) -> dict[str, Any]:
    [row] = [r for r in sends(rig.h.db_path) if r["text"] == text]
    return row


async def finish(rig: Rig, mark: int) -> None:
    """The checks every cell ends with."""
    await assert_serving(rig.admin)
    assert_db_consistent(rig.h)
    records = rig.trap.since(mark)
    assert not unhandled(records), describe(unhandled(records))
    assert not parse_errors(rig.h.telegram)
    for message in rig.admin.messages:
        assert API_PASSWORD not in message.text and TOKEN not in message.text


# --- the gateway ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(("fault", "code"), GATEWAY_FAULTS, ids=[fault_id(f, c) for f, c in GATEWAY_FAULTS])
async def test_gateway_fault(rig: Rig, action: str, fault: Fault, code: int | None) -> None:
    h, admin = rig.h, rig.admin
    mark = rig.trap.mark()
    admin.mark_seen()
    h.gateway.clear_faults()
    error_code = code or 3  # matters for Fault.ERROR only
    text = rig.text(f"{action} {fault_id(fault, code)}")
    sends_before, sent_before = send_requests(rig), len(h.gateway.sent)

    if action == "send":
        preview = await preview_for(admin, f"/send 79041764995 {text}")
        h.gateway.inject(fault, action="send", times=None, code=error_code)
        started = time.monotonic()
        await admin.press(preview, "✅ Send")
        reply = await admin.wait_for(
            lambda m: m.message_id == preview.message_id and "Check before sending" not in m.plain, timeout=PATIENCE
        )
    elif action == "balance":
        h.gateway.inject(fault, action="balance", times=None, code=error_code)
        started = time.monotonic()
        await admin.send("/balance")
        reply = await admin.next_message(timeout=PATIENCE)
    else:
        h.gateway.inject(fault, action="query", times=None, code=error_code)
        started = time.monotonic()
        await admin.send("/status faultcell00000001")
        reply = await admin.next_message(timeout=PATIENCE)
    elapsed = time.monotonic() - started
    h.gateway.clear_faults()

    record(rig, f"{action}/{fault_id(fault, code)}", started, elapsed)
    assert elapsed < PATIENCE
    if code == 4 and action == "query":
        # An id the send log does not know and the gateway calls invalid: a typo, said so (issue 15, point 5).
        assert "No SMS with id faultcell00000001 is known" in reply.plain, reply.plain
    elif code is not None:
        assert CODES[code] in reply.plain, reply.plain
    elif action == "send":
        assert "may or may not have gone out" in reply.plain, reply.plain
    else:
        assert "cannot be reached right now" in reply.plain, reply.plain
    if action == "query":
        assert "faultcell00000001" in reply.plain

    if action == "send":
        # Exactly one request: a send whose answer is unusable is never repeated by itself.
        assert send_requests(rig) == sends_before + 1
        assert len(h.gateway.sent) == sent_before + (1 if fault is Fault.DROP_AFTER_SEND else 0)
        row = row_for(rig, text)
        if code is not None:
            assert "Nothing was sent" in reply.plain
            assert (row["state"], row["error_code"]) == ("failed", code)
        else:
            assert row["state"] == "unknown" and row["gateway_id"] is None
        # A second press on the same preview does not send again.
        send_data = preview.versions[0].buttons[0][0].data
        assert send_data is not None
        cq = await admin.press_data(preview.message_id, send_data)
        answer = await h.telegram.callback_answer(cq, timeout=PATIENCE)
        assert answer.text and ("may or may not" in answer.text or "was not sent" in answer.text)
        assert send_requests(rig) == sends_before + 1
    else:
        assert send_requests(rig) == sends_before
    await finish(rig, mark)


# --- Telegram -------------------------------------------------------------------------------------------
async def sent_preview(rig: Rig, tag: str) -> tuple[BotMessage, str]:
    text = rig.text(tag)
    return await preview_for(rig.admin, f"/send 79041764995 {text}"), text


async def press_send_and_see_outcome(rig: Rig, preview: BotMessage) -> tuple[str, BotMessage]:
    cq = await rig.admin.press(preview, "✅ Send")
    # The tracker may already have turned "Sent to" into the delivery notice ("SMS to ...") by the time this
    # wait looks at the message's current state, on a loaded machine.
    outcome = await rig.admin.wait_for(
        lambda m: (
            m.message_id == preview.message_id
            and any(w in m.plain for w in ("Sent to", "SMS to", "may or may not", "Nothing was sent"))
        ),
        timeout=PATIENCE,
    )
    return cq, outcome


async def test_telegram_429_on_send_message(rig: Rig) -> None:
    h, admin = rig.h, rig.admin
    assert h.app is not None
    mark, retries = rig.trap.mark(), h.app.retry.retries
    admin.mark_seen()
    h.telegram.fail_next("sendMessage", error_code=429, retry_after=1)
    started = time.monotonic()
    await admin.send("/balance")
    reply = await admin.next_message(timeout=PATIENCE)
    assert "Balance" in reply.plain and time.monotonic() - started < PATIENCE
    assert h.app.retry.retries == retries + 1
    await finish(rig, mark)


async def test_telegram_429_on_edit_message_text(rig: Rig) -> None:
    h = rig.h
    assert h.app is not None
    mark, retries = rig.trap.mark(), h.app.retry.retries
    rig.admin.mark_seen()
    preview, text = await sent_preview(rig, "429 edit")
    h.telegram.fail_next("editMessageText", error_code=429, retry_after=1)
    _, outcome = await press_send_and_see_outcome(rig, preview)
    assert outcome.message_id == preview.message_id and ("Sent to" in outcome.plain or "SMS to" in outcome.plain)
    assert h.app.retry.retries == retries + 1
    assert row_for(rig, text)["state"] == "accepted"
    assert len([s for s in h.gateway.sent if s.text == text]) == 1
    await finish(rig, mark)


async def test_telegram_429_on_answer_callback_query(rig: Rig) -> None:
    h = rig.h
    assert h.app is not None
    mark, retries = rig.trap.mark(), h.app.retry.retries
    rig.admin.mark_seen()
    preview, text = await sent_preview(rig, "429 answer")
    h.telegram.fail_next("answerCallbackQuery", error_code=429, retry_after=1)
    cq, outcome = await press_send_and_see_outcome(rig, preview)
    assert "Sent to" in outcome.plain or "SMS to" in outcome.plain
    await h.telegram.callback_answer(cq, timeout=PATIENCE)
    assert h.app.retry.retries == retries + 1
    assert len([s for s in h.gateway.sent if s.text == text]) == 1
    assert row_for(rig, text)["state"] == "accepted"
    await finish(rig, mark)


async def test_telegram_5xx_on_send_message(rig: Rig) -> None:
    """A 502 on the answer: the operator still gets an answer in words (the error net's, at worst)."""
    h, admin = rig.h, rig.admin
    admin.mark_seen()
    h.telegram.fail_next("sendMessage", error_code=502, description="Bad Gateway")
    started = time.monotonic()
    await admin.send("/balance")
    reply = await admin.next_message(timeout=PATIENCE)
    assert time.monotonic() - started < PATIENCE
    assert "Balance" in reply.plain or "went wrong" in reply.plain, reply.plain
    await assert_serving(admin)
    assert_db_consistent(h)


async def test_telegram_5xx_on_the_outcome_edit(rig: Rig) -> None:
    """The press's outcome edit fails with a 5xx: the operator still learns the SMS went out."""
    h = rig.h
    mark = rig.trap.mark()
    rig.admin.mark_seen()
    preview, text = await sent_preview(rig, "5xx edit")
    h.telegram.fail_next("editMessageText", error_code=500, description="Internal Server Error")
    started = time.monotonic()
    await rig.admin.press(preview, "✅ Send")
    told = await rig.admin.wait_for(lambda m: "Sent to" in m.plain, timeout=PATIENCE)
    assert time.monotonic() - started < PATIENCE
    assert h.gateway.sent[-1].id in told.plain
    assert row_for(rig, text)["state"] == "accepted"
    assert len([s for s in h.gateway.sent if s.text == text]) == 1
    # The delivery notice still comes (this SMS's: a late one of an earlier cell's does not count).
    gid = gateway_id_of(rig, text)
    await rig.admin.wait_for(lambda m: "delivered" in m.plain and gid in m.plain, timeout=PATIENCE)
    await finish(rig, mark)


@pytest.mark.parametrize("how", ["drop", "502"])
async def test_telegram_get_updates_fails(rig: Rig, how: str) -> None:
    h, admin = rig.h, rig.admin
    mark = rig.trap.mark()
    await h.telegram.wait_for_poll()
    if how == "drop":
        h.telegram.fail_next("getUpdates", drop=True)
    else:
        h.telegram.fail_next_poll()
    # The poll waiting now is answered by the next update; the one after it fails.
    started = time.monotonic()
    await assert_serving(admin)
    await assert_serving(admin)
    assert time.monotonic() - started < PATIENCE
    assert any(e.method == "getUpdates" for e in h.telegram.errors)
    await finish(rig, mark)


async def test_telegram_not_modified_on_refresh(rig: Rig) -> None:
    h, admin = rig.h, rig.admin
    mark = rig.trap.mark()
    admin.mark_seen()
    await admin.send("/balance")
    reply = await admin.next_message(timeout=PATIENCE)
    errors = len(h.telegram.errors)
    h.telegram.fail_next("editMessageText", error_code=400, description=NOT_MODIFIED)
    cq = await admin.press(reply, "Refresh")
    await h.telegram.callback_answer(cq, timeout=PATIENCE)  # the toast comes first, the edit after it
    await eventually(lambda: len(h.telegram.errors) > errors, PATIENCE)
    await assert_serving(admin)
    # The injected one (and, when the balance's time shown is still the same second, Telegram's own).
    descriptions = [e.description for e in h.telegram.errors[errors:]]
    assert NOT_MODIFIED in descriptions and all("message is not modified" in d for d in descriptions)
    await finish(rig, mark)


async def test_telegram_not_modified_on_the_delivery_notice(rig: Rig) -> None:
    h = rig.h
    mark = rig.trap.mark()
    h.gateway.delivery_delay = 0.8
    try:
        preview, text = await sent_preview(rig, "not modified notice")
        await press_send_and_see_outcome(rig, preview)
        h.telegram.fail_next("editMessageText", error_code=400, description=NOT_MODIFIED)
        notice = await rig.admin.wait_for(
            lambda m: "delivered" in m.plain and m.reply_to == preview.message_id, timeout=PATIENCE
        )
    finally:
        h.gateway.delivery_delay = 0.3
    assert notice.reply_to == preview.message_id
    assert row_for(rig, text)["final"] == 1
    await finish(rig, mark)


async def test_telegram_delivery_notice_for_a_deleted_message(rig: Rig) -> None:
    """The accepted message was deleted before the notice: the edit finds nothing, a new message tells."""
    h = rig.h
    mark = rig.trap.mark()
    h.gateway.delivery_delay = 0.8
    try:
        preview, text = await sent_preview(rig, "deleted")
        await press_send_and_see_outcome(rig, preview)
        h.telegram.message(ADMIN, preview.message_id).deleted = True
        errors = len(h.telegram.errors)
        gid = gateway_id_of(rig, text)  # this SMS's notice: a late one of an earlier cell's does not count
        notice = await rig.admin.wait_for(
            lambda m: "delivered" in m.plain and gid in m.plain and not m.deleted, timeout=PATIENCE
        )
    finally:
        h.gateway.delivery_delay = 0.3
    assert notice.message_id != preview.message_id
    assert gid in notice.plain
    assert any("message to edit not found" in e.description for e in h.telegram.errors[errors:])
    assert row_for(rig, text)["final"] == 1
    await finish(rig, mark)


async def test_telegram_message_to_edit_not_found_injected(rig: Rig) -> None:
    h = rig.h
    mark = rig.trap.mark()
    h.gateway.delivery_delay = 0.8
    try:
        preview, text = await sent_preview(rig, "edit not found")
        await press_send_and_see_outcome(rig, preview)
        h.telegram.fail_next("editMessageText", error_code=400, description="Bad Request: message to edit not found")
        notice = await rig.admin.wait_for(
            lambda m: "delivered" in m.plain and m.reply_to == preview.message_id, timeout=PATIENCE
        )
    finally:
        h.gateway.delivery_delay = 0.3
    assert gateway_id_of(rig, text) in notice.plain
    assert row_for(rig, text)["final"] == 1
    await finish(rig, mark)


async def test_telegram_bot_blocked_when_the_notice_comes(rig: Rig) -> None:
    h, admin = rig.h, rig.admin
    assert h.app is not None
    mark = rig.trap.mark()
    h.gateway.delivery_delay = 0.8
    refused = sum(1 for e in h.telegram.errors if e.error_code == 403)  # the module's bot is shared by the cells
    try:
        preview, text = await sent_preview(rig, "blocked")
        await press_send_and_see_outcome(rig, preview)
        await admin.block_bot()
        # The notice: the edit of the accepted message, then a reply — refused with 403.
        await eventually(lambda: sum(1 for e in h.telegram.errors if e.error_code == 403) > refused, PATIENCE)
        await eventually(lambda: row_for(rig, text)["final"] == 1, PATIENCE)
    finally:
        h.gateway.delivery_delay = 0.3
        await admin.unblock_bot()
    row = row_for(rig, text)
    assert row["final"] == 1 and row["status_name"] == "DELIVRD"
    assert await h.app.db.tracking.depth() == 0
    assert any(e.error_code == 403 and e.method == "sendMessage" for e in h.telegram.errors)
    await finish(rig, mark)


def gateway_id_of(rig: Rig, text: str) -> str:
    gid = row_for(rig, text)["gateway_id"]
    assert isinstance(gid, str)
    return gid


# --- production timing ----------------------------------------------------------------------------------
SLOW = [("balance", Fault.HANG), ("query", Fault.HANG), ("send", Fault.HANG), ("balance", Fault.HTTP_500)]


@pytest.mark.parametrize(("action", "fault"), SLOW, ids=[f"{a}-{f.name}" for a, f in SLOW])
async def test_production_timing(rig: Rig, action: str, fault: Fault) -> None:
    """The slowest faults with production's gateway timings: a sign within 2 s, the final word within 15 s."""
    h, admin = rig.h, rig.admin
    assert h.app is not None
    gateway = h.app.gateway
    saved = gateway.timeout, gateway.budget, gateway.operator_budget
    defaults = inspect.signature(SmskaClient).parameters
    gateway.timeout = Settings.model_fields["smska_timeout"].default
    gateway.budget, gateway.operator_budget = defaults["budget"].default, defaults["operator_budget"].default
    assert gateway.timeout == defaults["timeout"].default == 10.0
    mark = rig.trap.mark()
    admin.mark_seen()
    h.gateway.clear_faults()
    try:
        h.gateway.inject(fault, action=action, times=None)
        if action == "send":
            preview = await preview_for(admin, f"/send 79041764995 {rig.text('production send')}")
            started = time.monotonic()
            await admin.press(preview, "✅ Send")
            reply = await admin.wait_for(
                lambda m: m.message_id == preview.message_id and "Check before sending" not in m.plain,
                timeout=PATIENCE + 5,
            )
            assert "may or may not have gone out" in reply.plain, reply.plain
        else:
            started = time.monotonic()
            await admin.send("/balance" if action == "balance" else "/status faultcell00000002")
            reply = await admin.next_message(timeout=PATIENCE + 5)
            assert "cannot be reached right now" in reply.plain, reply.plain
        elapsed = time.monotonic() - started
    finally:
        h.gateway.clear_faults()
        gateway.timeout, gateway.budget, gateway.operator_budget = saved
    record(rig, f"production {action}/{fault.name}", started, elapsed)
    await finish(rig, mark)
