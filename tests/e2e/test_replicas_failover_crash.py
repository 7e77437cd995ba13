"""Issue 27: crash trials across replicas. In each trial an operator presses Send on a preview and the leader (the
poller, which handles the press) is SIGKILLed at a moment spread over the press's path — before the press is
fetched, while it is handled, while the gateway call is in flight (the gateway answers slowly), after it. Another
replica takes over. Over all trials: no SMS sent twice, no send row lost, and none left `sending`."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import ADMIN, eventually, gateway, telegram
from tests.support.engines import select
from tests.support.replicas import FAILOVER, pg_url, replicas

__all__ = ["gateway", "pg_url", "telegram"]

TRIALS = 12


async def test_sigkill_of_the_leader_at_any_moment_of_a_press_never_sends_twice_or_loses_a_row(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    moments = random.Random(27)
    gateway.inject(Fault.SLOW, "send", times=None, delay=0.4)
    async with replicas(tmp_path, telegram, gateway, pg_url) as group:
        await group.start(2)
        admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
        for trial in range(TRIALS):
            leader = await group.leader(timeout=FAILOVER + 5)
            number = f"7904176{trial:04d}"
            await admin.send(f"/send {number} trial {trial}")
            preview = await admin.wait_for(lambda m, t=trial: f"trial {t}" in m.plain, timeout=FAILOVER + 10)
            await admin.press(preview, "✅ Send")
            await asyncio.sleep(moments.uniform(0.0, 0.8))  # the moment of the kill, spread over the press's path
            await group.kill(leader)
            await group.start(1)
            group.replicas = group.alive()
        await group.leader(timeout=FAILOVER + 5)

        async def settled() -> list[dict[str, object]] | None:
            rows = select(pg_url, "SELECT msisdn, state FROM sends ORDER BY id")
            return rows if rows and all(r["state"] != "sending" for r in rows) else None

        rows = await eventually(settled, 60, "no send left `sending` (unknown once no gateway call can run)")
    sent = Counter(r.fields.get("MSISDN", "") for r in gateway.requests if r.action == "send")
    assert max(sent.values(), default=0) <= 1, f"sent twice: {sent}"
    assert Counter(r["msisdn"] for r in rows) == Counter(f"7904176{t:04d}" for t in range(TRIALS))  # no row lost
    for row in rows:  # what the gateway got, the row says: accepted, or unknown (never "not sent")
        if sent[str(row["msisdn"])]:
            assert row["state"] in ("accepted", "unknown"), row
        else:
            assert row["state"] in ("draft", "unknown"), row
    states = Counter(str(r["state"]) for r in rows)
    print(f"{TRIALS} kills: gateway sends {sum(sent.values())}, states {dict(states)}")
