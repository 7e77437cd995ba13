"""Issue 27, point 3: the bot's own work is done once across replicas and taken over within FAILOVER_SECONDS
when the replica doing it dies (SIGKILL): delivery tracking, a batch cut in the middle. Nobody gets two SMS; a
send in flight on the dead replica is unknown and never resent."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import ADMIN, eventually, gateway, telegram
from tests.support.engines import select
from tests.support.replicas import FAILOVER, pg_url, replicas

__all__ = ["gateway", "pg_url", "telegram"]

NUMBER = "+7 904 176-49-95"


def sends_per_number(gw: SandboxGateway) -> Counter[str]:
    return Counter(r.fields.get("MSISDN", "") for r in gw.requests if r.action == "send")


async def test_the_leader_killed_while_tracking_another_finishes_the_tracking(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    gateway.delivery_delay = 3.0  # delivered some seconds after it was sent: the leader dies meanwhile
    async with replicas(tmp_path, telegram, gateway, pg_url) as group:
        await group.start(2)
        first = await group.leader()
        admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
        await admin.send(f"/send {NUMBER} tracked across a kill")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=10)
        killed_at = await group.kill(first)
        second = await group.leader(other_than=first, timeout=FAILOVER + 2)
        assert time.monotonic() - killed_at < FAILOVER
        await admin.wait_for(lambda m: "delivered" in m.plain.lower(), timeout=FAILOVER + 15)
        row = select(pg_url, "SELECT state, status_name, final, notice_owed_at FROM sends")[0]
        assert (row["state"], row["status_name"], row["final"]) == ("accepted", "DELIVRD", 1)
        assert sends_per_number(gateway) == Counter({"79041764995": 1})
        assert await group.role(second) == "leader"


async def test_the_leader_killed_mid_batch_the_rest_goes_out_once_and_the_one_in_flight_is_unknown(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with replicas(tmp_path, telegram, gateway, pg_url, SEND_CONCURRENCY="1") as group:
        await group.start(2)
        first = await group.leader()
        admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
        numbers = [f"790417651{i:02d}" for i in range(6)]
        await admin.send("/send " + ", ".join(numbers) + " Server db1 is down")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
        gateway.inject(Fault.SLOW, "send", times=None, delay=30)  # each goes out, and its answer never comes
        await admin.press(preview, "✅ Send to 6")
        await gateway.wait_requests(1, timeout=10, action="send")
        await group.kill(first)  # the first recipient's call in flight, the other five never attempted
        gateway.clear_faults()
        await group.leader(other_than=first, timeout=FAILOVER + 2)

        async def all_out() -> bool | None:
            return True if sum(sends_per_number(gateway).values()) >= len(numbers) else None

        await eventually(all_out, FAILOVER + 15, "the rest of the batch sent by the new leader")
        assert sends_per_number(gateway) == Counter(dict.fromkeys(numbers, 1))  # nobody got two
        await admin.wait_for(lambda m: "restarted while sending" in m.plain, timeout=10)

        async def in_flight_unknown() -> list[str] | None:
            states = [r["state"] for r in select(pg_url, "SELECT state FROM sends WHERE msisdn = ?", (numbers[0],))]
            return states if states == ["unknown"] else None

        # unknown once no gateway call can still be running (its deadline), never resent
        await eventually(in_flight_unknown, 45, "the recipient in flight at the kill is unknown")
        assert sends_per_number(gateway) == Counter(dict.fromkeys(numbers, 1))


async def test_webhook_replicas_every_one_serves_updates_and_only_the_leader_tracks(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    gateway.delivery_delay = 3.0
    async with replicas(tmp_path, telegram, gateway, pg_url, webhook=True) as group:
        (first,) = await group.start(1)
        assert await group.leader() is first
        (second,) = await group.start(1)  # Telegram now posts every update to the second, a standby
        assert await group.role(second) == "standby"
        admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
        await admin.send(f"/send {NUMBER} served by a standby")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=10)
        killed_at = await group.kill(first)  # the leader, which was tracking it
        await group.leader(other_than=first, timeout=FAILOVER + 2)
        assert time.monotonic() - killed_at < FAILOVER
        await admin.wait_for(lambda m: "delivered" in m.plain.lower(), timeout=FAILOVER + 15)
        assert sends_per_number(gateway) == Counter({"79041764995": 1})
        delivered = [m for m in admin.messages if "delivered" in m.plain.lower()]
        assert len(delivered) == 1  # one notice, not one per replica
