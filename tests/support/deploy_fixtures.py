"""Fixtures of the deploy tests (webhook, health, metrics, logs, shutdown): real parts over loopback.

A fake Telegram Bot API server (`bot.devkit.telegram`), the sandbox gateway, real SQLite, and the real
bot — in-process (`WebhookBot`, `PollingBot`) or as `python -m bot` in a subprocess (`BotProcess`). Nothing
waits with a fixed sleep: waits are on events, subprocess output lines, or a condition re-checked until a
deadline (`eventually`).

Import what you use: ``from tests.support.deploy_fixtures import gateway, telegram, ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from bot.app import App
from bot.config import Settings
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import BotMessage, FakeTelegram, FakeUser
from bot.runners import run_webhook, serve_polling
from tests.support.forkserver import ForkServer, fork_server

ROOT = Path(__file__).resolve().parent.parent.parent
# Test-only secrets, distinctive so that a leak into a log line or a chat is easy to find.
TOKEN = "424242:DEPLOY-token-Zq9tok"
API_KEY = "deploy-login"
PASSWORD = "Deploy-Pw-Zq9pass"
WEBHOOK_SECRET = "hook-Zq9-secret_value"
SECRETS = (TOKEN.split(":", 1)[1], PASSWORD, WEBHOOK_SECRET)
ADMIN = 1001
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 10.0, what: str = "") -> T:
    """Re-check an async condition until it gives a non-None value; fail after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = await probe()
                if result is not None:
                    return result
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what or probe}") from None


def sends(db_path: Path) -> list[dict[str, Any]]:
    """The send log as the operator's backup would show it (a plain sqlite3 read, outside the bot)."""
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sends ORDER BY id")]


async def preview(user: FakeUser, command: str) -> BotMessage:
    await user.send(command)
    return await user.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)


# ----------------------------------------------------------------------------------------- fixtures


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram(token=TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def gateway() -> AsyncIterator[SandboxGateway]:
    gw = SandboxGateway(
        api_key=API_KEY, api_password=PASSWORD, balance=Decimal("1000"), delivery_delay=0.3, senders=("OnCall",)
    )
    await gw.start(host="127.0.0.1", port=0)
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bot_env(tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, **overrides: str) -> dict[str, str]:
    """Settings as environment variables (names exactly as in the contract)."""
    values = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "SMSKA_URL": gateway.url,
        "SMSKA_API_KEY": API_KEY,
        "SMSKA_API_PASSWORD": PASSWORD,
        "SMSKA_SENDER_IDS": "OnCall",
        "SMSKA_TIMEOUT": "5",
        "DATABASE_PATH": str(tmp_path / "data" / "bot.sqlite3"),
        "ADMIN_IDS": str(ADMIN),
        "DEFAULT_LOCALE": "en",
        "DELIVERY_POLL_INITIAL": "0.2",
        "DELIVERY_POLL_MAX": "1",
        "DELIVERY_TRACK_HOURS": "1",
    }
    values.update(overrides)
    return values


def settings_from(env: dict[str, str]) -> Settings:
    return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})  # type: ignore[call-arg]


# ------------------------------------------------------------------------------------ in-process bots


class WebhookBot:
    """`run_webhook` in this process (no signal handlers); `.app`, `.base` (http://127.0.0.1:port)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = asyncio.Event()
        self.ready = asyncio.Event()
        self.app: App | None = None
        self.port = settings.webhook_port
        self.task: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listening(self, app: App, port: int) -> None:
        self.app, self.port = app, port

    async def __aenter__(self) -> WebhookBot:
        self.task = asyncio.create_task(
            run_webhook(
                self.settings, handle_signals=False, ready=self.ready, stop=self.stop, on_listening=self._listening
            )
        )
        waiter = asyncio.create_task(self.ready.wait())
        await asyncio.wait({self.task, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            waiter.cancel()
            self.task.result()  # start-up failed: show why
        assert self.ready.is_set(), "the webhook bot did not start within 15 s"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=40)


class PollingBot:
    """`build_app` + `serve_polling` in this process: polling with HEALTH_PORT when the settings set it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop = asyncio.Event()
        self.ready = asyncio.Event()
        self.app: App | None = None
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        from bot.app import build_app

        app = self.app = await build_app(self.settings)
        try:
            await serve_polling(app, handle_signals=False, ready=self.ready, stop=self.stop)
        finally:
            await app.close()

    async def __aenter__(self) -> PollingBot:
        self.task = asyncio.create_task(self._run())
        waiter = asyncio.create_task(self.ready.wait())
        await asyncio.wait({self.task, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            waiter.cancel()
            self.task.result()
        assert self.ready.is_set(), "the polling bot did not start within 15 s"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=40)


# -------------------------------------------------------------------------------------- subprocesses


def webhook_settings(tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway) -> Settings:
    """Settings of a webhook-mode bot on a free loopback port, with the shared secret."""
    port = free_port()
    return settings_from(
        bot_env(
            tmp_path,
            telegram,
            gateway,
            WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
            WEBHOOK_SECRET=WEBHOOK_SECRET,
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(port),
        )
    )


def clean_environ(env: dict[str, str]) -> dict[str, str]:
    """The parent's environment without any bot setting of its own, plus `env`; the checkout importable."""
    names = {name.upper() for name in Settings.model_fields}
    base = {k: v for k, v in os.environ.items() if k.upper() not in names and not k.startswith("PYTEST")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    base["PYTHONUNBUFFERED"] = "1"
    return {**base, **env}


class ForkedProcess:
    """A bot started by the fork server, with what the tests use of `asyncio.subprocess.Process`: its own pid,
    `stdout` (stdout and stderr, as they come), `send_signal`, `kill`, `wait`, `returncode`."""

    def __init__(self, server: ForkServer, pid: int, stdout: asyncio.StreamReader, fifo: Path, keep_open: int) -> None:
        self.server = server
        self.fifo = fifo
        self.pid = pid
        self.stdout = stdout
        self._keep_open = keep_open  # our own write end of the FIFO: no EOF before the process has ended
        self._ended = asyncio.create_task(self._end())

    async def _end(self) -> int:
        try:
            return await self.server.wait_exit(self.pid, timeout=None)
        finally:
            os.close(self._keep_open)
            self.fifo.unlink()
            self.fifo.parent.rmdir()

    @property
    def returncode(self) -> int | None:
        return self.server.exits.get(self.pid)

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        return await asyncio.shield(self._ended)


def exit_or_kill(server: ForkServer, pid: int, timeout: float) -> int:
    """The exit status of a forked bot; past `timeout`, it is killed (SIGKILL) and TimeoutError raised."""
    try:
        return server.wait_exit_now(pid, timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise


def run_forked(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m bot *args` run to its end, as `subprocess.run(..., capture_output=True, text=True)` gives it:
    a process of its own (its exit code, its stdout and stderr apart, exactly `env`), forked from the fork server
    instead of a fresh interpreter, where the imports are not what the test is about."""
    server = fork_server()
    with tempfile.TemporaryDirectory(prefix="bot-run-") as io:
        out, err = Path(io) / "stdout", Path(io) / "stderr"
        code = exit_or_kill(server, server.spawn_now(env, cwd, out, args, err=err), timeout)
        return subprocess.CompletedProcess(
            ["python", "-m", "bot", *args], code, out.read_text("utf-8", "replace"), err.read_text("utf-8", "replace")
        )


class BotProcess:
    """`python -m bot ...` as its own process, in an empty working directory; stderr kept line by line.

    Started by the fork server (`tests/support/forkserver.py`: a process of its own, without paying the
    imports again) unless `real` (or another interpreter) asks for a fresh `python -m bot`."""

    def __init__(
        self, args: list[str], env: dict[str, str], cwd: Path, python: str = sys.executable, real: bool = False
    ) -> None:
        self.args = args
        self.env = clean_environ(env)
        self.cwd = cwd
        self.python = python
        self.real = real or python != sys.executable
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | ForkedProcess | None = None
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> BotProcess:
        if self.real or self.env.get("PYTHONPATH") != clean_environ({})["PYTHONPATH"]:
            self.proc = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "bot",
                *self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        else:
            self.proc = await self._fork()
        self._reader = asyncio.create_task(self._read())
        return self

    async def _fork(self) -> ForkedProcess:
        server = await asyncio.to_thread(fork_server)
        fifo = Path(tempfile.mkdtemp(prefix="bot-out-")) / "out"
        os.mkfifo(fifo)
        read_end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        keep_open = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_end, "rb", 0))
        pid = await server.spawn(self.env, self.cwd, fifo, self.args)
        return ForkedProcess(server, pid, reader, fifo, keep_open)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            async with self._changed:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_line(self, pattern: str, timeout: float = 15.0) -> str:
        """The first output line matching the regex `pattern`; fails (showing the output) after `timeout`."""
        regex = re.compile(pattern)

        def found() -> str | None:
            return next((line for line in self.lines if regex.search(line)), None)

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: found() is not None or self._reader is None or self._reader.done())
        except TimeoutError:
            pass
        line = found()
        assert line is not None, f"no line matching {pattern!r} within {timeout}s; output:\n{self.output}"
        return line

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the bot did not exit within {timeout}s; output:\n{self.output}") from None
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
