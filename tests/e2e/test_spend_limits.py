"""Spend limits (issue 19, finding 1): one operator cannot drain the account; the admins hear of it once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN, OPERATOR

TEN_PARTS = "x" * 1530  # GSM-7: 10 parts of 153


async def allowed_operator(h: Harness) -> tuple[FakeUser, FakeUser]:
    admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = h.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    return admin, operator


async def preview(user: FakeUser, text: str, number: str = "79041764995") -> BotMessage:
    await user.send(f"/send {number} {text}")
    return await user.wait_for(lambda m: "Check before sending" in m.plain)


def limit_notices(admin: FakeUser) -> list[BotMessage]:
    return [m for m in admin.messages if "reached the limit" in m.plain]


async def test_presses_on_many_drafts_at_once_stay_within_the_hourly_limit(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"operator_parts_per_hour": 25}) as h:
        admin, operator = await allowed_operator(h)
        # Three different SMS (another number and text each: a new draft like an open one would replace it).
        previews = [await preview(operator, TEN_PARTS[:-1] + "abc"[i], f"7904176499{i}") for i in range(3)]
        assert all("Over your limit" not in p.plain for p in previews)  # each alone is within the limit
        presses = await asyncio.gather(*(operator.press(p, "✅ Send") for p in previews))
        answers = [await h.telegram.callback_answer(cq, timeout=10) for cq in presses]
        refused = [a for a in answers if a.text and "Over your limit" in a.text]
        # Before the fix all three went out (30 parts); now the third press is refused.
        assert len(h.gateway.sent) == 2
        assert len(refused) == 1 and "20 of 25" in (refused[0].text or "")
        held = await operator.wait_for(lambda m: "Over your limit" in m.plain)
        assert "✅ Send" not in held.button_texts
        await admin.wait_for(lambda m: "reached the limit of 25 SMS parts an hour" in m.plain)

        # A new preview over the limit says so and has no Send; the admins are not told a second time.
        over = await preview(operator, "x" * 900)  # 6 parts: 20 + 6 > 25
        assert "Over your limit: 20 of 25" in over.plain and "✅ Send" not in over.button_texts
        forged = await operator.press_data(over.message_id, f"snd:go:{await draft_id(h)}")
        assert "Over your limit" in ((await h.telegram.callback_answer(forged)).text or "")
        assert len(h.gateway.sent) == 2
        await admin.send("/balance")  # a round trip, so a second notice would have arrived before it
        await admin.wait_for(lambda m: "Balance" in m.plain)
        assert len(limit_notices(admin)) == 1

        # Within the limit, a send goes out as always.
        small = await preview(operator, "x" * 700)  # 5 parts: 20 + 5 = 25
        await operator.press(small, "✅ Send")
        await operator.wait_for(lambda m: m.message_id == small.message_id and "Sent to" in m.plain)
        assert len(h.gateway.sent) == 3


async def draft_id(h: Harness) -> int:
    assert h.app is not None
    return int(await h.app.db.sends._store.scalar("SELECT MAX(id) FROM sends"))


async def test_the_daily_limit_counts_across_hours_and_a_failed_send_costs_nothing(tmp_path: Path) -> None:
    overrides = {"operator_parts_per_hour": None, "operator_parts_per_day": 10}
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=overrides) as h:
        admin, operator = await allowed_operator(h)
        first = await preview(operator, TEN_PARTS)
        await operator.press(first, "✅ Send")
        await operator.wait_for(lambda m: m.message_id == first.message_id and "Sent to" in m.plain)
        # Age the first send by three hours: outside an hourly window, inside the daily one.
        assert h.app is not None
        for row in await h.app.db.sends._store.rows("SELECT id, claimed_at FROM sends WHERE claimed_at IS NOT NULL"):
            aged = int(row["claimed_at"]) - 3 * 3600
            await h.app.db.sends._store.rows("UPDATE sends SET claimed_at = ? WHERE id = ?", (aged, row["id"]))
        over = await preview(operator, "short")
        assert "in the last 24 hours" in over.plain and "✅ Send" not in over.button_texts
        await admin.wait_for(lambda m: "10 SMS parts a day" in m.plain)
