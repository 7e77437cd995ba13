"""Telegram's limits hold for the bot as a whole (issue 27, point 4): three `python -m bot --webhook` replicas on
one PostgreSQL database each tell 36 admins of an access request at the same moment — 108 messages at once —
and the fake Telegram server sees no more than its 30 a second in all and no admin's chat faster than one a
second, though each admin hears from all three replicas.

Measured: 108 messages over 6.65 s, at most 26 in one second, the closest two in one chat 1.24 s apart. Without
the shared chat moments, an admin got three messages 0.02–0.05 s apart; with them but without each replica's
share of the budget, 31 messages came within one second (with neither, 36 with twelve admins).
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from bot.devkit.telegram.inspection import MESSAGE_METHODS
from bot.devkit.telegram.people import FakeUser
from tests.e2e.test_replicas_order import serving
from tests.support.deploy_fixtures import eventually, gateway, telegram
from tests.support.replicas import behind_proxy as replicas
from tests.support.replicas import pg_url

__all__ = ["gateway", "pg_url", "telegram"]  # fixtures

ADMINS = list(range(1001, 1037))
STRANGERS = (5001, 5002, 5003)


async def _told_of_all(admin: FakeUser) -> bool | None:
    shown = [m.plain for m in admin.messages if "Access request" in m.plain]
    return True if all(any(f"id {s}" in text for text in shown) for s in STRANGERS) else None


def worst_second(times: list[float]) -> int:
    """The most moments inside any one second."""
    times = sorted(times)
    best = start = 0
    for index, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, index - start + 1)
    return best


async def test_three_replicas_telling_36_admins_at_once_stay_within_telegrams_limits(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    env = {"ADMIN_IDS": ",".join(map(str, ADMINS)), "FAILOVER_SECONDS": "3"}
    async with replicas(tmp_path, telegram, gateway, pg_url, count=3, **env) as pair:
        await serving(pair.proxy)
        for bot in pair.bots:  # each has counted the three (its budget: a third of the whole)
            await bot.wait_line(r"replicas alive: 3", timeout=20)
        admins = [telegram.user(a, f"Admin{a}", language_code="en") for a in ADMINS]
        strangers = [telegram.user(s, f"S{s}", language_code="en") for s in STRANGERS]
        pair.proxy.concurrent = True
        first = len(pair.proxy.delivered)
        await asyncio.gather(*(s.send("hello") for s in strangers))
        for admin in admins:  # every replica told every admin of its own stranger
            await eventually(lambda a=admin: _told_of_all(a), timeout=30, what=f"admin {admin.user_id} told of all")
        assert {i for _, i, _ in pair.proxy.delivered[first:]} == {0, 1, 2}, "one stranger on each replica"

        calls = [c for c in telegram.calls if c.method in MESSAGE_METHODS and c.params.get("chat_id") in ADMINS]
        assert len(calls) == len(ADMINS) * len(STRANGERS)
        overall = worst_second([c.time for c in calls])
        assert overall <= 30, f"{overall} messages to the admins within one second"
        span = max(c.time for c in calls) - min(c.time for c in calls)
        print(f"{len(calls)} messages over {span:.2f} s, at most {overall} in one second")
        closest = 60.0
        for admin_id in ADMINS:
            mine = sorted(c.time for c in calls if c.params.get("chat_id") == admin_id)
            gaps = [round(b - a, 3) for a, b in itertools.pairwise(mine)]
            assert min(gaps) >= 1.0, f"admin {admin_id} got messages {gaps} s apart"
            closest = min(closest, *gaps)
        print(f"closest two messages in one admin's chat: {closest:.3f} s apart")
