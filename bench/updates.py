"""Section 1 — update throughput and latency, the real bot against a bare aiogram echo bot.

Throughput: `burst` /help updates are queued at the fake server at once (spread over 20 users); the time
runs from queueing the first to the last answer (sendMessage) arriving. Best of `rounds`, after a warm-up.
Both bots run as subprocesses polling the same fake server, taking turns round by round (the idle one frozen
with SIGSTOP), so a busy moment of the machine does not fall on one of them only.

Latency: one user, one update at a time (the next after the answer): /help, /balance, /send <number> <text>
(answered by the preview) and the Send press (answered by answerCallbackQuery, which the bot sends after
the gateway accepted the SMS). Latency = the answer's arrival at the fake server minus the moment the update
was queued there; "excl. gateway" subtracts the sandbox's own service time inside that window.

Mixed: `mixed_users` users run those four steps concurrently (closed loop): updates/s under a mix.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from bench.rig import (
    BURST_USERS,
    LATENCY_USER,
    MIXED_BASE,
    NEVER_FINAL,
    Child,
    Servers,
    is_message_to,
    wait_calls,
)
from bench.stats import percentile
from bot.devkit.telegram import FakeUser

OPS = ("help", "balance", "send", "confirm")


@dataclass
class Sample:
    op: str
    latency: float  # seconds, queue -> answer
    gateway: float  # seconds of gateway service time inside that window

    @property
    def own(self) -> float:
        return max(0.0, self.latency - self.gateway)


@dataclass
class Counter:
    pushed: int = 0  # updates queued for the bot under test


@dataclass
class Cycle:
    """One user's /help, /balance, /send, Send press — each queued after the previous one's answer."""

    servers: Servers
    user: FakeUser
    counter: Counter
    samples: list[Sample] = field(default_factory=list)

    async def run(self, tag: str) -> None:
        telegram = self.servers.telegram
        for op, text in (("help", "/help"), ("balance", "/balance")):
            await self._message(op, text)
        self.user.mark_seen()
        await self._message("send", f"/send {NEVER_FINAL} Bench {tag}")
        preview = await self.user.wait_for(lambda m: "Check before sending" in m.plain, timeout=30)
        mark, since = len(telegram.calls), len(self.servers.gateway.service)
        queued = time.monotonic()
        query_id = await self.user.press(preview, 1)  # ✅ Send
        self.counter.pushed += 1
        [answer] = await wait_calls(
            telegram,
            mark,
            lambda c: c.method == "answerCallbackQuery" and str(c.params.get("callback_query_id")) == query_id,
            timeout=30,
        )
        self._sample("confirm", queued, answer.time, since)
        chat = self.user.chat_id
        await wait_calls(
            telegram, mark, lambda c: c.method == "editMessageText" and c.params.get("chat_id") == chat, timeout=30
        )

    async def _message(self, op: str, text: str) -> None:
        telegram = self.servers.telegram
        mark, since = len(telegram.calls), len(self.servers.gateway.service)
        queued = time.monotonic()
        await self.user.send(text)
        self.counter.pushed += 1
        [answer] = await wait_calls(telegram, mark, is_message_to(self.user.chat_id), timeout=30)
        self._sample(op, queued, answer.time, since)

    def _sample(self, op: str, queued: float, answered: float, since: int) -> None:
        gateway = self.servers.gateway.time_within(queued, answered, since)
        self.samples.append(Sample(op, answered - queued, gateway))


async def burst(
    servers: Servers, users: list[FakeUser], n: int, counter: Counter | None = None, bot: Child | None = None
) -> dict[str, float]:
    """Queue n /help at once; seconds until the n-th answer, the rig's own CPU share meanwhile, and the CPU the
    bot spent per update (its process's, not the database server's)."""
    telegram = servers.telegram
    mark = len(telegram.calls)
    bot_cpu = bot.cpu_s() if bot is not None else 0.0
    cpu = time.process_time()
    started = time.monotonic()
    for i in range(n):
        await users[i % len(users)].send("/help")
    if counter is not None:
        counter.pushed += n
    answers = await wait_calls(telegram, mark, lambda c: c.method == "sendMessage", n, timeout=60 + n / 20)
    wall = answers[-1].time - started
    rig_cpu = time.process_time() - cpu
    cpu_ms = (bot.cpu_s() - bot_cpu) / n * 1000 if bot is not None else 0.0
    await telegram.wait_for_poll(timeout=30)  # the bot confirmed them (next getUpdates offset)
    return {
        "updates": n,
        "seconds": wall,
        "updates_per_s": n / wall,
        "rig_cpu_share": rig_cpu / wall,
        "cpu_ms_per_update": cpu_ms,
    }


def summarize(samples: list[Sample]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op in OPS:
        chosen = [s for s in samples if s.op == op]
        if not chosen:
            continue
        out[op] = {
            "n": len(chosen),
            "p50_ms": percentile([s.latency for s in chosen], 50) * 1000,
            "p99_ms": percentile([s.latency for s in chosen], 99) * 1000,
            "p50_own_ms": percentile([s.own for s in chosen], 50) * 1000,
            "p99_own_ms": percentile([s.own for s in chosen], 99) * 1000,
            "max_own_ms": max(s.own for s in chosen) * 1000,
        }
    return out


async def activate(servers: Servers, on: Child, off: Child) -> None:
    """Let `on` poll the fake server and freeze `off` (see Child.pause); back when `on` is polling again."""
    telegram = servers.telegram
    if not off.paused:
        off.pause()
    if on.paused:
        mark = len(telegram.calls)
        on.resume()
        await wait_calls(telegram, mark, lambda c: c.method == "getUpdates", 1, timeout=30)
    await telegram.wait_for_poll(timeout=30)


async def compare(
    servers: Servers,
    echo: Child,
    bot: Child,
    *,
    n: int,
    rounds: int,
    latency_cycles: int,
    mixed_users: int,
    mixed_cycles: int,
    counter: Counter,
    warmup: bool = True,
    bare_latency_early: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Throughput rounds of the bare bot and the real one, alternating (a warm-up round each first, unless not
    `warmup`), so both see the machine in the same state; then their latencies (the bare bot's right after its
    last burst if `bare_latency_early`: one switch of bots less each way), and the real bot's mixed load."""
    telegram = servers.telegram
    users = [telegram.user(uid, f"B{uid}", language_code="en") for uid in BURST_USERS]
    bare_rounds: list[dict[str, float]] = []
    ours_rounds: list[dict[str, float]] = []
    latencies: list[float] = []
    for r in range(0 if warmup else 1, rounds + 1):
        size = max(50, n // 2) if r == 0 else n  # round 0 warms up: imports, caches, connections
        await activate(servers, echo, bot)
        bare = await burst(servers, users, size, bot=echo)
        if bare_latency_early and r == rounds:
            latencies = await help_latencies(servers, users[0], latency_cycles * len(OPS))
        await activate(servers, bot, echo)
        ours = await burst(servers, users, size, counter, bot=bot)
        if r:
            bare_rounds.append(bare)
            ours_rounds.append(ours)

    if not bare_latency_early:
        await activate(servers, echo, bot)
        latencies = await help_latencies(servers, users[0], latency_cycles * len(OPS))
        await activate(servers, bot, echo)
    bare_result = {
        "help_updates_per_s": max(r["updates_per_s"] for r in bare_rounds),
        "rounds": bare_rounds,
        "help_p50_ms": percentile(latencies, 50) * 1000,
        "help_p99_ms": percentile(latencies, 99) * 1000,
    }
    ours_result = await latency_and_mixed(servers, latency_cycles, mixed_users, mixed_cycles, counter)
    ours_result["help_updates_per_s"] = max(r["updates_per_s"] for r in ours_rounds)
    ours_result["rounds"] = ours_rounds
    # Each round's two bursts run seconds apart: on a shared machine their ratio, taken round by round, follows the
    # other work's coming and going far less than the ratio of the two bests (which may come from different rounds).
    # CPU per update moves even less with the machine's load than time does (the database server's is not in it).
    bare_result["help_cpu_ms"] = statistics.median(r["cpu_ms_per_update"] for r in bare_rounds)
    ours_result["help_cpu_ms"] = statistics.median(r["cpu_ms_per_update"] for r in ours_rounds)
    ours_result["paired_ratio"] = statistics.median(
        o["updates_per_s"] / b["updates_per_s"] for o, b in zip(ours_rounds, bare_rounds, strict=True)
    )
    return bare_result, ours_result


async def help_latencies(servers: Servers, user: FakeUser, count: int) -> list[float]:
    """One /help at a time, the next after the answer: seconds from queueing each to its answer."""
    telegram = servers.telegram
    latencies: list[float] = []
    for _ in range(count):
        mark = len(telegram.calls)
        queued = time.monotonic()
        await user.send("/help")
        [answer] = await wait_calls(telegram, mark, is_message_to(user.chat_id), timeout=30)
        latencies.append(answer.time - queued)
    return latencies


async def latency_and_mixed(
    servers: Servers, latency_cycles: int, mixed_users: int, mixed_cycles: int, counter: Counter
) -> dict[str, Any]:
    telegram = servers.telegram

    # Latency: one update at a time.
    one = Cycle(servers, telegram.user(LATENCY_USER, "Lena", language_code="en"), counter)
    for i in range(latency_cycles):
        await one.run(f"latency {i}")
    sequential = summarize(one.samples)
    own_all = [s.own for s in one.samples]

    # Mixed, concurrent closed loop.
    cycles = [
        Cycle(servers, telegram.user(MIXED_BASE + i, f"M{i}", language_code="en"), counter) for i in range(mixed_users)
    ]
    before = counter.pushed
    started = time.monotonic()

    async def loop(cycle: Cycle) -> None:
        for k in range(mixed_cycles):
            await cycle.run(f"mixed {k}")

    await asyncio.gather(*(loop(c) for c in cycles))
    wall = time.monotonic() - started
    mixed_samples = [s for c in cycles for s in c.samples]
    return {
        "latency": sequential,
        "p99_own_ms": percentile(own_all, 99) * 1000,
        "p50_own_ms": percentile(own_all, 50) * 1000,
        "mixed": {
            "users": mixed_users,
            "updates": counter.pushed - before,
            "seconds": wall,
            "updates_per_s": (counter.pushed - before) / wall,
            "p50_ms": percentile([s.latency for s in mixed_samples], 50) * 1000,
            "p99_ms": percentile([s.latency for s in mixed_samples], 99) * 1000,
        },
    }
