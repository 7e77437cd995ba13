"""End-to-end fixtures: the whole bot over loopback (fake Telegram + sandbox gateway + real SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devkit.harness import Harness

# The slowest files, slowest first. With pytest-xdist (`-n`, one file per worker: `--dist loadfile` in
# pyproject.toml) a worker takes the next file in this order when it is free, so the long ones start at once
# instead of ending the run on one worker while the others idle.
SLOW_FIRST = (
    "test_crash_trials.py",
    "test_deploy.py",
    "test_crash_batch.py",
    "test_fuzz_input.py",
    "test_chaos_model.py",
    "test_playground.py",
    "test_bench_smoke.py",
    "test_startup.py",
    "test_fault_matrix.py",
    "test_alerts_in.py",
    "test_webhook.py",
    "test_e2e_night_shift.py",
    "test_storage.py",
    "test_deploy_shutdown.py",
    "test_send_rules.py",
    "test_gateway_client.py",
    "test_secrets_e2e.py",
)

ADMIN = 1001
OPERATOR = 2002
STRANGER = 3003


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Harness]:
    async with Harness(tmp_path, admin_ids=(ADMIN,)) as harness:
        yield harness


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: within a file, order is kept
