"""Issue 27: failover times over 20 kills (SIGKILL of the polling leader, FAILOVER_SECONDS=3): the moment the
kill is sent to (a) another replica saying "leader" on /readyz, (b) the answer to a message sent right after the
kill. Printed as median and worst (run with -s to see them); the worst must stay within FAILOVER_SECONDS for (a)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import ADMIN, gateway, telegram
from tests.support.replicas import FAILOVER, pg_url, replicas

__all__ = ["gateway", "pg_url", "telegram"]

KILLS = 20


async def test_failover_times_over_twenty_kills(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    takeover: list[float] = []
    answered: list[float] = []
    async with replicas(tmp_path, telegram, gateway, pg_url) as group:
        await group.start(2)
        admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
        for kill in range(KILLS):
            leader = await group.leader()
            killed_at = await group.kill(leader)
            await admin.send(f"/send 79041764995 after kill {kill}")
            await group.leader(other_than=leader, timeout=FAILOVER + 2)
            takeover.append(time.monotonic() - killed_at)
            await admin.wait_for(lambda m, k=kill: f"after kill {k}" in m.plain, timeout=FAILOVER + 10)
            answered.append(time.monotonic() - killed_at)
            await group.start(1)  # a fresh standby for the next round
            group.replicas = group.alive()
    for what, values in (("take-over", takeover), ("first answer", answered)):
        print(f"{what} over {len(values)} kills: median {statistics.median(values):.2f}s, worst {max(values):.2f}s")
    assert max(takeover) < FAILOVER
