"""End-to-end fixtures: the whole bot over loopback (fake Telegram + sandbox gateway + real SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.devkit.harness import Harness
from tests.support import engines

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


@pytest.fixture(scope="session")
def pg_server() -> Iterator[engines.PgServer]:
    server = engines.PgServer()  # started by the first test that needs it
    yield server
    server.stop()


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgresql": both for the files in tests/support/engines.py's BOTH_ENGINES, else TEST_ENGINE's."""
    return str(getattr(request, "param", engines.default_engine()))


@pytest.fixture(autouse=True)
def database_url(engine: str, pg_server: engines.PgServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """None on SQLite; on PostgreSQL, a fresh empty database of this test's own, which every Harness of the test
    uses (HARNESS_DATABASE_URL)."""
    if engine == "sqlite":
        monkeypatch.delenv("HARNESS_DATABASE_URL", raising=False)
        yield None
        return
    for url in engines.fresh_database(pg_server):
        monkeypatch.setenv("HARNESS_DATABASE_URL", url)
        yield url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    engines.parametrize(metafunc)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = engines.missing_server_line()
    if line is not None:
        terminalreporter.write_line(line)


@pytest.fixture
async def rig(tmp_path: Path, database_url: str | None) -> AsyncIterator[Harness]:
    async with Harness(tmp_path, admin_ids=(ADMIN,), database_url=database_url) as harness:
        yield harness


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: within a file, order is kept
