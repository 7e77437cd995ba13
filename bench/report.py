"""The summary (the last line's JSON object) and the table printed on stdout."""

from __future__ import annotations

from typing import Any

KEYS = (
    "throughput_ratio",
    "p99_ms",
    "send_ideal_ratio",
    "queries_per_sms_interval",
    "rss_idle_mb",
    "rss_after_mb",
    "startup_s",
    "rss_idle_ratio",
    "startup_ratio",
    "telegram_limit_violations",
    "batch_ideal_ratio",
    "batch_edits_max_per_s",
    "batch_queries_per_sms_interval",
)


def headline(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "throughput_ratio": round(r["ours"]["help_updates_per_s"] / r["bare"]["help_updates_per_s"], 3),
        "p99_ms": round(r["ours"]["p99_own_ms"], 2),
        "send_ideal_ratio": round(r["sending"]["send_ideal_ratio"], 2),
        "queries_per_sms_interval": round(r["tracking"]["queries_per_sms_interval"], 3),
        "rss_idle_mb": round(r["memory"]["rss_idle_mb"], 1),
        "rss_after_mb": round(r["memory"]["rss_after_mb"], 1),
        "startup_s": round(r["startup"]["startup_s"], 3),
        # Judged against `import aiogram` measured in the same run (its schemas are most of both).
        "rss_idle_ratio": round(r["memory"]["rss_idle_mb"] / r["baseline"]["import_aiogram_rss_mb"], 3),
        "startup_ratio": round(r["startup"]["startup_s"] / r["baseline"]["import_aiogram_s"], 3),
        "telegram_limit_violations": r["sending"]["notice_violations"]
        + r["tracking"]["notice_violations"]
        + r["batch"]["limit_violations"],
        "batch_ideal_ratio": round(r["batch"]["batch_ideal_ratio"], 3),
        "batch_edits_max_per_s": r["batch"]["edits_max_per_s"],
        "batch_queries_per_sms_interval": round(r["batch_tracking"]["queries_per_sms_interval"], 3),
    }


#: The bot's own share on top of `import aiogram` (same run, same machine): at most a quarter more.
OVER_IMPORT = 1.25


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("ok" if ok else "MISSED")


def batch_rows(a: dict[str, Any], t: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Section 5: one send to several recipients."""
    return [
        (
            f"5. 1 send to {a['recipients']} @ {a['gateway_latency_s'] * 1000:g} ms, {a['concurrency']} at a time (s)",
            f"{a['wall_s']:.2f}",
            f"{a['ideal_s']:.2f} ideal; {a['bare_s']:.2f} bare client",
            "",
            "",
        ),
        (
            "   wall / ideal; wall / bare",
            f"{a['batch_ideal_ratio']:.2f}; {a['ratio_to_bare']:.2f}",
            f"at most {a['gateway_max_parallel']} at the gateway at once",
            "<= 1.30",
            _verdict(a["batch_ideal_ratio"] <= 1.3),
        ),
        (
            "   progress edits: count; max/s; min gap (s)",
            f"{a['edits']}; {a['edits_max_per_s']}; {a['edits_min_gap_s'] or 0:.2f}",
            f"summary {a['summary_after_s']:.1f} s, ring {a['ring_after_s']:.1f} s after the press",
            "<= 1/s",
            _verdict(a["edits_max_per_s"] <= 1),
        ),
        (
            "   own messages in the chat: limit violations",
            f"{a['limit_violations']}",
            f"{a['own_messages']} messages and edits",
            "0",
            _verdict(a["limit_violations"] == 0),
        ),
        (
            f"   {t['batches']} x {t['size']} SMS pending, 1 h: queries",
            f"{t['queries']}",
            f"{t['minimum_queries']} minimum",
            "",
            "",
        ),
        (
            "   queries per SMS per interval",
            f"{t['queries_per_sms_interval']:.3f}",
            "",
            "<= 1",
            _verdict(t["queries_per_sms_interval"] <= 1.0),
        ),
    ]


def table(r: dict[str, Any]) -> str:
    m, b, o, s, t, mem, st = (
        r["machine"],
        r["bare"],
        r["ours"],
        r["sending"],
        r["tracking"],
        r["memory"],
        r["startup"],
    )
    base = r["baseline"]
    summary = r["summary"]
    rows: list[tuple[str, str, str, str, str]] = [
        (
            "1. /help throughput (updates/s)",
            f"{o['help_updates_per_s']:.0f}",
            f"{b['help_updates_per_s']:.0f} bare",
            "",
            "",
        ),
        (
            "   ratio ours/bare",
            f"{summary['throughput_ratio']:.2f}",
            "",
            ">= 0.80",
            _verdict(summary["throughput_ratio"] >= 0.8),
        ),
        ("   ratio, median of the round pairs", f"{o['paired_ratio']:.2f}", "", "", ""),
        ("   CPU per update (ms)", f"{o['help_cpu_ms']:.2f}", f"{b['help_cpu_ms']:.2f} bare", "", ""),
    ]
    for op, lat in o["latency"].items():
        rows.append(
            (
                f"   {op}: p50 / p99 ms (excl. gateway)",
                f"{lat['p50_own_ms']:.1f} / {lat['p99_own_ms']:.1f}",
                f"{b['help_p50_ms']:.1f} / {b['help_p99_ms']:.1f} bare" if op == "help" else "",
                "",
                "",
            )
        )
    rows += [
        (
            "   p99 all steps, excl. gateway (ms)",
            f"{summary['p99_ms']:.1f}",
            "",
            "<= 20",
            _verdict(summary["p99_ms"] <= 20),
        ),
        (
            f"   mixed, {o['mixed']['users']} users (updates/s; p50/p99 ms)",
            f"{o['mixed']['updates_per_s']:.0f}; {o['mixed']['p50_ms']:.0f}/{o['mixed']['p99_ms']:.0f}",
            "",
            "",
            "",
        ),
        (
            f"2. {s['sends']} sends @ {s['gateway_latency_s'] * 1000:g} ms: wall (s)",
            f"{s['wall_s']:.2f}",
            f"{s['ideal_s']:.2f} ideal (concurrency {s['concurrency']})",
            "",
            "",
        ),
        ("   wall / ideal", f"{s['send_ideal_ratio']:.2f}", "", "", ""),
        (
            "   press -> gateway; gateway -> edit (p50 ms)",
            f"{s['to_gateway_p50_ms']:.0f}; {s['after_gateway_p50_ms']:.0f}",
            f"at most {s['gateway_max_parallel']} at the gateway at once",
            "",
            "",
        ),
        (
            "   notices: max/s overall; per chat",
            f"{s['notices_max_per_s']}; {s['notices_max_per_chat_s']}",
            "",
            "<= 30; <= 1",
            _verdict(s["notice_violations"] == 0),
        ),
        (
            "   interactive answers: max/s; per chat",
            f"{s['interactive_max_per_s']}; {s['interactive_max_per_chat_s']}",
            "",
            "(replies)",
            "",
        ),
        (
            f"3. {t['sms']} SMS, {t['simulated_hours']:g} h: gateway queries",
            f"{t['queries']}",
            f"{t['minimum_queries']} minimum",
            "",
            "",
        ),
        (
            "   queries per SMS per interval",
            f"{t['queries_per_sms_interval']:.3f}",
            "",
            "<= 1",
            _verdict(t["queries_per_sms_interval"] <= 1.0),
        ),
        ("   CPU s (ms per query)", f"{t['cpu_s']:.2f} ({t['cpu_ms_per_query']:.2f})", "", "", ""),
        (
            "4. RSS idle (MB)",
            f"{mem['rss_idle_mb']:.1f}",
            f"{base['import_aiogram_rss_mb']:.1f} import aiogram (+{mem['rss_idle_mb'] - base['import_aiogram_rss_mb']:.1f})",
            "",
            "",
        ),
        (
            "   ratio idle / import aiogram",
            f"{summary['rss_idle_ratio']:.2f}",
            "",
            f"<= {OVER_IMPORT:.2f}",
            _verdict(summary["rss_idle_ratio"] <= OVER_IMPORT),
        ),
        (
            f"   RSS after {mem.get('updates_before_rss_after', 0)} updates / {mem.get('tracking_sms', 0)} SMS",
            f"{mem.get('rss_after_updates_mb', 0):.1f} / {mem.get('rss_after_tracking_mb', 0):.1f}",
            "",
            "",
            "",
        ),
        (
            f"   RSS growth over {mem.get('soak_updates', 0)} more updates",
            f"{mem.get('rss_growth_mb', 0):+.1f}",
            "",
            "flat",
            _verdict(mem.get("rss_growth_mb", 0) <= 2.0),
        ),
        (
            "   start-up to first getUpdates (s)",
            f"{st['startup_s']:.2f}",
            f"{base['import_aiogram_s']:.2f} import aiogram ({st['startup_s'] - base['import_aiogram_s']:+.2f}), "
            f"{base['python_s']:.2f} python",
            "",
            "",
        ),
        (
            "   ratio start-up / import aiogram",
            f"{summary['startup_ratio']:.2f}",
            "",
            f"<= {OVER_IMPORT:.2f}",
            _verdict(summary["startup_ratio"] <= OVER_IMPORT),
        ),
        *batch_rows(r["batch"], r["batch_tracking"]),
        (
            "Telegram limit violations (notices)",
            f"{summary['telegram_limit_violations']}",
            "",
            "0",
            _verdict(summary["telegram_limit_violations"] == 0),
        ),
    ]
    headers = ("metric", "bot", "baseline", "target", "")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = [
        f"smska bot benchmarks ({r['plan']}) — {m['nproc']} x {m['cpu']}, Python {m['python']}, {r['seconds']:.0f} s",
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)
