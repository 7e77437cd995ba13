"""Runs every section in order, prints the table, writes bench/results.json, ends with one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import batch, engines, footprint, sending, tracking, updates
from bench.plan import FULL, QUICK, SMOKE, Plan
from bench.report import headline, table
from bench.rig import (
    BURST_USERS,
    LATENCY_USER,
    MEMORY_BASE,
    MIXED_BASE,
    SEND_BASE,
    Servers,
    bot_process,
    echo_process,
    seed_operators,
)
from bench.spare import ForkedChild, Spare
from bench.stats import machine

RESULTS = Path(__file__).resolve().parent / "results.json"
#: The main bot's delivery settings: quick enough that notices come within the run.
MAIN_SETTINGS = {"DELIVERY_POLL_INITIAL": "0.5", "DELIVERY_POLL_MAX": "5", "DELIVERY_TRACK_HOURS": "1"}


def sources_digest() -> str:
    """What the numbers depend on: every source file of `bot/` and `bench/` (paths and contents), hashed. A
    results file carrying the digest of today's sources is the run of these very sources."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(p for folder in ("bot", "bench") for p in (root / folder).rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def help_answer() -> str:
    """The real bot's /help answer for an operator, in English: the echo bot answers exactly this."""
    from bot.i18n import make_i18n
    from bot.ui.commands import help_text

    i18n = make_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        return help_text(False)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run(plan: Plan, workdir: Path, pg_url: str | None = None, spare: Spare | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"plan": plan.name, "sources": sources_digest(), "machine": machine()}
    started = time.monotonic()
    async with Servers(delivery_delay=plan.delivery_delay) as servers:
        if not plan.overlap:  # else beside the echo bot's start-up (bot_sections)
            say("baselines: python -c pass, python -c 'import aiogram'")
            results["baseline"] = await footprint.baselines(plan.startup_runs)
        extra = await footprint.startups(servers, workdir, plan.startup_runs - 1)
        await engine_pass(servers, workdir / "sqlite", plan, results, extra, spare=spare)
    if pg_url:
        say("the same sections on PostgreSQL (a fresh database)")
        url = await engines.fresh_database(pg_url)
        on_pg: dict[str, Any] = {}
        async with Servers(delivery_delay=plan.delivery_delay) as servers:
            await engine_pass(servers, workdir / "postgresql", plan, on_pg, None, url)
        results["postgresql"] = engines.summary(on_pg)
        results["engines"] = engines.ratios(engines.summary(results), results["postgresql"])
    results["seconds"] = time.monotonic() - started
    results["summary"] = headline(results)
    return results


async def engine_pass(
    servers: Servers,
    workdir: Path,
    plan: Plan,
    results: dict[str, Any],
    extra_startups: list[float] | None,
    database_url: str | None = None,
    spare: Spare | None = None,
) -> None:
    """The bot's sections, then the tracking sections; with `plan.overlap` side by side instead, the tracking
    sections (in this process, on their virtual clock) with a fake Telegram of their own, so neither section
    sees the other's messages in what it counts. They start once the bots are up: the start-ups are CPU-bound,
    while the bot's sections spend much of their time waiting (pauses and resumes, notices a second apart)."""
    if not plan.overlap:
        await bot_sections(servers, workdir, plan, results, extra_startups, database_url, spare)
        await tracking_sections(servers, workdir, plan, results, database_url)
        return
    up = asyncio.Event()

    async def tracking_when_up() -> None:
        await up.wait()
        await tracking_sections(side, workdir, plan, results, database_url)

    async with Servers(delivery_delay=plan.delivery_delay) as side, asyncio.TaskGroup() as group:
        group.create_task(bot_sections(servers, workdir, plan, results, extra_startups, database_url, spare, up))
        group.create_task(tracking_when_up())


async def bot_sections(
    servers: Servers,
    workdir: Path,
    plan: Plan,
    results: dict[str, Any],
    extra_startups: list[float] | None,
    database_url: str | None = None,
    spare: Spare | None = None,
    up: asyncio.Event | None = None,
) -> None:
    """`python -m bot` on one engine (SQLite, or PostgreSQL at `database_url`) against a bare aiogram echo bot:
    /help throughput, latency, mixed; sending at volume; one send to many. With `extra_startups` (the SQLite
    pass) also start-up, idle RSS and the memory section. `up` is set once both bots are up (idle RSS read)."""
    say("bare aiogram echo bot, then python -m bot: start-up, idle RSS")
    echo = echo_process(servers, workdir, help_answer())
    if spare is not None:  # the same bench.echo, forked warm
        echo = ForkedChild(spare, echo.args, echo.cwd, echo.log_path)
    engine = {"DATABASE_URL": database_url} if database_url else {}
    main = bot_process(servers, workdir, "main", **MAIN_SETTINGS, **engine)
    operators = [
        *BURST_USERS,
        LATENCY_USER,
        *(MIXED_BASE + i for i in range(plan.mixed_users)),
        *(SEND_BASE + i for i in range(plan.send_users)),
        *(MEMORY_BASE + i for i in range(50)),
    ]

    async def bring_up() -> float:
        await echo.start(servers.telegram)
        echo.pause()
        await seed_operators(Path(main.env["DATABASE_PATH"]), operators, database_url)
        return await main.start(servers.telegram)

    counter = updates.Counter()
    try:
        if plan.overlap and extra_startups is not None:
            # Two fresh interpreters importing aiogram at once: the ratio of their times still compares like with like.
            say("beside them, baselines: python -c pass, python -c 'import aiogram'")
            async with asyncio.TaskGroup() as group:
                baseline = group.create_task(footprint.baselines(plan.startup_runs))
                brought = group.create_task(bring_up())
            results["baseline"], first = baseline.result(), brought.result()
        else:
            first = await bring_up()
        await servers.telegram.wait_idle(quiet=0.5, timeout=30)
        await asyncio.sleep(plan.settle)
        if extra_startups is not None:
            startup_all = [first, *extra_startups]
            results["startup"] = {
                "runs_s": startup_all,
                "startup_s": statistics.median(startup_all),
                "over_import_aiogram_s": statistics.median(startup_all) - results["baseline"]["import_aiogram_s"],
            }
        results["memory"] = {"rss_idle_mb": main.rss_mb()}
        if up is not None:
            up.set()

        say(f"both bots, taking turns: {plan.rounds} x {plan.burst} /help; latency; mixed")
        try:
            results["bare"], results["ours"] = await updates.compare(
                servers,
                echo,
                main,
                n=plan.burst,
                rounds=plan.rounds,
                latency_cycles=plan.latency_cycles,
                mixed_users=plan.mixed_users,
                mixed_cycles=plan.mixed_cycles,
                counter=counter,
                warmup=plan.warmup,
                bare_latency_early=plan.overlap,
            )
        finally:
            await echo.stop()

        say(f"sending at volume: {plan.sends} sends, gateway latency {plan.send_latency * 1000:g} ms")
        before = counter.pushed
        results["sending"] = await sending.run(servers, plan.sends, plan.send_users, plan.send_latency)
        counter.pushed = before + 2 * results["sending"]["sends"]

        latency_ms = plan.batch_latency * 1000
        say(f"one send to {plan.batch_recipients} recipients, gateway latency {latency_ms:g} ms, SEND_CONCURRENCY 4")
        results["batch"] = await batch.run_send(servers, plan.batch_recipients, plan.batch_latency)
        counter.pushed = counter.pushed + 2

        if extra_startups is not None:
            say(f"memory: up to {plan.memory_updates} updates, {plan.memory_sms} tracked SMS, soak")
            results["memory"].update(
                await footprint.load(
                    servers, main, counter, plan.memory_updates, plan.memory_sms, plan.soak_updates, plan.settle / 2
                )
            )
            results["memory"]["updates_total"] = counter.pushed
    finally:
        stop_started = time.monotonic()
        code = await main.stop()
        results.setdefault("memory", {})["exit_code"] = code
        results["memory"]["stop_s"] = time.monotonic() - stop_started
        if code not in (0, None):  # None: it never started
            say(f"python -m bot exited with {code}; its log:\n{main.tail()}")


async def tracking_sections(
    servers: Servers, workdir: Path, plan: Plan, results: dict[str, Any], database_url: str | None = None
) -> None:
    say(f"tracking: {plan.tracking_sms} SMS over {plan.tracking_hours:g} simulated hour(s)")
    results["tracking"] = await tracking.run(servers, workdir, plan.tracking_sms, plan.tracking_hours, database_url)
    if database_url:
        return  # the batch tracking section measures the back-off, not the engine
    size = plan.batch_recipients
    say(f"tracking: {plan.batch_pending} sends to {size} recipients over {plan.tracking_hours:g} simulated hour(s)")
    results["batch_tracking"] = await batch.run_tracking(
        servers, workdir, plan.batch_pending, size, plan.tracking_hours
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: the whole run in under a minute")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: only checks that everything works (CI)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"where to write the results (default {RESULTS})")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (databases, bot logs)")
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=os.environ.get("BENCH_PG_URL"),
        help="a PostgreSQL server (postgresql://...; default $BENCH_PG_URL): the bot's sections run on it too, in a "
        "fresh database, and the table ends with PostgreSQL/SQLite ratios",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = SMOKE if args.smoke else QUICK if args.quick else FULL
    spare = Spare() if plan.warm_echo else None  # forked before anything else: no loop, thread or log handler
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="smska-bench-") as tmp:
        workdir = Path(tempfile.mkdtemp(prefix="smska-bench-")) if args.keep else Path(tmp)
        if args.keep:
            say(f"working directory kept: {workdir}")
        results = asyncio.run(run(plan, workdir, args.pg, spare))
    print(table(results))
    if "engines" in results:
        print(engines.table(results["engines"]))
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"results: {args.output}")
    print(json.dumps(results["summary"], sort_keys=True))
    return 0
