"""Small numeric helpers: percentiles, Telegram-limit checks over call times, RSS, machine facts."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from bot.devkit.telegram import Call


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def max_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The largest number of moments inside any half-open `window` (as FakeTelegram.max_rate counts)."""
    ordered = sorted(times)
    best = start = 0
    for index, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, index - start + 1)
    return best


def limit_violations(calls: Iterable[Call], *, overall: int = 30, per_chat: int = 1, window: float = 1.0) -> int:
    """How many calls broke a limit: the (overall+1)-th call inside any `window` in all, or the
    (per_chat+1)-th inside any `window` in one chat. A call breaking both counts once."""
    selected = sorted(calls, key=lambda c: c.time)
    bad: set[int] = set()
    start = 0
    for index, call in enumerate(selected):
        while call.time - selected[start].time >= window:
            start += 1
        if index - start + 1 > overall:
            bad.add(index)
    by_chat: dict[object, list[int]] = {}
    for index, call in enumerate(selected):
        by_chat.setdefault(call.params.get("chat_id"), []).append(index)
    for indexes in by_chat.values():
        first = 0
        for position, index in enumerate(indexes):
            while selected[index].time - selected[indexes[first]].time >= window:
                first += 1
            if position - first + 1 > per_chat:
                bad.add(index)
    return len(bad)


def rss_mb(pid: int) -> float:
    """VmRSS of a live process, in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def machine() -> dict[str, object]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
