"""The bench's rig: the fake Telegram server and the sandbox gateway in this process; the bot under test
(`python -m bot`, the production entry point) and the bare aiogram echo bot as subprocesses.

Running the bots in their own processes keeps their CPU apart from the servers' (which stay in this process
and record what arrives), so the throughput ratio compares the bots, not the rig, and RSS is the bot's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Protocol

from aiohttp import web

from bench.stats import rss_mb
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import Call, FakeTelegram
from bot.storage.db import Database

TOKEN = "987654:BENCH-token-Qx7secret"
API_KEY = "bench"
API_PASSWORD = "Bench-Pw-Qx7secret"
ADMIN = 1001
REPO = Path(__file__).resolve().parent.parent

#: Settings variables of the contract, removed from the child's environment before the bench sets its own.
_SETTING_NAMES = (
    "BOT_TOKEN", "TELEGRAM_API_URL", "SMSKA_URL", "SMSKA_API_KEY", "SMSKA_API_PASSWORD", "SMSKA_SENDER_IDS",
    "SMSKA_TIMEOUT", "DATABASE_PATH", "ADMIN_IDS", "DEFAULT_LOCALE", "DELIVERY_POLL_INITIAL", "DELIVERY_POLL_MAX",
    "DELIVERY_TRACK_HOURS", "LOW_BALANCE_THRESHOLD", "TIMEZONE", "LOG_LEVEL", "LOG_FORMAT", "HEALTH_PORT",
    "WEBHOOK_URL", "WEBHOOK_SECRET", "WEBHOOK_HOST", "WEBHOOK_PORT", "DATABASE_URL",
)  # fmt: skip


class TimedSandbox(SandboxGateway):
    """The sandbox gateway, recording how long it took over each request (its "own time"), so latencies
    can be reported without it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service: list[tuple[float, float]] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        try:
            return await super()._handle(request)
        finally:
            self.service.append((started, time.monotonic()))

    def time_within(self, start: float, end: float, since: int = 0) -> float:
        """Seconds of gateway service time inside [start, end] (overlaps merged, so parallel requests are
        not counted twice)."""
        spans = sorted((max(a, start), min(b, end)) for a, b in self.service[since:] if b > start and a < end)
        total = 0.0
        current_start = current_end = None
        for a, b in spans:
            if current_end is None or a > current_end:
                if current_end is not None and current_start is not None:
                    total += current_end - current_start
                current_start, current_end = a, b
            else:
                current_end = max(current_end, b)
        if current_end is not None and current_start is not None:
            total += current_end - current_start
        return total

    def queries_since(self, index: int) -> int:
        return sum(1 for r in self.requests[index:] if r.action == "query")


class Servers:
    """FakeTelegram + TimedSandbox on loopback, in this process."""

    def __init__(self, delivery_delay: float = 1.0) -> None:
        self.telegram = FakeTelegram(token=TOKEN, bot_username="smska_bench_bot")
        self.gateway = TimedSandbox(
            api_key=API_KEY,
            api_password=API_PASSWORD,
            balance=Decimal("100000000"),
            delivery_delay=delivery_delay,
            senders=("OnCall",),
        )

    async def __aenter__(self) -> Servers:
        await self.telegram.start()
        await self.gateway.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.gateway.stop()
        await self.telegram.stop()


async def wait_calls(
    server: FakeTelegram,
    start: int,
    predicate: Callable[[Call], bool],
    count: int = 1,
    timeout: float = 60.0,
) -> list[Call]:
    """Wait until `count` calls from index `start` on satisfy `predicate`; return them (in arrival order)."""
    found: list[Call] = []
    cursor = start

    def probe() -> list[Call] | None:
        nonlocal cursor
        calls = server.calls
        while cursor < len(calls):
            call = calls[cursor]
            cursor += 1
            if predicate(call):
                found.append(call)
        return found if len(found) >= count else None

    try:
        return await server._signal.wait_until(probe, timeout)
    except TimeoutError:
        raise TimeoutError(f"only {len(found)} of {count} expected Bot API calls arrived in {timeout:g}s") from None


async def seed_operators(db_path: Path, operators: Iterable[int], database_url: str | None = None) -> None:
    """Create the database (migrations) and allow these users, as an admin's /allow would."""
    db = await Database.connect(db_path, database_url)
    try:
        await db.people.sync_admins([ADMIN])
        for user_id in operators:
            await db.access.allow(user_id, by=ADMIN, name=f"Operator {user_id}")
    finally:
        await db.close()


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTING_NAMES}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")
    env.update(extra)
    return env


def bot_env(servers: Servers, db_path: Path, **settings: str) -> dict[str, str]:
    values = {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": servers.telegram.url,
        "SMSKA_URL": servers.gateway.url,
        "SMSKA_API_KEY": API_KEY,
        "SMSKA_API_PASSWORD": API_PASSWORD,
        "SMSKA_SENDER_IDS": "OnCall",
        "DATABASE_PATH": str(db_path),
        "ADMIN_IDS": str(ADMIN),
        "DEFAULT_LOCALE": "en",
    }
    values.update(settings)
    return child_env(values)


def die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the bench dies (Linux), so no bot is left behind if the bench is
    killed (a CI timeout) or crashes — not even one frozen with SIGSTOP, which a SIGTERM would not reach."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Process(Protocol):
    """What Child uses of asyncio.subprocess.Process (bench.spare.Forked has it too)."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    def send_signal(self, number: int) -> None: ...
    def kill(self) -> None: ...
    async def wait(self) -> int: ...


class Child:
    """A subprocess that polls the fake Telegram server: started, measured (RSS), stopped with SIGTERM."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.args = args
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.proc: Process | None = None
        self._log: IO[bytes] | None = None
        self.started_at = 0.0
        self.paused = False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, server: FakeTelegram, timeout: float = 60.0) -> float:
        """Start it; return the seconds from spawning to its first getUpdates arriving at the server."""
        mark = len(server.calls)
        self.started_at = time.monotonic()
        self.proc = await self._spawn()
        waiter = asyncio.create_task(wait_calls(server, mark, lambda c: c.method == "getUpdates", 1, timeout))
        died = asyncio.create_task(self.proc.wait())
        done, _ = await asyncio.wait({waiter, died}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await waiter
            raise RuntimeError(f"{' '.join(self.args)} exited with {self.proc.returncode}: {self.tail()}")
        died.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await died
        [first] = waiter.result()
        return first.time - self.started_at

    async def _spawn(self) -> Process:
        self._log = self.log_path.open("ab")
        return await asyncio.create_subprocess_exec(
            *self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

    def cpu_s(self) -> float:
        """CPU seconds the process used so far (user + system, all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def pause(self) -> None:
        """SIGSTOP: frozen mid-poll, so another bot can poll the same server (its long poll is then ended with
        409 Conflict, which this one reads when it goes on, and polls again after aiogram's ~1 s back-off)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait (SIGKILL after `timeout`); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.returncode is None and self.paused:  # it would poll once more: end it without that
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def bot_process(servers: Servers, workdir: Path, name: str, **settings: str) -> Child:
    """`python -m bot` (long polling, the production path) against the rig, in its own working directory."""
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    env = bot_env(servers, home / "bot.sqlite3", **settings)
    return Child([sys.executable, "-m", "bot"], env, home, workdir / f"{name}.log")


def echo_process(servers: Servers, workdir: Path, text: str) -> Child:
    """The bare aiogram echo bot (bench.echo) against the rig."""
    home = workdir / "echo"
    home.mkdir(parents=True, exist_ok=True)
    text_file = home / "answer.txt"
    text_file.write_text(text, encoding="utf-8")
    env = child_env({})
    args = [sys.executable, "-m", "bench.echo", servers.telegram.url, TOKEN, str(text_file)]
    return Child(args, env, home, workdir / "echo.log")


# --- users and flows -----------------------------------------------------------------------------------
#: Ranges of simulated users, one per purpose, so one section's cursors and notices never meet another's.
BURST_USERS = range(5000, 5020)
LATENCY_USER = 2001
MIXED_BASE = 2100
SEND_BASE = 3000
MEMORY_BASE = 4000
NEVER_FINAL = "79000000031"  # the sandbox keeps it 3|ACCEPTD: tracked, never a notice
DELIVERED = "79041764995"  # 3|ACCEPTD, then 4|DELIVRD after the sandbox's delivery_delay


def is_message_to(chat_id: int) -> Callable[[Call], bool]:
    return lambda c: c.method == "sendMessage" and c.params.get("chat_id") == chat_id


def is_sent_edit(call: Call) -> bool:
    """The preview edited to "✅ Sent to ..." after a Send press (an interactive answer)."""
    return call.method == "editMessageText" and "Sent to" in str(call.params.get("text", ""))


def is_notice(call: Call) -> bool:
    """A delivery notice the bot sends on its own: the edit of the "Sent to" message, and the reply."""
    text = str(call.params.get("text", ""))  # a notice ends in its id (the "Sent to" message in the balance)
    return call.method in ("sendMessage", "editMessageText") and "id <code>" in text and text.endswith("</code>")
