"""Several `python -m bot` replicas on one fresh PostgreSQL database, against one fake Telegram server and one
sandbox gateway (issue 27): start, kill (SIGKILL), stop (SIGTERM), and ask each its role (`/readyz`).

Each replica is a process of its own (`BotProcess`, deploy_fixtures.py), with its own HEALTH_PORT; waits are on
conditions re-checked until a deadline, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support import engines, pgserver
from tests.support.deploy_fixtures import BotProcess, bot_env, free_port

FAILOVER = 3.0  # FAILOVER_SECONDS in these tests


class Replica:
    def __init__(self, name: str, process: BotProcess, port: int) -> None:
        self.name = name
        self.process = process
        self.port = port
        self.alive = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        return f"<replica {self.name}>"


class Replicas:
    def __init__(
        self,
        tmp_path: Path,
        telegram: FakeTelegram,
        gateway: SandboxGateway,
        database_url: str,
        failover: float = FAILOVER,
        webhook: bool = False,
        **env: str,
    ) -> None:
        self.tmp_path = tmp_path
        self.telegram = telegram
        self.gateway = gateway
        self.database_url = database_url
        self.failover = failover
        self.env = env
        self.webhook = webhook  # each replica serves the webhook on its port (the last one started gets Telegram's)
        self.replicas: list[Replica] = []
        self.http: aiohttp.ClientSession | None = None
        self._count = 0

    async def start(self, n: int = 1) -> list[Replica]:
        """`n` more replicas, each once its health port answers."""
        started = [await self._start_one() for _ in range(n)]
        await asyncio.gather(*(self.eventually_role(r) for r in started))
        return started

    async def _start_one(self) -> Replica:
        self._count += 1
        name = f"r{self._count}"
        port = free_port()
        cwd = self.tmp_path / name
        cwd.mkdir()
        where = (
            {"WEBHOOK_URL": f"http://127.0.0.1:{port}/tg/hook", "WEBHOOK_PORT": str(port), "WEBHOOK_HOST": "127.0.0.1"}
            if self.webhook
            else {"HEALTH_PORT": str(port), "HEALTH_HOST": "127.0.0.1"}
        )
        env = bot_env(
            cwd,
            self.telegram,
            self.gateway,
            DATABASE_URL=self.database_url,
            FAILOVER_SECONDS=str(self.failover),
            WEBHOOK_SECRET="replicas-Zq9-secret",
            **where,
            **self.env,
        )
        process = await BotProcess(["--webhook"] if self.webhook else [], env, cwd).start()
        replica = Replica(name, process, port)
        self.replicas.append(replica)
        return replica

    async def role(self, replica: Replica) -> str | None:
        """ "leader" or "standby" as its /readyz says; None while it does not answer."""
        assert self.http is not None
        try:
            async with self.http.get(f"{replica.base}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None
        role = body.get("role")
        return None if body.get("status") == "starting" else role

    async def metrics(self, replica: Replica) -> str:
        assert self.http is not None
        async with self.http.get(f"{replica.base}/metrics") as response:
            assert response.status == 200
            return await response.text()

    async def eventually_role(self, replica: Replica, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            role = await self.role(replica)
            if role is not None:
                return role
            await asyncio.sleep(0.05)
        raise AssertionError(f"{replica} did not answer /readyz within {timeout}s:\n{replica.process.output[-3000:]}")

    def alive(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive]

    async def roles(self) -> dict[str, str | None]:
        alive = self.alive()
        answers = await asyncio.gather(*(self.role(r) for r in alive))
        return {r.name: role for r, role in zip(alive, answers, strict=True)}

    async def leader(self, timeout: float = 15.0, other_than: Replica | None = None) -> Replica:
        """The one replica that says "leader" (never two at once: checked on every look)."""
        deadline = time.monotonic() + timeout
        while True:
            roles = await self.roles()
            leaders = [name for name, role in roles.items() if role == "leader"]
            assert len(leaders) <= 1, f"two leaders at once: {roles}"
            if leaders and (other_than is None or leaders[0] != other_than.name):
                return next(r for r in self.replicas if r.name == leaders[0])
            if time.monotonic() > deadline:
                raise AssertionError(f"no leader within {timeout}s: {roles}")
            await asyncio.sleep(0.02)

    async def kill(self, replica: Replica) -> float:
        """SIGKILL; returns the monotonic moment it was sent."""
        at = time.monotonic()
        replica.process.signal(signal.SIGKILL)
        await replica.process.wait(10)
        replica.alive = False
        return at

    async def stop(self, replica: Replica) -> float:
        at = time.monotonic()
        replica.process.signal(signal.SIGTERM)
        code = await replica.process.wait(40)
        assert code == 0, replica.process.output[-3000:]
        replica.alive = False
        return at

    async def close(self) -> None:
        for replica in self.alive():
            with contextlib.suppress(Exception):
                await replica.process.kill()
            replica.alive = False


@pytest.fixture
def pg_url(pg_server: engines.PgServer) -> Iterator[str]:
    yield from engines.fresh_database(pg_server)


@contextlib.asynccontextmanager
async def replicas(
    tmp_path: Path,
    telegram: FakeTelegram,
    gateway: SandboxGateway,
    database_url: str,
    webhook: bool = False,
    **env: str,
) -> AsyncIterator[Replicas]:
    group = Replicas(tmp_path, telegram, gateway, database_url, webhook=webhook, **env)
    async with aiohttp.ClientSession() as http:
        group.http = http
        try:
            yield group
        finally:
            await group.close()


# ------------------------------------------------------------------ a private PostgreSQL server to restart


def server_down(base: Path) -> None:
    """Stop the private server at `base` at once (`-m immediate`: as a crash or a failover leaves it)."""
    binaries = pgserver.find_bin()
    assert binaries is not None
    _, uid, gid = pgserver._as_user()
    done = pgserver._run(
        [str(binaries / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "-w", "stop"], uid, gid
    )
    assert done.returncode == 0, done.stderr


def server_up(base: Path, url: str) -> None:
    """Start it again on the same port and files (pgserver.start would make a new one)."""
    binaries = pgserver.find_bin()
    assert binaries is not None
    _, uid, gid = pgserver._as_user()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={urlsplit(url).port} -c unix_socket_directories={base / 'sock'} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
    )
    cmd = [str(binaries / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "log"), "-o", options, "-w", "start"]
    done = pgserver._run(cmd, uid, gid)
    assert done.returncode == 0, done.stderr
