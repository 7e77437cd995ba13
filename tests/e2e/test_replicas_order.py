"""One operator's messages are handled one at a time and in order whichever replica gets them (issue 27, point
4): two `python -m bot --webhook` replicas on one PostgreSQL database behind the round-robin proxy
(tests/support/replicas.py), the proxy answering Telegram at once and delivering in the background, so the
next message is already at the other replica while the first is handled.

Without the chat's turn (bot/replicas/chatlock.py) the text reached the guided `/send`'s number step before the
number did, or both read the step at once: the flow broke in most trials.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path

import aiohttp

from bot.devkit.harness import Harness
from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import ADMIN, WEBHOOK_SECRET, eventually, gateway, preview, telegram
from tests.support.replicas import SECRET_HEADER, RoundRobin, pg_rows, pg_url
from tests.support.replicas import behind_proxy as replicas

__all__ = ["gateway", "pg_url", "telegram"]  # fixtures

TRIALS = 10


def hold_back(proxy: RoundRobin, texts: dict[str, float]) -> None:
    """The proxy delivers an update whose message text is a key of `texts` that many seconds late: the message
    after it reaches its replica first."""
    forward = proxy._forward

    async def late(body: bytes, headers: dict[str, str]) -> tuple[int | None, bytes, str]:
        text = (json.loads(body).get("message") or {}).get("text", "")
        delay = texts.get(text)
        if delay:
            await asyncio.sleep(delay)  # the network's delay being simulated, not a wait for the bot
        return await forward(body, headers)

    proxy._forward = late  # type: ignore[method-assign]


async def _quick_flows(pair_telegram: FakeTelegram, proxy: RoundRobin, late: float) -> None:
    admin = pair_telegram.user(ADMIN, "Alice", language_code="en")
    delays: dict[str, float] = {}
    hold_back(proxy, delays)
    proxy.concurrent = True
    for trial in range(TRIALS):
        number, text = f"+7904176{trial:04d}", f"Pump {trial} pressure low"
        await admin.send("/send")
        await admin.wait_for(lambda m: "Who gets the SMS" in m.plain, timeout=15)
        first = len(proxy.delivered)
        delays[number] = late
        await admin.send(number)  # the two messages one right after the other, as a thumb types them
        await admin.send(text)
        shown = await admin.wait_for(lambda m, t=text: "Check before sending" in m.plain and t in m.plain, timeout=20)
        assert number[1:] in re.sub(r"\D", "", shown.plain), shown.plain  # to the number typed in this trial
        await eventually(lambda s=first: _handled(proxy, s), timeout=15, what="both messages delivered")
        assert len({i for _, i, _ in proxy.delivered[first : first + 2]}) == 2, "the two went to both replicas"
    confused = [m.plain for m in admin.messages if "not a contact" in m.plain or "phone number" in m.plain.lower()]
    assert confused == []
    previews = [m for m in admin.messages if "Check before sending" in m.plain]
    assert len(previews) == TRIALS


async def serving(proxy: RoundRobin) -> None:
    """Every replica takes updates at its webhook (a 503 while one starts would be lost: in the background mode
    the proxy already said 200). A body that is not an update is answered 400 once it does, 503 before."""
    async with aiohttp.ClientSession() as client:
        for target in proxy.targets:

            async def taking(url: str = target) -> bool | None:
                try:
                    async with client.post(url, data=b"{}", headers={SECRET_HEADER: WEBHOOK_SECRET}) as answer:
                        return True if answer.status == 400 else None
                except aiohttp.ClientError:
                    return None

            await eventually(taking, timeout=30, what=f"{target} taking updates")


async def _handled(proxy: RoundRobin, start: int) -> bool | None:
    return True if len(proxy.delivered) >= start + 2 else None


async def test_two_quick_messages_of_a_guided_send_on_two_replicas_go_through_in_order(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with replicas(tmp_path, telegram, gateway, pg_url) as pair:
        await serving(pair.proxy)
        await _quick_flows(telegram, pair.proxy, late=0.0)
        await _no_turn_left(pg_url)


async def test_the_later_message_reaching_its_replica_first_still_waits_for_the_earlier_one(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    """The number is held 40 ms on its way, so the text is at the other replica first: it is handled second."""
    async with replicas(tmp_path, telegram, gateway, pg_url) as pair:
        try:
            await _quick_flows(telegram, pair.proxy, late=0.04)
        except BaseException:
            print(pair.output()[-20000:])

            raise
        await _no_turn_left(pg_url)


async def _no_turn_left(url: str) -> None:
    """Every chat lock and announcement was given back (none is left held by a replica that is idle)."""

    async def probe() -> bool | None:
        rows = await pg_rows(
            url,
            "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        return True if rows[0]["n"] == 0 else None

    await eventually(probe, timeout=10, what="no chat turn left held")


async def test_a_frozen_replica_holding_a_chats_turn_does_not_hold_it_past_the_failover_time(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    """A replica stopped (SIGSTOP: hung, its connections still open) in the middle of a press keeps the chat's
    turn only until the database ends its idle session (FAILOVER_SECONDS): the operator's next message, on the
    other replica, is answered then — having had its turn, not by giving up waiting (12 s)."""
    failover = 3.0
    async with replicas(tmp_path, telegram, gateway, pg_url, FAILOVER_SECONDS=str(failover)) as pair:
        await serving(pair.proxy)
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        shown = await preview(admin, "/send +79041764995 Pump 3 pressure low")
        gateway.inject(Fault.SLOW, action="send", delay=30)  # the press's handler waits on the gateway
        first = len(pair.proxy.delivered)
        await admin.press(shown, "✅ Send")
        await gateway.wait_requests(1, timeout=15)
        [(_, frozen, _)] = pair.proxy.delivered[first:]
        pair.bots[frozen].signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            await admin.send("/help")  # round robin: the other replica
            await admin.wait_for(lambda m: "/history" in m.plain, timeout=30)
            waited = time.monotonic() - started
        finally:
            pair.bots[frozen].signal(signal.SIGCONT)
        assert pair.proxy.delivered[-1][1] != frozen
        other = pair.bots[1 - frozen].output
        assert "without its chat's turn" not in other, other[-3000:]
        print(f"answered {waited:.2f} s after the message (FAILOVER_SECONDS={failover:g})")
        assert waited < failover + 3.0


async def test_two_quick_messages_of_a_guided_send_in_one_process_on_sqlite_go_through_in_order(
    tmp_path: Path,
) -> None:
    """One process on SQLite, polling: the number and the text come in one batch of updates. Before the chat's
    turns were kept in memory there, both were handled at once and the text was read as a recipient (10 of 10)."""
    async with Harness(tmp_path) as h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        for trial in range(TRIALS):
            number, text = f"+7904176{trial:04d}", f"Pump {trial} pressure low"
            await admin.send("/send")
            await admin.wait_for(lambda m: "Who gets the SMS" in m.plain, timeout=15)
            await admin.send(number)
            await admin.send(text)
            shown = await admin.wait_for(lambda m, t=text: "Check before sending" in m.plain and t in m.plain)
            assert number[1:] in re.sub(r"\D", "", shown.plain), shown.plain
        assert not [m.plain for m in admin.messages if "not a phone number" in m.plain]
