"""Section 4 — memory and start-up of `python -m bot` (a subprocess polling the fake server).

Start-up: from spawning the process to its first getUpdates arriving at the fake server (it has opened the
database, synced admins, set the command menus and deleted any webhook by then), against the time of
`python -c "import aiogram"` (spawn to exit) and of `python -c pass`, measured in the same run; medians.

Memory: VmRSS from /proc/<pid>/status — idle after start-up, after `memory_updates` updates in all (the
other sections' included), after `memory_sms` more SMS are sent and each was queried at least twice, and
after a further `soak_updates` /help: the last minus the previous is the growth ("flat" when about 0).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.rig import BURST_USERS, MEMORY_BASE, NEVER_FINAL, Child, Servers, bot_process, child_env, is_sent_edit
from bench.sending import prepare_previews, press_all
from bench.updates import Counter, burst

# Printed, then os._exit: the baseline is the start (spawn to "imported"), not the interpreter's teardown of
# aiogram's models, which takes a good part of a second and which a running bot never pays before polling.
_RSS_SNIPPET = (
    "import os, re; print(int(re.search(r'VmRSS:\\s+(\\d+)', open('/proc/self/status').read()).group(1)), "
    "flush=True); os._exit(0)"
)


async def _timed(args: list[str]) -> tuple[float, str]:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *args, env=child_env({}), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed: {out.decode(errors='replace')[-500:]}")
    return elapsed, out.decode(errors="replace")


async def baselines(runs: int) -> dict[str, Any]:
    bare: list[float] = []
    aiogram: list[float] = []
    rss = 0.0
    for _ in range(runs):
        bare.append((await _timed([sys.executable, "-c", "import os; os._exit(0)"]))[0])
        elapsed, out = await _timed([sys.executable, "-c", "import aiogram; " + _RSS_SNIPPET])
        aiogram.append(elapsed)
        match = re.search(r"(\d+)\s*$", out)
        rss = int(match.group(1)) / 1024.0 if match else 0.0
    return {
        "python_s": statistics.median(bare),
        "import_aiogram_s": statistics.median(aiogram),
        "import_aiogram_rss_mb": rss,
    }


async def startups(servers: Servers, workdir: Path, runs: int) -> list[float]:
    """Extra start-ups of a fresh bot (new database each), stopped right after its first getUpdates."""
    times: list[float] = []
    for k in range(runs):
        child = bot_process(servers, workdir, f"startup-{k}")
        try:
            times.append(await child.start(servers.telegram))
        finally:
            await child.stop()
    return times


async def load(
    servers: Servers,
    bot: Child,
    counter: Counter,
    memory_updates: int,
    memory_sms: int,
    soak_updates: int,
    settle: float = 0.5,
) -> dict[str, Any]:
    telegram, gateway = servers.telegram, servers.gateway
    users = [telegram.user(uid, f"B{uid}", language_code="en") for uid in BURST_USERS]
    before = counter.pushed
    remaining = memory_updates - counter.pushed
    while remaining > 0:
        n = min(1000, remaining)
        await burst(servers, users, n, counter)
        remaining -= n
    await telegram.wait_idle(quiet=0.3, timeout=60)
    rss_updates = bot.rss_mb()
    updates_pushed = counter.pushed

    # Tracking: memory_sms more SMS that stay 3|ACCEPTD, each queried at least twice.
    senders = [telegram.user(MEMORY_BASE + i, f"Mem{i}", language_code="en") for i in range(50)]
    per_user = max(1, memory_sms // len(senders))
    chosen = senders[: max(1, min(len(senders), memory_sms))]
    previews = await prepare_previews(chosen, per_user, NEVER_FINAL, "Memory")
    counter.pushed += len(previews)
    mark_queries = len(gateway.requests)
    await press_all(servers, chosen, previews)
    counter.pushed += len(previews)
    deadline = time.monotonic() + 60 + len(previews) / 10
    # A coarse poll: the sandbox's own wait_requests rescans every request on each one, too slow at this volume.
    while gateway.queries_since(mark_queries) < 2 * len(previews) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    queried = gateway.queries_since(mark_queries)
    rss_tracking = bot.rss_mb()

    # Soak: more of the same; RSS should stay where it was.
    mark = len(telegram.calls)
    remaining = soak_updates
    while remaining > 0:
        n = min(1000, remaining)
        await burst(servers, users, n, counter)
        remaining -= n
    await telegram.wait_idle(quiet=0.3, timeout=60)
    await asyncio.sleep(settle)
    rss_final = bot.rss_mb()
    after = max(rss_updates, rss_tracking)
    return {
        "updates_before_rss_after": updates_pushed,
        "loaded_here": updates_pushed - before,
        "rss_after_updates_mb": rss_updates,
        "tracking_sms": len(previews),
        "tracking_queries": queried,
        "rss_after_tracking_mb": rss_tracking,
        "soak_updates": soak_updates,
        "rss_after_soak_mb": rss_final,
        "rss_after_mb": after,
        "rss_growth_mb": rss_final - after,
        "sent_edits": sum(1 for c in telegram.calls[mark:] if is_sent_edit(c)),
    }
