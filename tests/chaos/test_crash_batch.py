"""Crash trials, continued (split from tests/chaos/test_crash_trials.py so that xdist runs them beside it): the
trial of issue 5 — the bot killed between the gateway taking a send and its answer, then restarted — and SIGKILL
in the middle of one send to several recipients. Every bot is a process of its own forked from one that imported
it once (tests/support/forkserver.py). The rig, the settings and the
invariants are test_crash_trials.py's and tests/support/chaos_support.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.chaos.test_crash_trials import (
    DB_FILE,
    EXPECTED_LOGS,
    SEED,
    USERS,
    bot_env,
    polling_began,
    world,
)
from tests.support.chaos_support import (
    MAYBE,
    Findings,
    audit,
    audit_batches,
    eventually,
    integrity,
    read_members,
    read_sends,
    snapshot,
    token_of,
    unhandled_json_lines,
)
from tests.support.dbreader import Reader
from tests.support.forkserver import fork_server

__all__ = ["world"]  # the fixture


async def test_killed_between_the_gateway_taking_a_send_and_its_answer(
    tmp_path: Path, world: tuple[FakeTelegram, SandboxGateway], database_url: str | None
) -> None:
    """Issue 5: SIGKILL after the gateway received the send and before it answered. After the restart the SMS is `unknown`, the operator is told it may or may not have gone out, a
    second press does not send it again, and the gateway got exactly one send."""
    telegram, gateway = world
    db = Reader(tmp_path / DB_FILE, database_url)
    env = bot_env(telegram, gateway, db.db_path, database_url)
    duty = telegram.user(USERS[0], "Duty", language_code="en")
    server = await asyncio.to_thread(fork_server)

    first = await server.spawn(env, tmp_path, tmp_path / "first.log")
    try:
        await polling_began(telegram, 0)
        await duty.send("/send +7 904 176-49-95 Zq5n1 Generator 2 on fire")
        preview = await duty.wait_for(lambda m: "Check before sending" in m.plain, timeout=15)
        gateway.inject(Fault.SLOW, action="send", delay=30.0)  # it takes the SMS, and holds its answer back
        await duty.press(preview, "✅ Send")
        await gateway.wait_requests(1, action="send", timeout=15)
        os.kill(first, signal.SIGKILL)
        assert await server.wait_exit(first, 15) == -signal.SIGKILL
    finally:
        server.kill_children()
    assert integrity(db) == "ok"
    assert [r["state"] for r in read_sends(db)] == ["sending"]

    polls = len(telegram.calls_to("getUpdates"))
    second = await server.spawn(env, tmp_path, tmp_path / "second.log")
    try:
        told = await duty.wait_for(lambda m: MAYBE in m.plain, timeout=60)
        assert "+7\u00a0904\u00a0176\u201149\u201195" in told.plain and "not resent by itself" in told.plain
        await polling_began(telegram, polls)
        [row] = read_sends(db)
        assert row["state"] == "unknown"
        # Pressing Send again on the old preview does not send it again; the press is answered.
        query = await duty.press_data(preview.message_id, str(preview.versions[0].buttons[0][0].data))
        answer = await telegram.callback_answer(query, timeout=15)
        assert MAYBE in (answer.text or "")
        assert [r.action for r in gateway.requests if r.action == "send"] == ["send"]
        assert len(gateway.sent) == 1  # it did go out: the gateway processed it before the kill
        os.kill(second, signal.SIGTERM)
        assert await server.wait_exit(second, 40) == 0
    finally:
        server.kill_children()
    assert integrity(db) == "ok"
    db.close()
    assert db.engine_used() is None, db.engine_used()
    for log in ("first.log", "second.log"):
        lines = (tmp_path / log).read_text(errors="replace").splitlines()
        assert unhandled_json_lines(lines, EXPECTED_LOGS) == [], log


# ------------------------------------------------------------------------- sends to several recipients

BATCH_TRIALS = int(os.environ.get("BATCH_CRASH_TRIALS", "12"))  # kills per engine, over all the parts
BATCH_SHARDS = 2  # in parts of every 2nd kill, each a test of its own: xdist runs them side by side
BATCH_KILLS = {"press": 1.0, "send": 3.0, "slow_send": 2.0, "answer": 1.5, "startup": 1.0}
RESTARTED = "restarted while sending"
MAYBE_NOT_RESENT = "may or may not have gone out, not resent"


async def _batch_kill_moment(mode: str, rng: random.Random, gateway: SandboxGateway, token: str, k: int) -> None:
    """Wait for the moment: right after the press, as the j-th recipient reaches the gateway (with a slow
    answer: several calls in flight), or as the gateway answers the j-th (bounded: it may never get there)."""
    j = rng.randint(1, k)
    exact = rng.random() < 0.5

    def received() -> int:
        return sum(1 for r in gateway.requests if r.action == "send" and token in r.fields.get("Message", ""))

    def answered() -> int:
        return sum(1 for m in gateway.sent if token in m.text)

    with contextlib.suppress(AssertionError):
        if mode in ("send", "slow_send"):
            await eventually(lambda: True if received() >= j else None, 8, f"send {j} of {token}")
        elif mode == "answer":
            await eventually(lambda: True if answered() >= j else None, 8, f"answer {j} of {token}")
    await asyncio.sleep(rng.uniform(0.0, 0.05) if mode == "press" or not exact else 0.0)


async def test_killed_while_telling_that_a_send_to_several_was_cut_short_tells_it_at_the_next_start(
    tmp_path: Path, world: tuple[FakeTelegram, SandboxGateway], database_url: str | None
) -> None:
    """The random series' one lost notice (CI, four workers: "interrupted by a kill, its operator never told"),
    pinned: a send to two recipients killed with both in flight; the next start begins to tell the operator
    (Telegram holds that message) and is killed too, after it had settled the two as `unknown` and closed the
    batch's sending. The start after that must still tell the operator, naming the two, and send nothing again."""
    telegram, gateway = world
    db = Reader(tmp_path / DB_FILE, database_url)
    env = {**bot_env(telegram, gateway, db.db_path, database_url), "SEND_CONCURRENCY": "2"}
    duty = telegram.user(USERS[0], "Duty", language_code="en")
    server = await asyncio.to_thread(fork_server)
    token = "Zq8b1"

    async def start(name: str) -> int:
        return await server.spawn(env, tmp_path, tmp_path / f"{name}.log")

    async def kill(pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        assert await server.wait_exit(pid) == -signal.SIGKILL
        assert integrity(db) == "ok"

    try:
        pid = await start("sending")
        await polling_began(telegram, 0)
        await duty.send(f"/send 79041711001, 79041711002 Incident {token}: db1 down")
        preview = await duty.wait_for(lambda m: token in m.plain and "Check before sending" in m.plain, timeout=15)
        gateway.inject(Fault.SLOW, action="send", times=None, delay=30.0)  # both taken, neither answered
        await duty.press_data(preview.message_id, str(preview.buttons[0][0].data))
        await gateway.wait_requests(2, action="send", timeout=15)
        await kill(pid)
        gateway.clear_faults()
        assert [m["send_state"] for m in read_members(db)] == ["sending", "sending"]

        # The next start settles both and begins to tell; Telegram holds that message; killed there.
        notices = len(telegram.calls_to("sendMessage"))
        telegram.fail_next("sendMessage", error_code=502, delay=30)
        pid = await start("telling")
        await eventually(
            lambda: True if len(telegram.calls_to("sendMessage")) > notices else None, 15, "the notice begun (held)"
        )
        await kill(pid)
        assert [m["send_state"] for m in read_members(db)] == ["unknown", "unknown"]

        polls = len(telegram.calls_to("getUpdates"))
        pid = await start("told")
        await polling_began(telegram, polls)
        told = await duty.wait_for(
            lambda m: RESTARTED in m.plain and token in m.plain, timeout=15, what="the interrupted batch told"
        )
        assert MAYBE_NOT_RESENT in told.plain and "+7" in told.plain, told.plain
        os.kill(pid, signal.SIGTERM)
        assert await server.wait_exit(pid) == 0
    finally:
        server.kill_children()
    members = read_members(db)
    assert [m["send_state"] for m in members] == ["unknown", "unknown"]
    findings = audit_batches(members, gateway, at_rest=True)
    assert not findings, "\n".join(findings.lines)
    assert [r.fields.get("MSISDN") for r in gateway.requests if r.action == "send"].count("79041711001") == 1
    db.close()


def batch_kill_plan() -> list[tuple[int, str]]:
    """(trial, moment) of every kill of the series, drawn in one sequence before anything runs."""
    plan = random.Random(f"{SEED}:batches")
    return [(trial, plan.choices(list(BATCH_KILLS), list(BATCH_KILLS.values()))[0]) for trial in range(BATCH_TRIALS)]


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "shard", range(BATCH_SHARDS), ids=[f"part{k + 1}of{BATCH_SHARDS}" for k in range(BATCH_SHARDS)]
)
async def test_sigkill_in_the_middle_of_sends_to_several_recipients(
    tmp_path: Path, world: tuple[FakeTelegram, SandboxGateway], database_url: str | None, shard: int
) -> None:
    """Issue 17: SIGKILL at random moments of sends to several recipients (right after the press, as a
    recipient reaches the gateway, with calls in flight, as the gateway answers, during the start-up that
    resumes the previous one). Over the series: 0 recipients sent twice, 0 attempted recipients lost, 0
    never-attempted recipients left unsent after the restart; the one in flight is `unknown`, never resent; the
    operator of each interrupted batch is told. This part: every BATCH_SHARDS-th kill of `batch_kill_plan()`, on a
    bot and database of its own."""
    from bot.ui.batch_keyboards import BatchCb

    began = time.monotonic()
    telegram, gateway = world
    db = Reader(tmp_path / DB_FILE, database_url)
    env = {**bot_env(telegram, gateway, db.db_path, database_url), "SEND_CONCURRENCY": "2"}
    duty = telegram.user(USERS[0], "Duty", language_code="en")
    findings = Findings()
    modes: Counter[str] = Counter()
    interrupted: set[str] = set()  # tokens of batches a kill left with recipients queued or in flight
    logs: list[Path] = []
    batches = 0
    server = await asyncio.to_thread(fork_server)
    try:
        for trial, mode in batch_kill_plan()[shard::BATCH_SHARDS]:
            modes[mode] += 1
            rng = random.Random(f"{SEED}:batch:{trial}")
            log = tmp_path / f"batch-{trial}.log"
            logs.append(log)
            polls = len(telegram.calls_to("getUpdates"))
            pid = await server.spawn(env, tmp_path, log)
            if mode == "startup":
                await asyncio.sleep(rng.uniform(0.0, 0.5))
            else:
                await polling_began(telegram, polls)
                token = f"Zq7b{trial}"
                numbers = [f"790417{trial:02d}{i:03d}" for i in range(rng.randint(3, 7))]
                numbers += rng.sample(["79000000003", "79000000051", "79000000091"], rng.randint(0, 2))
                await duty.send("/send " + ", ".join(numbers) + f" Incident {token}: db1 down")
                preview = await duty.wait_for(
                    lambda m, t=token: t in m.plain and "Check before sending" in m.plain, timeout=15
                )
                go = str(preview.buttons[0][0].data)
                assert BatchCb.unpack(go).action == "go"
                batches += 1
                if mode == "slow_send":
                    gateway.inject(Fault.SLOW, action="send", times=None, delay=2.0)
                for _ in range(2 if rng.random() < 0.3 else 1):  # double taps
                    await duty.press_data(preview.message_id, go)
                await _batch_kill_moment(mode, rng, gateway, token, len(numbers))
            os.kill(pid, signal.SIGKILL)
            status = await server.wait_exit(pid)
            assert status in (-signal.SIGKILL, 0), f"batch trial {trial}: the bot ended with {status}"
            gateway.clear_faults()
            check = integrity(db)
            if check != "ok":
                findings.add("integrity", f"batch trial {trial}: {check}")
                continue
            members = read_members(db)
            findings.merge(audit_batches(members, gateway, at_rest=False))
            for m in members:
                if m["batch_state"] == "pressed" and m["send_state"] == "sending":
                    interrupted.add(str(token_of(m["text"])))

        # The last start, not killed: every batch's sending ends; then SIGTERM.
        log = tmp_path / "batch-final.log"
        logs.append(log)
        polls = len(telegram.calls_to("getUpdates"))
        pid = await server.spawn(env, tmp_path, log)
        await polling_began(telegram, polls)

        def all_sent() -> bool | None:
            rows = read_members(db)
            return True if all(r["sent_all_at"] or r["batch_state"] != "pressed" for r in rows) else None

        with contextlib.suppress(AssertionError):
            await eventually(all_sent, 40, "every batch sent")

        def told(token: str) -> bool:
            return any(RESTARTED in v.plain and token in v.plain for m in duty.messages for v in m.versions)

        with contextlib.suppress(AssertionError):
            await eventually(lambda: True if all(told(t) for t in interrupted) else None, 20, "operators told")
        for token in sorted(t for t in interrupted if not told(t)):
            findings.add("not_told", f"{token}: interrupted by a kill, its operator never told")
        os.kill(pid, signal.SIGTERM)
        assert await server.wait_exit(pid) == 0, log.read_text()
    finally:
        server.kill_children()
    members = read_members(db)
    findings.merge(audit_batches(members, gateway, at_rest=True))
    rows, tracked = snapshot(db)
    findings.merge(audit(rows, tracked, gateway, at_rest=True))
    db.close()
    assert db.engine_used() is None, db.engine_used()
    for log in logs:
        for line in unhandled_json_lines(log.read_text(errors="replace").splitlines(), EXPECTED_LOGS):
            findings.add("unhandled", f"{log.name}: {line}")
    received = Counter(
        (token_of(r.fields.get("Message")), r.fields.get("MSISDN")) for r in gateway.requests if r.action == "send"
    )
    pressed = [m for m in members if m["batch_state"] == "pressed"]
    in_flight_unknown = [m for m in pressed if m["send_state"] == "unknown" and m["attempted_at"]]
    never_reached = [m for m in in_flight_unknown if not received[(token_of(m["text"]), m["msisdn"])]]
    print(
        f"\nbatch crash trials on {db.engine}, part {shard + 1} of {BATCH_SHARDS}: {sum(modes.values())} kills (SIGKILL) by moment {dict(modes)}; {batches} batches, "
        f"{len(pressed)} recipients pressed, {sum(received.values())} send requests, "
        f"max per recipient {max(received.values(), default=0)}; {len(interrupted)} batches interrupted "
        f"(operator told); {len(in_flight_unknown)} recipients in flight at a kill became unknown "
        f"({len(never_reached)} of them never reached the gateway); states "
        f"{dict(Counter(m['send_state'] for m in pressed))}; findings: {findings.summary()}; "
        f"wall {time.monotonic() - began:.1f} s"
    )
    assert not findings, "\n".join(findings.lines)
