"""The duplicate guard (issue 17, point 6), end to end over loopback: a preview warns when the same number got an
SMS from anyone on the team in the last DUPLICATE_WINDOW_MINUTES — who, how long ago, its status — and sending
stays possible. Drafts, cancelled and refused sends do not count. The look-up takes a list (the batch preview)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.services import results
from tests.conftest import ADMIN, OPERATOR


async def preview(user: FakeUser, command: str) -> BotMessage:
    await user.send(command)
    return await user.wait_for(lambda m: "Check before sending" in m.plain or "Проверьте перед" in m.plain)


async def sent(user: FakeUser, command: str) -> BotMessage:
    shown = await preview(user, command)
    await user.press(shown, 1)  # ✅ Send, in either language
    return await user.wait_for(lambda m: m.message_id == shown.message_id and "Check before" not in m.plain)


async def team(h: Harness, operator_language: str = "en") -> tuple[FakeUser, FakeUser]:
    alice = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
    olga = h.telegram.user(OPERATOR, first_name="Olga", language_code=operator_language)
    await alice.send(f"/allow {OPERATOR}")
    await alice.next_message()
    await olga.next_message()  # "you now have access"
    return alice, olga


def age(h: Harness, minutes: int) -> None:
    """Every send so far happened `minutes` ago."""
    with sqlite3.connect(h.db_path) as conn:
        for column in ("claimed_at", "sent_at", "created_at"):
            conn.execute(
                f"UPDATE sends SET {column} = {column} - ? WHERE {column} IS NOT NULL",
                (minutes * 60,),
            )


async def test_a_preview_warns_of_a_recent_sms_to_the_same_number_and_still_sends(rig: Harness) -> None:
    alice, olga = await team(rig)
    await sent(olga, "/send +7 904 176-49-95 Server db1 is down")
    await olga.wait_for(
        lambda m: "SMS to +7\u00a0904\u00a0176\u201149\u201195: delivered" in m.plain and not m.edited, timeout=10
    )
    age(rig, 4)
    warned = await preview(alice, "/send 89041764995 db1 down, anyone on it?")
    assert "⚠️ Olga sent an SMS to this number 4 min ago — delivered" in warned.plain
    assert "✅ Send" in warned.button_texts  # sending stays possible
    await alice.press(warned, "✅ Send")
    await alice.wait_for(lambda m: m.message_id == warned.message_id and "Sent to" in m.plain)
    assert len(rig.gateway.sent) == 2

    # Olga now sees Alice's SMS (the latest), how recent, its status, and that there were two.
    again = await preview(olga, "/send 9041764995 Fixed")
    assert "⚠️ Alice sent an SMS to this number" in again.plain
    assert "just now — " in again.plain
    assert "2 SMS to this number in the last 15 min." in again.plain
    # Her own SMS is "You".
    own = await preview(alice, "/send 79041764995 Fixed, really")
    assert "⚠️ You sent an SMS to this number just now" in own.plain


async def test_drafts_cancelled_and_refused_sends_do_not_count_and_the_window_ends(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"duplicate_window_minutes": 5}) as h:
        alice, olga = await team(h)
        draft = await preview(alice, "/send 79161234567 Only a draft")
        assert "⚠️" not in draft.plain
        cancelled = await preview(alice, "/send 79261234567 Cancelled one")
        await alice.press(cancelled, "✖️ Cancel")
        await alice.wait_for(lambda m: m.message_id == cancelled.message_id and "Cancelled" in m.plain)
        await sent(alice, "/send 79000000003 Refused by the gateway")  # error 3: the number got nothing
        for command in ("/send 79161234567 x", "/send 79261234567 y", "/send 79000000003 z"):
            assert "sent an SMS to this number" not in (await preview(olga, command)).plain

        await sent(alice, "/send 79000000031 Still with the carrier")
        age(h, 4)
        inside = await preview(olga, "/send 79000000031 Inside the window")
        assert "Alice sent an SMS to this number 4 min ago — with the carrier, not delivered yet" in inside.plain
        age(h, 2)  # now 6 minutes ago: outside DUPLICATE_WINDOW_MINUTES=5
        outside = await preview(olga, "/send 79000000031 Outside the window")
        assert "sent an SMS to this number" not in outside.plain


async def test_the_warning_in_russian(rig: Harness) -> None:
    alice, olga = await team(rig, operator_language="ru")
    await sent(alice, "/send 79000000051 Диск заполнен")
    await alice.wait_for(lambda m: "rejected by the carrier" in m.plain and not m.edited, timeout=10)
    warned = await preview(olga, "/send 79000000051 Диск заполнен, проверьте")
    assert "⚠️ Alice уже отправлял(а) СМС на этот номер только что — отклонено оператором связи" in (warned.plain)


async def test_the_look_up_takes_several_numbers_for_a_batch_preview(rig: Harness) -> None:
    alice, _ = await team(rig)
    await sent(alice, "/send 79041764995 One")
    await sent(alice, "/send 79161234567 Two")
    await preview(alice, "/send 79261234567 A draft only")
    assert rig.app is not None
    found = await results.recent_sends(rig.app.db, rig.app.settings, ["79041764995", "79161234567", "79261234567"])
    assert sorted(found) == ["79041764995", "79161234567"]
    assert found["79161234567"].row.text == "Two" and found["79161234567"].who == "Alice"
    assert found["79041764995"].count == 1
