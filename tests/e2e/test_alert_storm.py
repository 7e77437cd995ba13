"""An alert storm is bounded (issue 24 row 8), end to end over loopback: 600 distinct group keys POSTed to the
bot's /alerts in about a second and a half. Each operator gets the first few groups as messages of their own and
then one digest message, kept current by edits — not one message per group — and a send's line in the team feed
does not wait behind the alerts. The figures (messages per chat, the feed line's delay) are printed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from bot.devkit.telegram import BotMessage
from bot.middlewares.telegram import tls_context
from bot.services.alerts import STORM_POSTS
from tests.e2e.test_alerts_in import TEAM, alert_rig, firing, people
from tests.support.alert_payloads import TOKEN, alert, alertmanager

KEYS = 600
IVAN = "176\u201149\u201195"  # how the feed line shows +7 904 176-49-95


def digest(text: str) -> bool:
    return "more alert groups firing" in text or "Ещё тревог" in text or "потоку тревог" in text


def alert_text(text: str) -> bool:
    return firing(text) or digest(text) or "RESOLVED" in text or "ОТБОЙ" in text


async def test_600_groups_are_a_digest_per_operator_and_the_feed_line_does_not_wait(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, oleg = await people(h)
        team = h.telegram.group(TEAM)
        loop = asyncio.get_running_loop()

        async def storm(status: str = "firing") -> float:
            started = loop.time()
            gate = asyncio.Semaphore(8)
            async with httpx.AsyncClient(
                timeout=30, verify=tls_context(), headers={"Authorization": f"Bearer {TOKEN}"}
            ) as client:

                async def one(i: int) -> None:
                    body = alertmanager([alert(f"Storm{i}", instance=f"node{i}", status=status)], name=f"Storm{i}")
                    async with gate:
                        answer = await client.post(f"{h.http_url}/alerts", json=body)
                    assert answer.status_code == 200

                await asyncio.gather(*(one(i) for i in range(KEYS)))
            return loop.time() - started

        posting = asyncio.create_task(storm())
        # During the storm Alice sends an SMS; its feed line is timed from her Send press.
        await admin.wait_for(lambda m: firing(m.plain), timeout=20)
        await admin.send("/send +7 904 176-49-95 Server db1 is down")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=20)
        pressed = loop.time()
        await admin.press(preview, "✅ Send")
        await team.wait_for(lambda m: IVAN in m.plain, timeout=30)
        feed_delay = loop.time() - pressed
        took = await posting

        # The storm settles: every chat's digest lists all but the groups posted on their own.
        listed = KEYS - STORM_POSTS

        def settled(m: BotMessage) -> bool:
            return digest(m.plain) and (f" {listed} more alert groups" in m.plain or f"Ещё тревог: {listed}" in m.plain)

        shown = {}
        for chat in (admin, oleg, team):
            shown[chat.chat_id] = await chat.wait_for(settled, timeout=60)
        await h.telegram.wait_idle(quiet=1.0, timeout=30)

        def calls(method: str, chat_id: int) -> list[Any]:
            return [
                c
                for c in h.telegram.calls
                if c.method == method and c.params.get("chat_id") == chat_id and alert_text(str(c.params.get("text")))
            ]

        figures = {
            name: (len(calls("sendMessage", chat_id)), len(calls("editMessageText", chat_id)))
            for name, chat_id in (("Alice", admin.chat_id), ("Oleg", oleg.chat_id), ("team", TEAM))
        }
        print(
            f"\nstorm: {KEYS} group keys POSTed in {took:.1f} s; messages (posted, edits) per chat: {figures}; "
            f"a send's feed line {feed_delay:.1f} s after its Send press"
        )
        for posted, edits in figures.values():
            assert posted <= STORM_POSTS + 1  # the first few on their own, then one digest
            assert edits <= 40  # the digest is edited at the queue's pace, not once per group
        assert feed_delay < 10
        for message in shown.values():
            assert len(message.text) < 2000 and ("… and" in message.plain or "… и ещё" in message.plain)
        assert "Storm599" not in shown[admin.chat_id].plain or "Storm0" not in shown[admin.chat_id].plain
        assert [s.msisdn for s in h.gateway.sent] == ["79041764995"]

        # The storm resolves: the digest says so by an edit, and nobody gets 600 more messages.
        await storm("resolved")
        over = shown[admin.chat_id].message_id
        await admin.wait_for(lambda m: m.message_id == over and "every alert group of the burst" in m.plain, 60)
        assert len(calls("sendMessage", admin.chat_id)) == figures["Alice"][0]
