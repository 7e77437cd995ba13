"""One decision per access request (issue 19, finding 5): Approve and Deny at the same moment leave one outcome;
the later press is told who decided first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.devkit.harness import Harness
from tests.support.engines import select

ADMINS = (1001, 1002)
STRANGER = 3003


async def test_approve_and_deny_at_the_same_moment_decide_once(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=ADMINS) as h:
        alice = h.telegram.user(1001, first_name="Alice", language_code="en")
        bob = h.telegram.user(1002, first_name="Bob", language_code="en")
        for admin in (alice, bob):
            await admin.send("/help")  # the admins' names are known
            await admin.next_message()
        stranger = h.telegram.user(STRANGER, first_name="Sam", language_code="en")
        await stranger.send("hi")
        await stranger.next_message()
        a_copy = await alice.wait_for(lambda m: "Access request" in m.plain)
        b_copy = await bob.wait_for(lambda m: "Access request" in m.plain)
        presses = await asyncio.gather(alice.press(a_copy, "✅ Approve"), bob.press(b_copy, "🚫 Deny"))
        answers = [(await h.telegram.callback_answer(cq)).text or "" for cq in presses]
        # Before the fix neither press was told anything ("Already decided by" in no answer) and both copies
        # could say "allowed" while the person stayed inactive, or the request "denied" with the person active.
        later = [a for a in answers if a.startswith("Already decided by")]
        assert len(later) == 1, answers
        [(status, decided_by)] = [
            tuple(r.values()) for r in select(h, "SELECT status, decided_by FROM access_requests")
        ]
        active = tuple(select(h, "SELECT active FROM operators WHERE user_id = ?", (STRANGER,))[0].values())
        assert (status == "approved") == (active == (1,))
        winner = "Alice" if decided_by == 1001 else "Bob"
        assert later[0] == f"Already decided by {winner}: {'allowed' if status == 'approved' else 'denied'}."
        word = "given access" if status == "approved" else "refused access"  # the copies' words (issue 15)
        for admin, copy in ((alice, a_copy), (bob, b_copy)):
            shown = await admin.wait_for(lambda m, c=copy: m.message_id == c.message_id and "by" in m.plain)
            assert f"was {word} by {winner}" in shown.plain
