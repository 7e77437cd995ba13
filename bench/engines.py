"""The same sections on both engines (issue 26 step 8): a fresh PostgreSQL database for the run, the figures
that depend on the engine, and their PostgreSQL/SQLite ratios."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

#: (key, what it is, higher is better)
FIGURES = (
    ("throughput_ratio", "/help throughput, ours/bare aiogram", True),
    ("paired_ratio", "/help ours/bare, median of the round pairs", True),
    ("cpu_ratio", "/help CPU per update, bare/ours", True),
    ("help_cpu_ms", "/help CPU per update, ours (ms)", False),
    ("help_per_s", "/help throughput, ours (updates/s)", True),
    ("bare_help_per_s", "/help throughput, bare aiogram (updates/s)", True),
    ("help_p99_ms", "/help p99 latency, ms (own)", False),
    ("send_p99_ms", "Send press p99 latency, ms (excl. gateway)", False),
    ("send_ideal_ratio", "sends at volume, wall/ideal", False),
    ("batch_ideal_ratio", "one send to many, wall/ideal", False),
    ("tracking_queries_per_sms", "tracking: gateway queries per SMS", False),
    ("tracking_cpu_ms_per_query", "tracking: CPU ms per query", False),
)


async def fresh_database(url: str) -> str:
    """CREATE DATABASE smska_bench_<random> on the server of `url`; its URL."""
    name = f"smska_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def summary(r: dict[str, Any]) -> dict[str, float]:
    """The figures of one engine's pass."""
    ours = r["ours"]
    return {
        "throughput_ratio": ours["help_updates_per_s"] / r["bare"]["help_updates_per_s"],
        "paired_ratio": ours["paired_ratio"],
        "cpu_ratio": r["bare"]["help_cpu_ms"] / ours["help_cpu_ms"] if ours["help_cpu_ms"] else 0.0,
        "help_cpu_ms": ours["help_cpu_ms"],
        "help_per_s": ours["help_updates_per_s"],
        "bare_help_per_s": r["bare"]["help_updates_per_s"],
        "help_p99_ms": ours["latency"]["help"]["p99_own_ms"],
        "send_p99_ms": ours["latency"]["confirm"]["p99_own_ms"],
        "send_ideal_ratio": r["sending"]["send_ideal_ratio"],
        "batch_ideal_ratio": r["batch"]["batch_ideal_ratio"],
        "tracking_queries_per_sms": r["tracking"]["queries_per_sms"],
        "tracking_cpu_ms_per_query": r["tracking"]["cpu_ms_per_query"],
    }


def ratios(sqlite: dict[str, float], postgresql: dict[str, float]) -> dict[str, dict[str, float]]:
    return {
        key: {"sqlite": sqlite[key], "postgresql": postgresql[key], "ratio": postgresql[key] / sqlite[key]}
        for key, _, _ in FIGURES
        if sqlite.get(key)
    }


def table(rows: dict[str, dict[str, float]]) -> str:
    lines = [f"{'engines (same run)':44} {'SQLite':>9} {'PostgreSQL':>11} {'PG/SQLite':>10}"]
    for key, label, _ in FIGURES:
        if key in rows:
            row = rows[key]
            lines.append(f"{label:44} {row['sqlite']:9.2f} {row['postgresql']:11.2f} {row['ratio']:10.2f}")
    return "\n".join(lines)
