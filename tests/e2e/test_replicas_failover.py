"""Issue 27, points 2, 3 and 5: replicas of `python -m bot` on one PostgreSQL database, polling mode. One polls
and does the bot's own work; when it dies (SIGKILL) or stops, another takes over within FAILOVER_SECONDS, and
no update is lost or handled twice across the switch."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram, FakeUser
from tests.e2e.test_deploy import parse_yaml_subset
from tests.support.deploy_fixtures import ADMIN, ROOT, eventually, gateway, telegram
from tests.support.engines import select
from tests.support.replicas import FAILOVER, pg_url, replicas

__all__ = ["gateway", "pg_url", "telegram"]

NUMBER = "79041764995"


def previews(user: FakeUser, i: int) -> int:
    return sum(1 for m in user.messages if f"note {i} " in m.plain + " ")


async def ask(user: FakeUser, i: int) -> None:
    await user.send(f"/send {NUMBER} note {i}")


async def answered_once(user: FakeUser, numbers: range, timeout: float) -> None:
    async def all_there() -> bool | None:
        return True if all(previews(user, i) >= 1 for i in numbers) else None

    await eventually(all_there, timeout, f"every numbered message answered: {[previews(user, i) for i in numbers]}")
    doubled = {i: previews(user, i) for i in numbers if previews(user, i) != 1}
    assert doubled == {}, f"handled twice: {doubled}"


async def test_sigkill_of_the_poller_another_polls_within_failover_nothing_lost_or_doubled(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with replicas(tmp_path, telegram, gateway, pg_url) as group:
        await group.start(3)
        first = await group.leader()
        assert sorted((await group.roles()).values()) == ["leader", "standby", "standby"]
        admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
        for i in range(1, 4):
            await ask(admin, i)
        await answered_once(admin, range(1, 4), 15)
        for i in range(4, 10):  # a burst, and the poller killed in the middle of it
            await ask(admin, i)
        killed_at = await group.kill(first)
        for i in range(10, 16):  # while nobody polls
            await ask(admin, i)
        second = await group.leader(other_than=first, timeout=FAILOVER + 2)
        took = time.monotonic() - killed_at
        assert took < FAILOVER, f"take-over took {took:.2f}s"
        await answered_once(admin, range(1, 16), FAILOVER + 15)
        # every update id once in the guard's table: none lost on the way
        ids = [r["update_id"] for r in select(pg_url, "SELECT update_id FROM seen_updates ORDER BY update_id")]
        assert len(ids) == len(set(ids)) >= 15
        assert second.alive and await group.role(second) == "leader"
        standby = next(r for r in group.alive() if r is not second)
        assert "smska_bot_leader 1.0" in await group.metrics(second)  # SmskaNoLeader counts these
        assert "smska_bot_leader 0.0" in await group.metrics(standby)


async def test_a_stopped_poller_hands_over_at_once(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with replicas(tmp_path, telegram, gateway, pg_url) as group:
        await group.start(2)
        first = await group.leader()
        admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
        await ask(admin, 1)
        await answered_once(admin, range(1, 2), 15)
        stop = asyncio.create_task(group.stop(first))
        await asyncio.sleep(0)
        for i in range(2, 8):
            await ask(admin, i)
        stopped_at = await stop
        second = await group.leader(other_than=first, timeout=FAILOVER)
        took = time.monotonic() - stopped_at
        assert took < FAILOVER / 2, f"take-over after a clean stop took {took:.2f}s"
        await answered_once(admin, range(1, 8), 15)
        assert "lease" not in first.process.output.lower() or "could not release" not in first.process.output
        assert await group.role(second) == "leader"


def test_the_ha_compose_file_runs_postgres_two_replicas_and_a_proxy_in_front() -> None:
    compose = parse_yaml_subset((ROOT / "docker-compose.ha.yml").read_text())
    services = compose["services"]
    assert {"postgres", "bot-a", "bot-b", "proxy"} <= set(services)
    caddyfile = (ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    assert "bot-a:8080 bot-b:8080" in caddyfile and "health_uri /healthz" in caddyfile
    readme = (ROOT / "README.md").read_text()
    assert "docker compose -f docker-compose.ha.yml up -d --build" in readme and "### Two replicas" in readme
