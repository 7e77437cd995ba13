"""An alert storm against the ladder (issue 28 point 4): 600 critical groups POSTed at once with a three-step ladder
set. The bundle keeps it to one SMS per recipient and window, naming the alerts; without the bundle the hourly cap
holds, and the admins are told once. Operators get no message per group (the storm's digest) and no notice per
auto-SMS. The figures (auto-SMS, time to handle, messages to operators) are printed; also the time from a step's
due moment to the sandbox gateway's receipt, on the real clock."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import httpx

from bot.devkit.harness import Harness
from bot.middlewares.telegram import tls_context
from tests.conftest import ADMIN
from tests.e2e.test_escalation import BOSS, IVAN, OLGA, Clock, engine_of, fire, rig, rounds, say, team
from tests.support.alert_payloads import TOKEN, alert, alertmanager

KEYS = 600


async def storm(h: Harness) -> float:
    started = time.monotonic()
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(
        timeout=30, verify=tls_context(), headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:

        async def one(i: int) -> None:
            body = alertmanager([alert(f"Storm{i}", instance=f"node{i}")], name=f"Storm{i}")
            async with gate:
                assert (await client.post(f"{h.http_url}/alerts", json=body)).status_code == 200

        await asyncio.gather(*(one(i) for i in range(KEYS)))
    return time.monotonic() - started


def new_messages(h: Harness, chat_id: int, after: int) -> int:
    return len([e for e in h.telegram.user(chat_id).state.events[after:] if e.kind == "message"])


async def test_a_600_group_storm_is_one_bundled_sms_per_recipient_and_window(tmp_path: Path) -> None:
    clock = Clock()
    async with rig(tmp_path, clock) as h:
        admin, oleg = await team(h)
        await say(admin, "/escalation 1 duty, 2 Admins, 3 +7 916 123-45-67")
        before = {u: len(h.telegram.user(u).state.events) for u in (ADMIN, oleg.user_id)}
        posting = await storm(h)
        clock.move(4)
        started = time.monotonic()
        await h.gateway.wait_sent(3, timeout=60)  # Olga (duty), Ivan (Admins), the number
        await rounds(h, 3)
        handled = time.monotonic() - started
        first = [(m.msisdn, m.text) for m in h.gateway.sent]
        assert sorted(n for n, _ in first) == sorted([OLGA, IVAN, BOSS])
        assert all(text.startswith("[FIRING] 600 alerts: Storm") and "more" in text for _, text in first), first
        assert all(m.parts <= 2 for m in h.gateway.sent)
        clock.move(10)  # Olga's steps (duty, Admins) were due together: they went as her one SMS
        await rounds(h, 3)
        assert len(h.gateway.sent) == 3
        told = {u: new_messages(h, u, n) for u, n in before.items()}
        print(
            f"\nescalation storm: {KEYS} groups posted in {posting:.1f}s; auto-SMS sent {len(h.gateway.sent)} "
            f"(engine recorded {engine_of(h).sent}); first round handled in {handled:.2f}s; new messages to "
            f"operators {told} (edits not counted)"
        )
        assert all(n <= 10 for n in told.values())  # a few groups, the digest: never one per group or auto-SMS


async def test_the_hourly_cap_holds_a_storm_paging_many_people(tmp_path: Path) -> None:
    clock = Clock()
    async with rig(tmp_path, clock) as h:
        admin, oleg = await team(h)
        everyone = ", ".join(f"+7 916 000-{i // 100:02d}-{i % 100:02d}" for i in range(1, 31))
        await say(admin, f"/group Everyone: {everyone}")
        await say(admin, "/escalation 1 Everyone")
        before = {u: len(h.telegram.user(u).state.events) for u in (ADMIN, oleg.user_id)}
        await storm(h)
        clock.move(2)
        started = time.monotonic()
        await h.gateway.wait_sent(20, timeout=60)
        await rounds(h, 3)
        handled = time.monotonic() - started
        assert len(h.gateway.sent) == 20  # ESCALATION_SMS_PER_HOUR as rig() sets it, though 30 people were due
        cap = await admin.wait_for(lambda m: "limit of 20 auto-SMS" in m.plain, timeout=10)
        clock.move(30)
        await rounds(h, 3)
        assert len(h.gateway.sent) == 20
        assert [m for m in admin.messages if "limit of 20 auto-SMS" in m.plain] == [cap]  # told once an hour
        told = {u: new_messages(h, u, n) for u, n in before.items()}
        print(
            f"\nescalation storm, 30 people due: {KEYS} groups; auto-SMS sent {len(h.gateway.sent)} (cap 20) in "
            f"{handled:.2f}s; admins told of the cap once; new messages to operators {told}"
        )
        assert all(n <= 10 for n in told.values())


async def test_time_from_a_due_step_to_the_gateway_on_the_real_clock(tmp_path: Path) -> None:
    """No clock is moved: steps at 0 minutes fall due as the group comes in; each timed to the sandbox's receipt."""
    async with rig(tmp_path, Clock(), escalation_bundle_minutes=0) as h:
        admin, _ = await team(h)
        await say(admin, "/escalation 0 +7 916 123-45-67")
        waits: list[float] = []
        for i in range(10):
            due = time.time()
            await fire(h, f"Real{i}", instance=f"r{i}")
            await h.gateway.wait_sent(i + 1, timeout=15)
            waits.append(time.time() - due)
        print(
            f"\nstep due -> gateway receipt (real clock, 10 steps at 0 min, timed from the POST): median "
            f"{statistics.median(waits):.2f}s, worst {max(waits):.2f}s"
        )
        assert max(waits) < 3.0
