"""End-to-end fixtures: the whole bot over loopback (fake Telegram + sandbox gateway + real SQLite)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported where used: xdist's controller loads this file too, and runs no test
    from bot.devkit.harness import Harness
    from tests.support import engines

# With pytest-xdist (`-n`) each test goes to whichever worker is free (tests/support/schedule.py), in
# this order: the slowest tests first (a file name, or a file and a test name, measured with `--durations`), so
# the long ones start at once instead of ending the run on one worker while the others idle. Files whose tests
# share a module- or session-wide fixture that is dear to build stay on one worker (TOGETHER).
SLOW_FIRST = (
    "test_bench_smoke.py",
    "test_replicas_failover_times.py",
    "test_crash_trials.py",
    "test_replicas_access.py",
    "test_alert_storm.py",
    "test_crash_batch.py",
    "test_replicas_outage.py",
    "test_replicas_failover_crash.py",
    "test_recovery_background.py",
    "test_chaos_model.py",
    "test_playground.py",
    "test_fault_matrix.py::test_production_timing",
    "test_alerts_in.py::test_an_alert_storm",
    "test_retention_sweep.py::test_the_sweep_prunes",
    "test_preview_final_word.py",
    "test_secrets_e2e.py",
    "test_replicas_",
    "test_deploy.py",  # its image is built in the background from collection on (tests/e2e/conftest.py)
    "test_crash_escalation.py",
    "test_fuzz_input.py",
    "test_escalation.py",
    "test_alert_take.py",
    "test_startup.py",
    "test_webhook.py",
    "test_postgres.py",
    "test_e2e_night_shift.py",
    "test_deploy_shutdown.py",
)
TOGETHER = ("test_deploy.py", "test_playground.py", "test_strangers.py", "test_i18n.py")

# httpcore tries `import sniffio` on every request. It is not installed (anyio no longer needs it), and under
# pytest a failed import walks the assertion-rewrite hook and sys.path each time (~22,000 times a run, seconds of
# CPU). Absent is what it is: recorded once, the import fails at once, as it does in production.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

ADMIN = 1001
OPERATOR = 2002
STRANGER = 3003


@pytest.fixture(scope="session")
def pg_server() -> Iterator[engines.PgServer]:
    from tests.support import engines

    server = engines.PgServer()  # started by the first test that needs it
    yield server
    server.stop()


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgresql": both for the files in tests/support/engines.py's BOTH_ENGINES, else TEST_ENGINE's."""
    from tests.support import engines

    return str(getattr(request, "param", engines.default_engine()))


@pytest.fixture(autouse=True)
def database_url(
    engine: str, pg_server: engines.PgServer, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str | None]:
    """None on SQLite; on PostgreSQL, a fresh database of this test's own, which every Harness of the test uses
    (HARNESS_DATABASE_URL). Either starts migrated, copied from the run's template (tests/support/db_templates.py):
    on SQLite a Harness or FastBot copies it into place of a new database file (HARNESS_SQLITE_TEMPLATE)."""
    from tests.support import db_templates, engines

    if engine == "sqlite":
        monkeypatch.delenv("HARNESS_DATABASE_URL", raising=False)
        template = db_templates.sqlite_template(db_templates.run_folder(tmp_path_factory))
        monkeypatch.setenv("HARNESS_SQLITE_TEMPLATE", str(template))
        yield None
        return
    monkeypatch.delenv("HARNESS_SQLITE_TEMPLATE", raising=False)
    for url in engines.fresh_database(pg_server, migrated=True):
        monkeypatch.setenv("HARNESS_DATABASE_URL", url)
        yield url


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from tests.support import engines

    engines.parametrize(metafunc)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.support import engines

    line = engines.missing_server_line()
    if line is not None:
        terminalreporter.write_line(line)


@pytest.fixture
async def rig(tmp_path: Path, database_url: str | None) -> AsyncIterator[Harness]:
    from bot.devkit.harness import Harness

    async with Harness(tmp_path, admin_ids=(ADMIN,), database_url=database_url) as harness:
        yield harness


def _rank(item: pytest.Item) -> int:
    name = item.path.name + "::" + item.name
    return next((i for i, prefix in enumerate(SLOW_FIRST) if name.startswith(prefix)), len(SLOW_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: within a rank, the collection's order is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: list[Any]) -> None:
    """The workers are forked from one warm process (tests/support/zygote.py) instead of each importing aiogram
    and the bot again; so are their fork servers (SMSKA_TEST_ZYGOTE in their environment)."""
    from tests.support import zygote

    zygote.serve_run(config, specs)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own; only when xdist is there
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from tests.support.schedule import EachTestSlowestFirst

    return EachTestSlowestFirst(config, log, TOGETHER)
