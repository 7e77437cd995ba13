"""The escalation ladder (issue 28 points 2-4), end to end over loopback: /escalation, auto-SMS at the due moments
on a clock the test moves (the sandbox gateway receives them), shown on every copy of the alert with their delivery
result; ✋ or a resolve stops the steps not yet due; one bundled SMS per recipient and window; the hourly cap."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.devkit.harness import Harness
from bot.devkit.telegram import FakeUser
from bot.services.escalation import Escalation
from tests.conftest import ADMIN, OPERATOR
from tests.support.alert_payloads import TOKEN, alert, alertmanager, post

TEAM = -1009876543210
OLGA = "79041764995"  # on duty
BOSS = "79161234567"  # a number of its own in the ladder
IVAN = "79031112233"  # a second member of the Admins group


class Clock:
    """Real time plus what the test has moved it by: the bot stamps a group's first firing with real time."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def move(self, minutes: float) -> None:
        self.offset += minutes * 60


@pytest.fixture
def clock() -> Clock:
    return Clock()


def rig(tmp_path: Path, clock: Clock, database_url: str | None = None, **overrides: Any) -> Harness:
    # The guards as these tests count on them (the contract's defaults are 30 and 5: README, bot/config.py).
    guards = {"escalation_sms_per_hour": 20, "escalation_bundle_minutes": 10.0}
    settings = {"alert_token": TOKEN, "team_chat_id": TEAM, **guards, **overrides}
    h = Harness(
        tmp_path, admin_ids=(ADMIN,), settings_overrides=settings, http=True, clock=clock, database_url=database_url
    )
    h.telegram.group(TEAM, "On-call team")
    return h


async def say(user: FakeUser, text: str) -> str:
    await user.send(text)
    return (await user.next_message()).plain


async def team(h: Harness) -> tuple[FakeUser, FakeUser]:
    admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
    oleg = h.telegram.user(OPERATOR, first_name="Oleg", language_code="ru")
    await say(admin, f"/allow {OPERATOR}")
    await say(oleg, "/start")
    await oleg.next_message()  # the access notice came first
    await say(admin, "/contact Olga +7 904 176-49-95")
    await say(admin, "/contact Ivan +7 903 111-22-33")
    await say(admin, "/group Admins: Olga, Ivan")
    await say(admin, "/duty Olga")
    return admin, oleg


def engine_of(h: Harness) -> Escalation:
    assert h.app is not None and h.app.escalation is not None
    return h.app.escalation


async def fire(h: Harness, name: str, **labels: Any) -> None:
    body = alertmanager([alert(name, **labels)], name=name)
    assert (await post(h.http_url, body)).status_code == 200


async def resolve(h: Harness, name: str) -> None:
    body = alertmanager([alert(name, status="resolved")], name=name)
    assert (await post(h.http_url, body)).status_code == 200


async def rounds(h: Harness, n: int = 2) -> None:
    for _ in range(n):
        await engine_of(h).next_round()


@pytest.fixture
async def h(tmp_path: Path, clock: Clock, database_url: str | None) -> AsyncIterator[Harness]:
    async with rig(tmp_path, clock, database_url) as harness:
        yield harness


async def test_set_show_and_turn_off_the_ladder(h: Harness) -> None:
    admin, oleg = await team(h)
    assert "Escalation is off" in await say(admin, "/escalation")
    bad = await say(admin, "/escalation 5 Olgaa, 15 Admins")
    assert "“Olgaa” is not duty, a contact, a group or a phone number" in bad and "Example:" in bad
    assert "each step is minutes" in await say(admin, "/escalation duty")
    assert "только админ" in await say(oleg, "/escalation 5 дежурный")
    done = await say(admin, "/escalation 15 Admins, 5 duty, 30 +7 916 123-45-67")
    assert "1. after 5 min — duty" in done and "2. after 15 min — Admins" in done and "3. after 30 min" in done
    shown = await say(oleg, "/escalation")  # anyone sees it, in their language
    assert "через 5 мин — duty" in shown and "critical" in shown
    line = await h.telegram.group(TEAM).wait_for(lambda m: "Alice set the escalation" in m.plain)
    assert "5 min — duty; 15 min — Admins" in line.plain
    assert "Escalation is off" in await say(admin, "/escalation off")
    await h.telegram.group(TEAM).wait_for(lambda m: "Alice turned the escalation off" in m.plain)
    assert h.app is not None
    audit = await h.app.db.escalation._store.rows(
        "SELECT actor_id, action FROM audit_log WHERE action LIKE 'escalation%' ORDER BY id"
    )
    assert [tuple(r) for r in audit] == [(ADMIN, "escalation_set"), (ADMIN, "escalation_off")]


async def test_two_steps_with_nobody_acting_send_exactly_the_due_sms_and_show_them(
    h: Harness, clock: Clock, engine: str
) -> None:
    admin, oleg = await team(h)
    await say(admin, "/escalation 5 duty, 15 +7 916 123-45-67")
    await fire(h, "DiskFull")
    mine = await admin.wait_for(lambda m: "FIRING" in m.plain, timeout=10)
    clock.move(4.9)
    await rounds(h)
    assert h.gateway.sent == []  # not due yet
    clock.move(0.1)
    sent = await h.gateway.wait_sent(1, timeout=10)
    assert [(m.msisdn, m.text) for m in sent] == [(OLGA, "[FIRING] DiskFull: Disk /var on db1 is 95% full")]
    assert sent[0].sender == "OnCall" and sent[0].parts == 1
    # Every copy says so, with the delivery result as it comes.
    await admin.wait_for(
        lambda m: m.message_id == mine.message_id and "Auto-SMS to Olga (duty)" in m.plain and "delivered" in m.plain,
        timeout=10,
    )
    await oleg.wait_for(lambda m: "Авто-СМС: Olga (дежурный)" in m.plain and "доставлено" in m.plain, timeout=10)
    await h.telegram.group(TEAM).wait_for(lambda m: "DiskFull" in m.plain and "Auto-SMS to Olga" in m.plain)
    clock.move(10)
    await h.gateway.wait_sent(2, timeout=10)
    await rounds(h, 3)
    assert [m.msisdn for m in h.gateway.sent] == [OLGA, BOSS]  # exactly the due SMS, once each
    await admin.wait_for(lambda m: m.message_id == mine.message_id and "Auto-SMS to +7\xa0916" in m.plain, timeout=10)
    history = await say(admin, "/history")
    assert "escalation" in history
    assert not any("Olga" in m.plain and "delivered" in m.plain and "FIRING" not in m.plain for m in admin.messages)


async def test_taking_the_group_before_step_two_stops_it(h: Harness, clock: Clock) -> None:
    admin, _ = await team(h)
    await say(admin, "/escalation 5 duty, 15 Admins")
    await fire(h, "DbDown", summary="Primary database is down")
    mine = await admin.wait_for(lambda m: "FIRING" in m.plain, timeout=10)
    clock.move(5)
    await h.gateway.wait_sent(1, timeout=10)
    await admin.press(mine, "✋ I'm on it")
    await admin.wait_for(lambda m: m.message_id == mine.message_id and "↩️ Let go" in m.button_texts, timeout=10)
    clock.move(20)
    await rounds(h, 3)
    assert [m.msisdn for m in h.gateway.sent] == [OLGA]


async def test_a_resolve_before_step_one_sends_nothing_and_a_refire_starts_a_new_ladder(
    h: Harness, clock: Clock
) -> None:
    admin, _ = await team(h)
    await say(admin, "/escalation 5 duty")
    await fire(h, "CpuHot")
    await admin.wait_for(lambda m: "FIRING" in m.plain, timeout=10)
    clock.move(3)
    await resolve(h, "CpuHot")
    await admin.wait_for(lambda m: "RESOLVED" in m.plain, timeout=10)
    clock.move(10)
    await rounds(h, 3)
    assert h.gateway.sent == []
    await fire(h, "CpuHot")  # fires again: its own ladder, from now (the virtual clock's "now" is ahead)
    clock.move(6)
    sent = await h.gateway.wait_sent(1, timeout=10)
    assert sent[0].text.startswith("[FIRING] CpuHot")


async def test_only_the_configured_severities_escalate(h: Harness, clock: Clock) -> None:
    admin, _ = await team(h)
    await say(admin, "/escalation 1 duty")
    await fire(h, "SlowDisk", severity="warning")
    await admin.wait_for(lambda m: "SlowDisk" in m.plain, timeout=10)
    clock.move(30)
    await rounds(h, 3)
    assert h.gateway.sent == []


async def test_steps_due_together_go_as_one_sms_and_later_ones_wait_for_the_window(h: Harness, clock: Clock) -> None:
    admin, _ = await team(h)
    await say(admin, "/escalation 5 duty")
    for name in ("DiskFull", "DbDown", "CpuHot"):
        await fire(h, name)
    await admin.wait_for(lambda m: "CpuHot" in m.plain, timeout=10)
    clock.move(5)
    sent = await h.gateway.wait_sent(1, timeout=10)
    await rounds(h)
    assert len(h.gateway.sent) == 1
    assert sent[0].text == "[FIRING] 3 alerts: DiskFull, DbDown, CpuHot" and sent[0].parts <= 2
    await fire(h, "NetDown")  # due 5 min later: within the 10-minute window after the bundle
    clock.move(5.5)
    await rounds(h, 3)
    assert len(h.gateway.sent) == 1  # waits for the window's end
    await fire(h, "MemLow")  # due at 9.5 min: joins the waiting one
    clock.move(4.9)
    sent = await h.gateway.wait_sent(2, timeout=10)
    assert sent[1].msisdn == OLGA and sent[1].text == "[FIRING] 2 alerts: NetDown, MemLow"
    await rounds(h, 3)
    assert len(h.gateway.sent) == 2


async def test_the_hourly_cap_holds_and_the_admins_are_told_once(tmp_path: Path, clock: Clock) -> None:
    async with rig(tmp_path, clock, escalation_sms_per_hour=2, escalation_bundle_minutes=0) as h:
        admin, _ = await team(h)
        await say(admin, "/escalation 1 Admins, 2 +7 916 123-45-67")
        await fire(h, "DiskFull")
        await admin.wait_for(lambda m: "FIRING" in m.plain, timeout=10)
        clock.move(3)
        await h.gateway.wait_sent(2, timeout=10)
        told = await admin.wait_for(lambda m: "limit of 2 auto-SMS in an hour" in m.plain, timeout=10)
        await rounds(h, 3)
        assert len(h.gateway.sent) == 2  # the third (BOSS) is held
        clock.move(30)
        await rounds(h, 3)
        assert len(h.gateway.sent) == 2
        assert [m for m in admin.messages if "limit of 2 auto-SMS" in m.plain] == [told]  # once an hour
        clock.move(31)  # the hour slid past the first two: the held step goes now
        sent = await h.gateway.wait_sent(3, timeout=10)
        assert sent[2].msisdn == BOSS
