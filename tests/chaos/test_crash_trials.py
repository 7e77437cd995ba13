"""Issue 6 (A.2): the bot killed (SIGKILL) at random moments of a send-and-track workload, then restarted.

The bot runs as its own process against a fake Telegram and the sandbox gateway in this test. After every
kill the SQLite file must pass `PRAGMA integrity_check`; after every restart nothing may be stuck in
`sending` (it became `unknown` and its operator was told it "may or may not" have gone out); over the whole
series no draft reached the gateway twice, none reached it without a confirmed Send, none was lost, every
accepted SMS was tracked to its final status and its operator was told, and no exception escaped (the JSON
log of every process is read). tests/support/chaos_support.py has the invariants.

Where the kill lands: at random during start-up (a crash while recovering from the previous one), at a random
moment of the workload, right as the gateway receives a send (with and without a slow answer), right as it
answers one, and in the delivery tracker's window (query → status stored → operator told).

Speed: starting `python -m bot` costs ~3 s of imports, so the random series forks each bot from a process
that imported it once (`tests/support/crash_worker.py`, one per test process: `tests/support/forkserver.py`): from
`bot.__main__.main()` on, each child is `python -m bot` with its own environment. The trial of issue 5 and the
series killed in the middle of a send to several recipients are in tests/chaos/test_crash_batch.py.
`CRASH_TRIALS` (default 30; e.g. 200 for a soak) and `CRASH_SEED` choose the series. Its kills are drawn up
front (`kill_plan()`) and run in SHARDS parts of every SHARDS-th kill, each part a test of its own on its own bot,
fake Telegram, gateway and database, ending with the last start and every check: xdist runs the parts side by
side. The four pinned kills are a fifth part. Per engine: 30 random kills + 4 pinned, as in one series.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import BotMessage, ChatView, FakeTelegram, FakeUser
from bot.ui.callbacks import SendCb
from tests.support.chaos_support import (
    MAYBE,
    NOTHING_SENT,
    SENT,
    SETTLED,
    Findings,
    Row,
    audit,
    delivery_notices,
    eventually,
    integrity,
    is_delivery_notice,
    operator_told,
    read_sends,
    snapshot,
    texts_about,
    token_of,
    unhandled_json_lines,
)
from tests.support.dbreader import Reader
from tests.support.forkserver import ForkServer, fork_server

ROOT = Path(__file__).resolve().parent.parent.parent
TRIALS = int(os.environ.get("CRASH_TRIALS", "30"))  # random kills per engine, over all the parts
SHARDS = 4  # the random series in parts of every 4th kill, so that xdist runs them side by side
SEED = int(os.environ.get("CRASH_SEED", "5050"))
DB_FILE = Path("data") / "bot.sqlite3"  # on PostgreSQL (`database_url`) the file stays unused

BOT_TOKEN = "777001:CRASH-token-Zq9tok"
API_KEY = "crash-login"
PASSWORD = "Crash-Pw-Zq9pass"
USERS = (1001, 1002, 1003, 1004, 1005, 1006)
# All reach a final status after the sandbox's delivery delay, or fail at once (3: "Sent Error").
NUMBERS = ("79041764995", "79161234567", "79000000051", "79000000071", "79000000091", "79000000003")
KILL_MODES = {
    "startup": 1.5,  # during start-up: recovery of the previous crash, its notices, the menu
    "timer": 2.0,  # a random moment of the workload
    "send": 2.0,  # as the gateway receives a send
    "slow_send": 1.0,  # the gateway received a send and holds its answer back (issue 5)
    "answer": 1.5,  # as the gateway answers a send
    "tracking": 2.0,  # in the tracker's window: status query → stored → operator told
}
PHASES = ("start-up", "workload", "after the kill", "final tracking")
EXPECTED_LOGS: tuple[str, ...] = ()  # nothing our code logs with a traceback is expected


def bot_env(
    telegram: FakeTelegram, gateway: SandboxGateway, db_path: Path, database_url: str | None = None
) -> dict[str, str]:
    """The settings of the contract, as an operator's deployment sets them (on PostgreSQL when `database_url`)."""
    engine = {"DATABASE_URL": database_url} if database_url else {}
    return {
        **engine,
        "BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "SMSKA_URL": gateway.url,
        "SMSKA_API_KEY": API_KEY,
        "SMSKA_API_PASSWORD": PASSWORD,
        "SMSKA_SENDER_IDS": "OnCall,Backup",
        "SMSKA_TIMEOUT": "2",
        "DATABASE_PATH": str(db_path),
        "ADMIN_IDS": ",".join(str(u) for u in USERS),
        "DEFAULT_LOCALE": "en",
        "DELIVERY_POLL_INITIAL": "0.2",
        "DELIVERY_POLL_MAX": "1",
        "DELIVERY_TRACK_HOURS": "1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A process environment with the checkout importable and none of the bot's settings but `extra`."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return {**env, **(extra or {})}


# ------------------------------------------------------------------------------------------------ the rig


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegram, SandboxGateway]]:
    telegram = FakeTelegram(token=BOT_TOKEN)
    gateway = SandboxGateway(
        api_key=API_KEY,
        api_password=PASSWORD,
        balance=Decimal("100000"),
        delivery_delay=0.3,
        senders=("OnCall", "Backup"),
    )
    await telegram.start()
    await gateway.start()
    try:
        yield telegram, gateway
    finally:
        await gateway.stop()
        await telegram.stop()


async def polling_began(telegram: FakeTelegram, before: int, timeout: float = 30.0) -> None:
    """The new process asks Telegram for updates: it has recovered, told its operators, and is serving."""
    await eventually(
        lambda: True if len(telegram.calls_to("getUpdates")) > before else None, timeout, "the bot to start polling"
    )


@dataclass
class Draft:
    token: str
    user: FakeUser
    message_id: int
    draft_id: int
    pressed: bool = False
    cancelled: bool = False

    @property
    def go(self) -> str:
        return SendCb(action="go", draft_id=self.draft_id).pack()

    @property
    def cancel(self) -> str:
        return SendCb(action="cancel", draft_id=self.draft_id).pack()


@dataclass
class Series:
    telegram: FakeTelegram
    gateway: SandboxGateway
    directory: Path
    db: Reader  # the database, read beside the bot (SQLite file or PostgreSQL)
    users: list[FakeUser] = field(default_factory=list)
    drafts: dict[str, Draft] = field(default_factory=dict)
    findings: Findings = field(default_factory=Findings)
    owed: set[int] = field(default_factory=set)  # rows left in `sending` by a kill: owed "may or may not"
    seen: dict[int, str] = field(default_factory=dict)  # the furthest state each row was seen in
    modes: Counter[str] = field(default_factory=Counter)
    kills_mid_send: int = 0  # kills that left a row in `sending`
    recovered: int = 0  # such rows found `unknown` with the operator told, after the restart
    logs: list[Path] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))  # seconds, by phase
    n: int = 0

    @property
    def db_path(self) -> Path:
        return self.directory / DB_FILE

    def rounded_timing(self) -> dict[str, float]:
        return {phase: round(seconds, 1) for phase, seconds in self.timing.items()}

    def env(self) -> dict[str, str]:
        return bot_env(self.telegram, self.gateway, self.db_path, self.db.url)

    # --- what operators do -------------------------------------------------------------------------
    async def compose(self, user: FakeUser, rng: random.Random | None = None, number: str = NUMBERS[0]) -> Draft:
        """A preview for a new SMS (to a random number of NUMBERS when given `rng`)."""
        self.n += 1
        token = f"Zq7n{self.n}"
        number = rng.choice(NUMBERS) if rng is not None else number
        await user.send(f"/send {number} Incident {token}: db1 down")
        preview = await ChatView(self.telegram, user.state).wait_for(
            lambda m: token in m.plain and "Check before sending" in m.plain, timeout=15
        )
        draft = Draft(token, user, preview.message_id, SendCb.unpack(str(preview.buttons[0][0].data)).draft_id)
        self.drafts[token] = draft
        return draft

    async def operator(self, user: FakeUser, rng: random.Random) -> None:
        """One on-call person: maybe a press on an old preview, then one or two new SMS."""
        old = [d for d in self.drafts.values() if d.user is user]
        if old and rng.random() < 0.3:
            stale = rng.choice(old)
            stale.pressed = True
            await user.press_data(stale.message_id, stale.go)
        for _ in range(rng.randint(1, 2)):
            draft = await self.compose(user, rng)
            if rng.random() < 0.15:
                draft.cancelled = True
                await user.press_data(draft.message_id, draft.cancel)
                continue
            draft.pressed = True
            for _ in range(2 if rng.random() < 0.25 else 1):
                await user.press_data(draft.message_id, draft.go)
            if rng.random() < 0.1:
                draft.cancelled = True
                await user.press_data(draft.message_id, draft.cancel)

            def settled(m: BotMessage, d: Draft = draft) -> bool:
                return m.message_id == d.message_id and any(s in m.plain for s in (SENT, NOTHING_SENT, MAYBE))

            await ChatView(self.telegram, user.state).wait_for(settled, timeout=15)

    async def workload(self, trial: int) -> None:
        """One or two people at once, each with their own seeded choices (the same whatever the timing)."""
        rng = random.Random(f"{SEED}:{trial}")
        people = rng.sample(self.users, rng.choices([1, 2], [3, 2])[0])
        await asyncio.gather(*(self.operator(p, random.Random(f"{SEED}:{trial}:{p.user_id}")) for p in people))

    # --- checks --------------------------------------------------------------------------------------
    def after_kill(self, trial: int | str) -> None:
        """The process is dead: the file must be sound, and every row where it was, or further."""
        check = integrity(self.db)
        if check != "ok":
            self.findings.add("integrity", f"trial {trial}: {check}")
            return
        rows, tracked = snapshot(self.db)
        self.findings.merge(audit(rows, tracked, self.gateway, at_rest=False))
        self.progress(rows, trial)
        sending = [r for r in rows if r["state"] == "sending"]
        self.kills_mid_send += bool(sending and not {r["id"] for r in sending} <= self.owed)
        self.owed |= {r["id"] for r in sending}

    def progress(self, rows: list[Row], trial: int | str) -> None:
        order = {"draft": 0, "cancelled": 1, "sending": 1, "unknown": 2, "failed": 2, "accepted": 2}
        now = {r["id"]: r["state"] for r in rows}
        for send_id, before in self.seen.items():
            after = now.get(send_id)
            if after is None or order[after] < order[before] or (order[before] == 2 and after != before):
                self.findings.add("lost", f"trial {trial}: row {send_id} went from {before} to {after}")
        self.seen.update(now)

    async def after_start(self, trial: int | str, patience: float = 30.0) -> None:
        """The new process is polling: nothing in `sending`; each row a kill left there is `unknown` and its
        operator is told (in the background, at Telegram's pace: within `patience`) it may or may not have
        gone out."""
        rows, _ = snapshot(self.db)
        by_id = {r["id"]: r for r in rows}
        owed = [by_id[i] for i in sorted(self.owed) if i in by_id]
        with contextlib.suppress(AssertionError):  # not told in time: the checks below say so
            await eventually(
                lambda: True if all(MAYBE in " ".join(texts_about(self.telegram, r)) for r in owed) else None,
                patience,
                "the operators of interrupted sends to be told",
            )
        rows, tracked = snapshot(self.db)
        # Presses queued while the bot was down may be being sent right now: only rows left by the kill are
        # known to be at rest.
        self.findings.merge(audit(rows, tracked, self.gateway, at_rest=False))
        self.progress(rows, trial)
        by_id = {r["id"]: r for r in rows}
        for send_id in sorted(self.owed):
            row = by_id[send_id]
            if row["state"] != "unknown":
                self.findings.add("stuck", f"trial {trial}: row {send_id} left in `sending` is {row['state']}")
            elif MAYBE not in " ".join(texts_about(self.telegram, row)):
                self.findings.add("not_told", f"trial {trial}: {token_of(row['text'])} became unknown, nobody told")
            else:
                self.recovered += 1
        self.owed.clear()

    def scan_logs(self) -> None:
        for log in self.logs:
            for line in unhandled_json_lines(log.read_text(errors="replace").splitlines(), EXPECTED_LOGS):
                self.findings.add("unhandled", f"{log.name}: {line}")

    def final(self) -> dict[str, int]:
        rows, tracked = snapshot(self.db)
        self.findings.merge(audit(rows, tracked, self.gateway, at_rest=True))
        facts: Counter[str] = Counter(r["state"] for r in rows)
        for row in rows:
            draft = self.drafts.get(str(token_of(row["text"])))
            if row["state"] in SETTLED:
                problem = operator_told(self.telegram, row)
                if problem:
                    self.findings.add("not_told", f"{token_of(row['text'])}: {problem}")
            if row["state"] == "accepted":
                if row["final"] != 1:
                    self.findings.add("untracked", f"{token_of(row['text'])}: accepted, never final")
                facts["duplicate notices"] += max(0, delivery_notices(self.telegram, row) - 1)
            if draft is not None and draft.draft_id == row["id"] and draft.pressed and row["state"] == "draft":
                facts["presses lost with the process (nothing recorded, nothing sent)"] += 1
        return dict(facts)


async def _kill_moment(mode: str, delay: float, gateway: SandboxGateway, sends: int, queries: int, sent: int) -> None:
    """Wait for the moment chosen by `mode`, then `delay` more seconds (bounded: the workload may never get
    there)."""
    try:
        if mode in ("send", "slow_send"):
            await gateway.wait_requests(sends + 1, action="send", timeout=8)
        elif mode == "answer":
            await gateway.wait_sent(sent + 1, timeout=8)
        elif mode == "tracking":
            await gateway.wait_requests(queries + 1, action="query", timeout=3)
    except TimeoutError:
        pass
    await asyncio.sleep(delay)


def _kill_delay(mode: str, rng: random.Random) -> float:
    """Drawn before the trial starts, so that the plan of kills is the same whatever the timing."""
    exact = rng.random() < 0.5
    return {
        "timer": rng.uniform(0.05, 1.0),
        "send": 0.0 if exact else rng.uniform(0.0, 0.03),
        "slow_send": 0.0 if exact else rng.uniform(0.0, 0.03),
        "answer": 0.0 if exact else rng.uniform(0.0, 0.01),
        "tracking": rng.uniform(0.0, 1.0),
        "startup": rng.uniform(0.0, 0.4),
    }[mode]


@dataclass(frozen=True)
class Kill:
    trial: int  # its workload's seed is f"{SEED}:{trial}"
    mode: str
    delay: float


def kill_plan() -> list[Kill]:
    """Every random kill of the series, drawn from CRASH_SEED in one sequence before anything runs: which part
    of the series a trial lands in changes nothing about its kill."""
    rng = random.Random(SEED)
    plan = []
    for trial in range(TRIALS):
        mode = rng.choices(list(KILL_MODES), list(KILL_MODES.values()))[0]
        plan.append(Kill(trial, mode, _kill_delay(mode, rng)))
    return plan


@asynccontextmanager
async def crash_series(
    tmp_path: Path, world: tuple[FakeTelegram, SandboxGateway], database_url: str | None, part: str
) -> AsyncIterator[tuple[Series, ForkServer]]:
    """A series on its own world and database; after the block, the last start (not killed) and every check."""
    began = time.monotonic()
    telegram, gateway = world
    series = Series(telegram, gateway, tmp_path, Reader(tmp_path / DB_FILE, database_url))
    series.users = [telegram.user(uid, f"Duty{uid}", language_code="en") for uid in USERS]
    server = await asyncio.to_thread(fork_server)
    try:
        yield series, server
        await _last_start(series, server)
    finally:
        server.kill_children()
    if integrity(series.db) != "ok":
        series.findings.add("integrity", "after the final stop")
    series.scan_logs()
    facts = series.final()
    series.db.close()
    assert series.db.engine_used() is None, series.db.engine_used()
    received = Counter(r.action for r in gateway.requests)
    print(
        f"\ncrash trials on {series.db.engine}, {part}: {sum(series.modes.values())} kills (SIGKILL) by moment {dict(series.modes)}; "
        f"{series.kills_mid_send} left a row in `sending`, {series.recovered} such rows recovered as unknown "
        f"with the operator told; {len(series.drafts)} drafts, {received['send']} send requests, "
        f"{len(gateway.sent)} SMS sent; rows {facts}; findings: {series.findings.summary()}; "
        f"seconds by phase {series.rounded_timing()}; wall {time.monotonic() - began:.1f} s"
    )
    assert not series.findings, "\n".join(series.findings.lines)


@pytest.mark.timeout(240)  # ~8 kills, each a start of the bot: ~15 s alone, more on a loaded machine
@pytest.mark.parametrize("shard", range(SHARDS), ids=[f"part{k + 1}of{SHARDS}" for k in range(SHARDS)])
async def test_sigkill_at_random_moments_never_sends_twice_loses_or_corrupts(
    tmp_path: Path, world: tuple[FakeTelegram, SandboxGateway], database_url: str | None, shard: int
) -> None:
    """One part of the random series (every SHARDS-th kill of `kill_plan()`, on a bot and database of its own):
    the parts together are the whole series of CRASH_TRIALS kills on each engine."""
    async with crash_series(tmp_path, world, database_url, f"part {shard + 1} of {SHARDS}") as (series, server):
        for kill in kill_plan()[shard::SHARDS]:
            await _random_trial(series, server, kill)


@pytest.mark.timeout(240)
async def test_sigkill_at_pinned_moments_tells_every_operator_at_the_next_start(
    tmp_path: Path, world: tuple[FakeTelegram, SandboxGateway], database_url: str | None
) -> None:
    """The four kills placed exactly (`_pinned_trials`), with the same checks as the random series."""
    async with crash_series(tmp_path, world, database_url, "pinned") as (series, server):
        await _pinned_trials(series, server)


async def _random_trial(series: Series, server: ForkServer, kill: Kill) -> None:
    """Start the bot; at `kill.mode`'s moment (after `kill.delay`), SIGKILL it; check what it left."""
    telegram, gateway, trial, mode = series.telegram, series.gateway, kill.trial, kill.mode
    series.modes[mode] += 1
    log = series.directory / f"bot-{trial}.log"
    series.logs.append(log)
    polls = len(telegram.calls_to("getUpdates"))
    started = time.monotonic()
    pid = await server.spawn(series.env(), series.directory, log)
    if mode == "startup":
        await asyncio.sleep(kill.delay)
    else:
        await polling_began(telegram, polls)
        series.timing["start-up"] += time.monotonic() - started
        started = time.monotonic()
        await series.after_start(trial)
        sends = len([r for r in gateway.requests if r.action == "send"])
        queries = len([r for r in gateway.requests if r.action == "query"])
        if mode == "slow_send":
            gateway.inject(Fault.SLOW, action="send", delay=3.0)
        work = asyncio.create_task(series.workload(trial))
        moment = asyncio.create_task(_kill_moment(mode, kill.delay, gateway, sends, queries, len(gateway.sent)))
        # A send-anchored kill needs the workload still sending: when it is done first, kill now.
        watch = {moment, work} if mode in ("send", "slow_send", "answer") else {moment}
        await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
        moment.cancel()
        series.timing["workload"] += time.monotonic() - started
        os.kill(pid, signal.SIGKILL)
        work.cancel()
        try:
            await work
        except asyncio.CancelledError:
            pass
        except AssertionError as exc:  # a wait of the workload ran out: say which, with the trial
            raise AssertionError(f"trial {trial} ({mode}): {exc}") from None
        gateway.clear_faults()
    if mode == "startup":
        os.kill(pid, signal.SIGKILL)
    started = time.monotonic()
    status = await server.wait_exit(pid)
    assert status in (-signal.SIGKILL, 0), f"trial {trial}: the bot ended with {status}: {log.read_text()}"
    series.after_kill(trial)
    series.timing["after the kill"] += time.monotonic() - started


async def _last_start(series: Series, server: ForkServer) -> None:
    """The last start: not killed. It recovers, tracks every accepted SMS to its end, and stops on SIGTERM."""
    log = series.directory / "bot-final.log"
    series.logs.append(log)
    polls = len(series.telegram.calls_to("getUpdates"))
    pid = await server.spawn(series.env(), series.directory, log)
    await polling_began(series.telegram, polls)
    await series.after_start("final")
    started = time.monotonic()
    await _all_tracked(series)
    series.timing["final tracking"] += time.monotonic() - started
    os.kill(pid, signal.SIGTERM)
    assert await server.wait_exit(pid) == 0, log.read_text()


async def _pinned_trials(series: Series, server: ForkServer) -> None:
    """Three kills placed exactly, before the random ones (a delayed Telegram answer holds the bot there):
    * after the delivery status was stored final, before the operator was told;
    * while telling an operator, at start-up, that a send was interrupted by the previous kill.
    * after the gateway refused a send, before the operator was shown that.
    Each time the operator must be told after the next start."""
    telegram, gateway, duty = series.telegram, series.gateway, series.users[0]

    async def start(name: str) -> int:
        log = series.directory / f"bot-{name}.log"
        series.logs.append(log)
        return await server.spawn(series.env(), series.directory, log)

    async def kill(pid: int, name: str) -> None:
        os.kill(pid, signal.SIGKILL)
        assert await server.wait_exit(pid) == -signal.SIGKILL
        series.after_kill(name)
        series.modes[f"pinned: {name}"] += 1

    # 1. The status is final in the database; the notice is held up (Telegram answers the edit after 30 s).
    polls = len(telegram.calls_to("getUpdates"))
    pid = await start("notice-held")
    await polling_began(telegram, polls)
    draft = await series.compose(duty)
    draft.pressed = True
    await duty.press_data(draft.message_id, draft.go)
    preview = await ChatView(telegram, duty.state).wait_for(
        lambda m: m.message_id == draft.message_id and SENT in m.plain, timeout=15
    )
    edits = len(telegram.calls_to("editMessageText"))
    telegram.fail_next("editMessageText", error_code=502, delay=30)
    gid = next(r["gateway_id"] for r in read_sends(series.db) if token_of(r["text"]) == draft.token)
    await eventually(
        lambda: True if any(r["gateway_id"] == gid and r["final"] == 1 for r in read_sends(series.db)) else None,
        15,
        "the final status stored",
    )
    await eventually(
        lambda: True if len(telegram.calls_to("editMessageText")) > edits else None, 15, "the notice begun (held)"
    )
    await kill(pid, "notice-held")
    polls = len(telegram.calls_to("getUpdates"))
    pid = await start("notice-owed")
    await polling_began(telegram, polls)
    await series.after_start("notice-owed")
    await ChatView(telegram, duty.state).wait_for(
        lambda m: gid in m.plain and "SMS to" in m.plain,
        timeout=15,
        what=f"the delivery notice of {gid}, owed since the kill ({preview.plain[:40]}...)",
    )

    # 2. A send interrupted; the restart's notice about it is held up; killed again there.
    draft = await series.compose(duty)
    draft.pressed = True
    sends = len([r for r in gateway.requests if r.action == "send"])
    gateway.inject(Fault.SLOW, action="send", delay=30)
    await duty.press_data(draft.message_id, draft.go)
    await gateway.wait_requests(sends + 1, action="send", timeout=15)
    await kill(pid, "mid-send")
    gateway.clear_faults()
    edits = len(telegram.calls_to("editMessageText"))
    telegram.fail_next("editMessageText", error_code=502, delay=30)
    pid = await start("telling-held")
    await eventually(
        lambda: True if len(telegram.calls_to("editMessageText")) > edits else None, 15, "the restart notice begun"
    )
    await kill(pid, "telling-held")
    polls = len(telegram.calls_to("getUpdates"))
    pid = await start("telling-again")
    await polling_began(telegram, polls)
    await series.after_start("telling-again")

    # 3. The gateway refused a send; killed before the operator saw that (the outcome's edit of the preview is
    # held up; the press itself was answered at once, "Sending…").
    draft = await series.compose(duty, number=NUMBERS[-1])  # the gateway answers 3|Sent Error
    draft.pressed = True
    edits = len(telegram.calls_to("editMessageText"))
    telegram.fail_next("editMessageText", error_code=502, delay=30)
    await duty.press_data(draft.message_id, draft.go)
    await eventually(
        lambda: True if len(telegram.calls_to("editMessageText")) > edits else None, 15, "the outcome shown"
    )
    assert [r["state"] for r in read_sends(series.db) if r["id"] == draft.draft_id] == ["failed"]
    await kill(pid, "outcome-held")
    polls = len(telegram.calls_to("getUpdates"))
    pid = await start("outcome-owed")
    await polling_began(telegram, polls)
    await series.after_start("outcome-owed")
    await ChatView(telegram, duty.state).wait_for(
        lambda m: m.message_id == draft.message_id and "was not sent" in m.plain,
        timeout=15,
        what="the refused SMS's outcome, owed since the kill",
    )
    os.kill(pid, signal.SIGTERM)
    assert await server.wait_exit(pid) == 0


async def _all_tracked(series: Series) -> None:
    """Every accepted SMS reaches its final status and its operator gets the delivery notice (a new message:
    the phone rings), however many kills came between."""
    for row in read_sends(series.db):
        if row["state"] != "accepted":
            continue
        chat = ChatView(series.telegram, series.telegram.user(row["chat_id"]).state)
        gid = str(row["gateway_id"])

        def notice(m: BotMessage, gid: str = gid) -> bool:
            return is_delivery_notice(m, gid)

        try:
            await chat.wait_for(notice, timeout=40)
        except AssertionError:
            series.findings.add("untracked", f"{token_of(row['text'])} ({gid}): no delivery notice within 40 s")
