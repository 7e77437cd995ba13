"""`python -m bench --quick --smoke` works: it runs every section and ends with one JSON line of sane values.

Timings are not judged here (CI machines are noisy); what must hold whatever the machine is: every key is
there, Telegram's limits were kept, tracking queried no more than the back-off allows, and the numbers are
physically possible.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "throughput_ratio",
    "p99_ms",
    "send_ideal_ratio",
    "queries_per_sms_interval",
    "rss_idle_mb",
    "rss_after_mb",
    "startup_s",
    "telegram_limit_violations",
}


@pytest.mark.timeout(90)
def test_bench_smoke_ends_with_sane_json(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--smoke", "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    summary = json.loads(last)
    assert set(summary) >= KEYS
    assert summary["telegram_limit_violations"] == 0
    assert 0 < summary["queries_per_sms_interval"] <= 1
    assert summary["throughput_ratio"] > 0
    assert 0 < summary["p99_ms"] < 10_000
    assert summary["send_ideal_ratio"] >= 1  # nothing beats the gateway's own latency
    assert 0 < summary["rss_idle_mb"] <= summary["rss_after_mb"] < 4096
    assert 0 < summary["startup_s"] < 60
    assert json.loads(output.read_text())["summary"] == summary
