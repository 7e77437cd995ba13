"""A flood of strangers (issue 19, finding 4): each admin gets at most one new request message every few
seconds and a digest of the rest; no stranger reaches an admin twice for one request."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from bot.devkit.harness import Harness

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
