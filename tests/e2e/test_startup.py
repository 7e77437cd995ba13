"""Start-up as a container lives it: Telegram away at 3 a.m., signals from the first instant, one clear line.

`python -m bot` runs as its own process (`BotProcess`) against the fake Bot API server and the sandbox
gateway over loopback. Nothing sleeps to synchronise: waits are on output lines, HTTP answers and bot events.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import (
    ADMIN,
    ROOT,
    TOKEN,
    BotProcess,
    PollingBot,
    WebhookBot,
    bot_env,
    clean_environ,
    eventually,
    free_port,
    gateway,
    http,
    settings_from,
    telegram,
    webhook_settings,
)

__all__ = ["gateway", "http", "telegram"]  # fixtures

RETRY_LINE = r"Telegram did not answer (\w+) .*trying again in"


async def status_of(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]] | None:
    try:
        async with http.get(url) as response:
            return response.status, await response.json()
    except aiohttp.ClientError:
        return None


async def test_telegram_down_at_start_then_up_the_bot_serves_without_a_restart(
    tmp_path: Path, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    telegram_port, health = free_port(), free_port()
    telegram = FakeTelegram(token=TOKEN)
    down = SimpleNamespace(url=f"http://127.0.0.1:{telegram_port}")  # nothing listens there yet
    env = bot_env(tmp_path, down, gateway, HEALTH_PORT=str(health))  # type: ignore[arg-type]
    bot = await BotProcess([], env, tmp_path).start()
    try:
        line = await bot.wait_line(RETRY_LINE, timeout=20)
        assert "getMe" in line and "Traceback" not in bot.output
        await bot.wait_line(RETRY_LINE + r" [2-9]", timeout=20)  # tried again, with a longer wait: back-off
        assert bot.proc is not None and bot.proc.returncode is None  # still alive: no restart loop
        alive = await eventually(lambda: status_of(http, f"http://127.0.0.1:{health}/healthz"), what="healthz")
        assert alive[0] == 200
        ready = await status_of(http, f"http://127.0.0.1:{health}/readyz")
        assert ready is not None and ready[0] == 503 and ready[1]["status"] == "starting"

        await telegram.start(port=telegram_port)  # Telegram is back
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        await admin.send("/start")
        answer = await admin.wait_for(lambda m: "/send" in m.plain, timeout=40)
        assert answer.chat_id == ADMIN
        ready = await eventually(
            lambda: _ready(http, f"http://127.0.0.1:{health}/readyz"), timeout=10, what="readyz 200"
        )
        assert ready["status"] == "ready"
        bot.signal(signal.SIGTERM)
        assert await bot.wait(30) == 0
    finally:
        await bot.kill()
        await telegram.stop()
    assert "Traceback" not in bot.output
    assert len([line for line in bot.lines if "did not answer" in line]) >= 2


async def _ready(http: aiohttp.ClientSession, url: str) -> dict[str, object] | None:
    got = await status_of(http, url)
    return got[1] if got is not None and got[0] == 200 else None


@pytest.mark.parametrize(
    ("method", "code"),
    [("getMe", 502), ("getMe", 429), ("deleteWebhook", 500), ("setMyCommands", 503), ("getMe", 0)],
    ids=["getMe-502", "getMe-429", "deleteWebhook-500", "setMyCommands-503", "getMe-dropped"],
)
async def test_a_failing_start_up_call_is_retried_and_the_bot_then_serves(
    tmp_path: Path,
    telegram: FakeTelegram,
    gateway: SandboxGateway,
    caplog: pytest.LogCaptureFixture,
    method: str,
    code: int,
) -> None:
    # 429: the session's own waits (3, retry_after 1 s) run out first; then start-up's back-off takes over.
    times = 5 if code == 429 else 2
    if code == 0:
        telegram.fail_next(method, drop=True, times=times)
    else:
        telegram.fail_next(method, error_code=code, times=times)
    caplog.set_level("WARNING", logger="bot.runners")
    async with PollingBot(settings_from(bot_env(tmp_path, telegram, gateway))):
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        await admin.send("/help")
        await admin.wait_for(lambda m: "/send" in m.plain, timeout=15)
    retries = [r.getMessage() for r in caplog.records if "did not answer" in r.getMessage()]
    assert retries and all(method in line for line in retries), retries
    assert len(telegram.calls_to(method)) > times  # the call that finally worked came after the failures


async def test_webhook_mode_retries_set_webhook_and_answers_503_until_started(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    telegram.fail_next("setWebhook", error_code=502, times=2)
    async with WebhookBot(webhook_settings(tmp_path, telegram, gateway)) as bot:
        assert len(telegram.calls_to("setWebhook")) == 3
        async with http.get(f"{bot.base}/readyz") as response:
            assert response.status in (200, 503) and (await response.json())["status"] != "starting"


async def test_a_token_telegram_refuses_stops_with_one_line_and_exit_2(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    telegram.fail_next("getMe", error_code=401, description="Unauthorized", times=100)
    bot = await BotProcess([], bot_env(tmp_path, telegram, gateway), tmp_path).start()
    try:
        assert await bot.wait(30) == 2
    finally:
        await bot.kill()
    assert bot.lines[-1] == "error: BOT_TOKEN is refused by Telegram (401 Unauthorized): check the token"
    assert "Traceback" not in bot.output


async def test_a_dns_failure_is_retried_and_sigterm_still_exits_at_once(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    env = bot_env(tmp_path, telegram, gateway, TELEGRAM_API_URL="http://telegram.invalid")
    bot = await BotProcess([], env, tmp_path).start()
    try:
        await bot.wait_line(RETRY_LINE, timeout=30)
        began = time.monotonic()
        bot.signal(signal.SIGTERM)
        assert await bot.wait(10) == 0
        assert time.monotonic() - began < 5
    finally:
        await bot.kill()
    assert "Traceback" not in bot.output


@pytest.mark.parametrize("after", [0.1, 0.5, 1.0])
async def test_sigterm_at_any_moment_of_start_up_exits_promptly_and_cleanly(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, after: float
) -> None:
    # A real interpreter: the moments under test include its imports (a forked bot has done them already).
    bot = await BotProcess([], bot_env(tmp_path, telegram, gateway), tmp_path, real=True).start()
    try:
        await asyncio.sleep(after)  # the moment under test (not a synchronisation)
        began = time.monotonic()
        bot.signal(signal.SIGTERM)
        code = await bot.wait(10)
        took = time.monotonic() - began
    finally:
        await bot.kill()
    # Python itself needs ~50 ms (more on a loaded machine) before the bot's first line runs: a signal in that
    # window takes its default action, which is just as clean (nothing is open yet). From then on: exit 0.
    assert code == 0 or (after < 0.3 and code == -signal.SIGTERM), bot.output
    assert took < 5, f"{took:.1f}s"
    assert "Traceback" not in bot.output and "Error" not in bot.output, bot.output
    db = Path(bot_env(tmp_path, telegram, gateway)["DATABASE_PATH"])
    if db.exists():  # noqa: ASYNC240 — the bot has exited: nothing else touches it
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_health_probe_imports_only_the_standard_library() -> None:
    code = "import sys, bot.web.probe; print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiogram', 'aiohttp', 'pydantic', 'httpx')))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr


async def test_the_probe_answers_for_a_running_bot_and_fails_without_one(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    health = free_port()
    env = clean_environ({"HEALTH_PORT": str(health), "WEBHOOK_PORT": str(free_port())})

    def run_probe() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.web.probe"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
        )

    down = await asyncio.to_thread(run_probe)
    assert down.returncode == 1 and "no health endpoint answers" in down.stderr
    async with PollingBot(settings_from(bot_env(tmp_path, telegram, gateway, HEALTH_PORT=str(health)))):
        up = await asyncio.to_thread(run_probe)
    assert up.returncode == 0, up.stderr


@pytest.mark.parametrize(
    "case",
    ["folder is a file", "file is a folder", "bad setting"],  # a newer schema: tests/e2e/test_storage.py
)
async def test_a_clear_start_up_error_is_the_whole_output(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, case: str
) -> None:
    env = bot_env(tmp_path, telegram, gateway)
    if case == "folder is a file":
        (tmp_path / "taken").write_text("")
        env["DATABASE_PATH"] = str(tmp_path / "taken" / "bot.sqlite3")
        expected = f"error: cannot create the database folder {tmp_path / 'taken'}: a file has that name"
    elif case == "file is a folder":
        (tmp_path / "db-dir").mkdir()
        env["DATABASE_PATH"] = str(tmp_path / "db-dir")
        expected = f"error: cannot open the database file {tmp_path / 'db-dir'}: unable to open database file"
    else:
        env["ADMIN_IDS"] = "not-a-number"
        expected = "ADMIN_IDS"
    bot = await BotProcess([], env, tmp_path).start()
    try:
        assert await bot.wait(30) == 2
    finally:
        await bot.kill()
    assert len(bot.lines) == 1, bot.output
    assert bot.lines[0].startswith("error: ") and expected in bot.lines[0], bot.output
