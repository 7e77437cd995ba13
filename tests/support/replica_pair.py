"""Several `python -m bot` replicas in webhook mode on ONE PostgreSQL database, behind a round-robin proxy.

The fake Telegram server POSTs each update to the proxy (the webhook URL every replica sets); the proxy hands it
to the next replica in turn. Two ways of delivering:

* `concurrent = False` (default): the proxy waits for the replica and answers Telegram with what it answered —
  Telegram then sends the next update (one at a time, as the fake server does).
* `concurrent = True`: the proxy answers Telegram 200 at once and delivers in the background, so the next update
  is already on its way to the other replica while the first is handled — what Telegram's up to 40 parallel
  webhook connections do.

`lose_answers(n)`: the next n updates reach a replica, but its 200 never reaches Telegram (the proxy answers
502), so Telegram sends the same update again — and the round robin hands it to ANOTHER replica.

Nothing waits with a fixed sleep: waits are on output lines, the fake server's events, or `eventually`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support import engines
from tests.support.deploy_fixtures import WEBHOOK_SECRET, BotProcess, bot_env, free_port

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class RoundRobin:
    """A small HTTP proxy in front of the replicas' webhooks."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.concurrent = False
        self._lose = 0
        self._turn = itertools.count()
        self.port = free_port()
        self.delivered: list[tuple[int, int, int | None]] = []  # (update_id, replica index, status)
        self._background: set[asyncio.Task[None]] = set()
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
            task.add_done_callback(lambda _: self._background.discard(task))  # type: ignore[arg-type]
            return web.Response(status=200)
        status, reply, content_type = await self._forward(body, headers)
        if self._lose > 0:
            self._lose -= 1
            return web.Response(status=502, text="the answer was lost on its way")
        if status is None:
            return web.Response(status=502)
        return web.Response(status=status, body=reply, content_type=content_type)


class Replicas:
    """`count` bot processes in webhook mode on one PostgreSQL database (`url`), behind `proxy`."""

    def __init__(
        self, tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, url: str, count: int = 2, **env: str
    ) -> None:
        self.tmp_path = tmp_path
        self.telegram = telegram
        self.gateway = gateway
        self.database_url = url
        self.count = count
        self.env = env
        self.proxy = RoundRobin()
        self.bots: list[BotProcess] = []

    async def __aenter__(self) -> Replicas:
        await self.proxy.start()
        for index in range(self.count):
            await self.start_replica(index)
        return self

    async def start_replica(self, index: int) -> BotProcess:
        port = free_port()
        folder = self.tmp_path / f"replica{index}"
        folder.mkdir(exist_ok=True)
        env = bot_env(
            folder,
            self.telegram,
            self.gateway,
            DATABASE_URL=self.database_url,
            WEBHOOK_URL=self.proxy.url,
            WEBHOOK_SECRET=WEBHOOK_SECRET,
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(port),
            **self.env,
        )
        bot = await BotProcess(["--webhook"], env, folder).start()
        await bot.wait_line(r"webhook mode: listening", timeout=40)
        target = f"http://127.0.0.1:{port}/hook"
        if index < len(self.bots):
            self.bots[index], self.proxy.targets[index] = bot, target
        else:
            self.bots.append(bot)
            self.proxy.targets.append(target)
        return bot

    async def __aexit__(self, *exc: object) -> None:
        for bot in self.bots:
            with contextlib.suppress(Exception):
                await bot.kill()
        await self.proxy.stop()

    def output(self) -> str:
        return "\n".join(f"--- replica {i}\n{bot.output}" for i, bot in enumerate(self.bots))


async def pg_rows(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows read from the shared database by the test itself (outside every replica)."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [dict(r) for r in await conn.fetch(sql, *params)]
    finally:
        await conn.close()


@pytest.fixture
def shared_database(pg_server: engines.PgServer) -> Iterator[str]:
    """A fresh PostgreSQL database the replicas of one test share (skipped without a server, failed under CI)."""
    yield from engines.fresh_database(pg_server)


@contextlib.asynccontextmanager
async def replicas(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, url: str, count: int = 2, **env: str
) -> AsyncIterator[Replicas]:
    async with Replicas(tmp_path, telegram, gateway, url, count, **env) as pair:
        yield pair
