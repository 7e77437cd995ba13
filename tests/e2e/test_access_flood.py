"""A flood of strangers (issue 19, finding 4): each admin gets at most one new request message every few
seconds and a digest of the rest; no stranger reaches an admin twice for one request."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from bot.devkit.harness import Harness
from bot.services.access import DIGEST_EVERY

ADMINS = (1001, 1002)
STRANGERS = range(5000, 5020)


async def test_twenty_strangers_at_once_make_two_messages_per_admin(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=ADMINS) as h:
        admins = [h.telegram.user(a, first_name=f"Admin{a}", language_code="en") for a in ADMINS]
        strangers = [h.telegram.user(s, first_name=f"S{s}", language_code="en") for s in STRANGERS]
        await asyncio.gather(*(s.send("hello") for s in strangers))
        await asyncio.gather(*(s.send("hello again") for s in strangers))  # a second message: no second request
        for s in strangers:
            await s.wait_for(lambda m: "Your Telegram id" in m.plain)
        for admin in admins:
            await admin.wait_for(lambda m: "more access requests" in m.plain, timeout=15)
            texts = [m.plain for m in admin.messages]
            # Before the fix: 20 request messages to each admin within a second (assert 20 <= 2 failed).
            assert len(texts) <= 2, texts
            named = [int(i) for t in texts for i in re.findall(r"id (\d{4})", t)]
            assert sorted(named) == list(STRANGERS)  # each stranger exactly once
            assert any(m.button_texts == ["✅ Approve", "🚫 Deny"] for m in admin.messages)


async def test_an_admin_who_decided_gets_the_next_request_at_once(tmp_path: Path) -> None:
    """The digest holds requests back while one waits for a decision; an admin who keeps up (decided the last
    one) is not made to wait DIGEST_EVERY for the next person, who comes with buttons of their own."""
    async with Harness(tmp_path, admin_ids=ADMINS[:1]) as h:
        admin = h.telegram.user(ADMINS[0], first_name="Admin", language_code="en")
        loop = asyncio.get_running_loop()
        for stranger_id in (5100, 5101, 5102):
            stranger = h.telegram.user(stranger_id, first_name=f"S{stranger_id}", language_code="en")
            asked = loop.time()
            await stranger.send("hello")
            request = await admin.wait_for(lambda m, s=stranger_id: f"id {s}" in m.plain, timeout=10)
            assert loop.time() - asked < DIGEST_EVERY - 1, "held for the digest although nothing was undecided"
            assert request.button_texts == ["✅ Approve", "🚫 Deny"]
            await admin.press(request, "✅ Approve")
            await stranger.wait_for(lambda m: "You now have access" in m.plain, timeout=10)
        # Undecided, the next one within DIGEST_EVERY still waits (a flood is still a digest).
        late = h.telegram.user(5103, first_name="S5103", language_code="en")
        undecided = h.telegram.user(5104, first_name="S5104", language_code="en")
        await late.send("hello")
        await admin.wait_for(lambda m: "id 5103" in m.plain, timeout=10)
        asked = loop.time()
        await undecided.send("hello")
        await admin.wait_for(lambda m: "id 5104" in m.plain, timeout=10)
        assert loop.time() - asked > DIGEST_EVERY / 2  # its digest, not a message at once
