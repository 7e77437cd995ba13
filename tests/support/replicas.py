"""Several `python -m bot` replicas on one fresh PostgreSQL database, against one fake Telegram server and one
sandbox gateway (issue 27) — the one replica harness (issue 25 merged `replica_pair.py` into it). Polling (the
default: one leader polls, `/readyz` on HEALTH_PORT says each role); `webhook=True`, each serving and setting its
own webhook (Telegram posts to the last one started); `proxy=True`, one webhook URL with a round-robin proxy in
front (`RoundRobin`), so consecutive updates land on different replicas.

Each replica is a process of its own (`BotProcess`, deploy_fixtures.py) forked from the pre-imported fork server
(`forkserver.py`): its own pid, killed by SIGKILL like any other, without paying the imports per start (0.1 s
of CPU to ready instead of 2.8 s). Waits re-check a condition until a deadline (a
replica's role on `/readyz` every 20–50 ms, as the failover figures need), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support import engines, pgserver
from tests.support.deploy_fixtures import WEBHOOK_SECRET, BotProcess, bot_env, free_port

FAILOVER = 3.0  # FAILOVER_SECONDS in the failover tests
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class Replica:
    def __init__(self, name: str, process: BotProcess, port: int) -> None:
        self.name = name
        self.process = process
        self.port = port
        self.alive = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hook(self) -> str:  # its webhook, behind the proxy
        return f"{self.base}/hook"

    def __repr__(self) -> str:
        return f"<replica {self.name}>"


class RoundRobin:
    """A small HTTP proxy in front of the replicas' webhooks: each update to the next replica in turn. It waits
    for the replica and gives Telegram its answer, or (`concurrent`) answers 200 at once and delivers in the
    background, as Telegram's parallel webhook connections do. `lose_answers(n)`: Telegram gets 502 for the next
    n though a replica got them, and sends them again — the retry goes to ANOTHER replica."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.concurrent = False
        self._lose = 0
        self._turn = itertools.count()
        self.port = free_port()
        self.delivered: list[tuple[int, int, int | None]] = []  # (update_id, replica index, status)
        self._background: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def lose_answers(self, count: int) -> None:
        self._lose += count

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._client = aiohttp.ClientSession()

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, body: bytes, headers: dict[str, str]) -> tuple[int | None, bytes, str]:
        index = next(self._turn) % len(self.targets)
        assert self._client is not None
        update_id = int(json.loads(body)["update_id"])
        try:
            async with self._client.post(
                self.targets[index], data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=20)
            ) as answer:
                reply = await answer.read()
                self.delivered.append((update_id, index, answer.status))
                return answer.status, reply, answer.content_type
        except (aiohttp.ClientError, TimeoutError):
            self.delivered.append((update_id, index, None))
            return None, b"", "text/plain"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"Content-Type": "application/json"}
        if SECRET_HEADER in request.headers:
            headers[SECRET_HEADER] = request.headers[SECRET_HEADER]
        if self.concurrent:
            task = asyncio.create_task(self._forward(body, headers))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return web.Response(status=200)
        status, reply, content_type = await self._forward(body, headers)
        if self._lose > 0:
            self._lose -= 1
            return web.Response(status=502, text="the answer was lost on its way")
        if status is None:
            return web.Response(status=502)
        return web.Response(status=status, body=reply, content_type=content_type)


class Replicas:
    """The replicas of one test: `start(n)`, `kill`, `stop`, their roles (`leader`, `roles`), `metrics`."""

    def __init__(
        self,
        tmp_path: Path,
        telegram: FakeTelegram,
        gateway: SandboxGateway,
        database_url: str,
        *,
        failover: float | None = FAILOVER,
        webhook: bool = False,
        proxy: bool = False,
        **env: str,
    ) -> None:
        self.tmp_path = tmp_path
        self.telegram = telegram
        self.gateway = gateway
        self.database_url = database_url
        self.failover = failover  # None: the bot's default FAILOVER_SECONDS
        self.env = env
        self.webhook = webhook or proxy
        self.proxied = proxy
        self.proxy = RoundRobin()  # started, and every replica's WEBHOOK_URL, when `proxied`
        self.replicas: list[Replica] = []
        self.http: aiohttp.ClientSession | None = None
        self._count = 0

    # -- starting and ending ------------------------------------------------------------------------------
    async def start(self, n: int = 1) -> list[Replica]:
        """`n` more replicas, one after the other, each once its `/readyz` answers past start-up."""
        started = []
        for _ in range(n):
            replica = await self._launch()
            self.replicas.append(replica)
            self.proxy.targets.append(replica.hook)
            started.append(replica)
        await asyncio.gather(*(self.eventually_role(r) for r in started))
        return started

    async def restart(self, index: int) -> Replica:
        """A new process in the place of replica `index` (a stopped or killed one), behind the proxy too."""
        replica = await self._launch()
        self.replicas[index] = replica
        self.proxy.targets[index] = replica.hook
        await self.eventually_role(replica)
        return replica

    async def _launch(self) -> Replica:
        self._count += 1
        name = f"r{self._count}"
        port = free_port()
        cwd = self.tmp_path / name
        cwd.mkdir()
        where = {"HEALTH_PORT": str(port), "HEALTH_HOST": "127.0.0.1"}
        if self.webhook:
            url = self.proxy.url if self.proxied else f"http://127.0.0.1:{port}/hook"
            where = {"WEBHOOK_URL": url, "WEBHOOK_PORT": str(port), "WEBHOOK_HOST": "127.0.0.1"}
        failover = {} if self.failover is None else {"FAILOVER_SECONDS": str(self.failover)}
        env = bot_env(
            cwd,
            self.telegram,
            self.gateway,
            DATABASE_URL=self.database_url,
            WEBHOOK_SECRET=WEBHOOK_SECRET,
            **failover,
            **where,
            **self.env,
        )
        process = await BotProcess(["--webhook"] if self.webhook else [], env, cwd).start()
        return Replica(name, process, port)

    async def kill(self, replica: Replica) -> float:
        """SIGKILL; returns the monotonic moment it was sent."""
        at = time.monotonic()
        replica.process.signal(signal.SIGKILL)
        await replica.process.wait(10)
        replica.alive = False
        return at

    async def stop(self, replica: Replica) -> float:
        """SIGTERM, and a clean exit (code 0) within 40 s; returns the monotonic moment it was sent."""
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
        await self.proxy.stop()

    # -- what they say ------------------------------------------------------------------------------------
    def alive(self) -> list[Replica]:
        return [r for r in self.replicas if r.alive]

    def output(self) -> str:  # every replica's, for an assertion's message
        return "\n".join(f"--- replica {r.name}\n{r.process.output}" for r in self.replicas)

    async def role(self, replica: Replica) -> str | None:
        """ "leader" or "standby" as its /readyz says; None while it does not answer or is starting."""
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

    async def roles(self) -> dict[str, str | None]:
        alive = self.alive()
        answers = await asyncio.gather(*(self.role(r) for r in alive))
        return {r.name: role for r, role in zip(alive, answers, strict=True)}

    async def leader(self, timeout: float = 15.0, other_than: Replica | None = None) -> Replica:
        """The one replica that says "leader" (never two at once: checked on every look, every 20 ms)."""
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

    # -- the names of the old replica_pair harness ---------------------------------------------------------
    @property
    def bots(self) -> list[BotProcess]:
        return [r.process for r in self.replicas]

    async def start_replica(self, index: int) -> BotProcess:
        if index >= len(self.replicas):
            return (await self.start(1))[0].process
        return (await self.restart(index)).process


@contextlib.asynccontextmanager
async def replicas(
    tmp_path: Path,
    telegram: FakeTelegram,
    gateway: SandboxGateway,
    database_url: str,
    *,
    webhook: bool = False,
    proxy: bool = False,
    count: int = 0,
    failover: float | None = FAILOVER,
    **env: str,
) -> AsyncIterator[Replicas]:
    """`count` replicas started (more with `group.start(n)`), every one killed at the end."""
    group = Replicas(tmp_path, telegram, gateway, database_url, failover=failover, webhook=webhook, proxy=proxy, **env)
    async with aiohttp.ClientSession() as http:
        group.http = http
        try:
            if group.proxied:
                await group.proxy.start()
            if count:
                await group.start(count)
            yield group
        finally:
            await group.close()


def behind_proxy(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, url: str, count: int = 2, **env: str
) -> contextlib.AbstractAsyncContextManager[Replicas]:
    """`count` webhook replicas behind the round-robin proxy, FAILOVER_SECONDS as the bot's default (what
    `replica_pair.replicas` was)."""
    return replicas(tmp_path, telegram, gateway, url, proxy=True, count=count, failover=None, **env)  # type: ignore[arg-type]


@pytest.fixture
def pg_url(pg_server: engines.PgServer) -> Iterator[str]:
    """A fresh PostgreSQL database the replicas of one test share, migrated already (a copy of the run's template;
    replicas racing to migrate an empty one: tests/e2e/test_postgres.py). Skipped without a server, failed under
    CI."""
    yield from engines.fresh_database(pg_server, migrated=True)


async def pg_rows(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows read from the shared database by the test itself (outside every replica), on the test's own loop:
    cheap enough to poll (`engines.select` starts a thread and a loop per call)."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [dict(r) for r in await conn.fetch(sql, *params)]
    finally:
        await conn.close()


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
