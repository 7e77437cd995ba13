"""The team feed (issue 18, TEAM_CHAT_ID): one line per send in the team's group, edited with its result; no
buttons, nothing sent from there, other groups left; within a group's limits; the lines survive a restart."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeGroup, FakeUser
from tests.conftest import ADMIN, OPERATOR

TEAM = -1009876543210


def team_rig(tmp_path: Path, **overrides: Any) -> Harness:
    h = Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"team_chat_id": TEAM, **overrides})
    return h


def team(h: Harness) -> FakeGroup:
    return h.telegram.group(TEAM, "On-call team")


async def send_sms(user: FakeUser, number: str, text: str) -> BotMessage:
    await user.send(f"/send {number} {text}")
    preview = await user.wait_for(lambda m: "Check before sending" in m.plain and text[:10] in m.plain)
    await user.press(preview, "✅ Send")
    return await user.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=10)


async def test_one_line_per_send_edited_with_its_result_and_no_buttons_no_text(tmp_path: Path) -> None:
    h = team_rig(tmp_path)
    team(h)  # the bot is a member of the team chat
    async with h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await send_sms(admin, "+7 904 176-49-95", "Server db1 is down")
        line = await team(h).next_message(timeout=10)
        assert "Alice → +7\u00a0904\u00a0176\u201149\u201195 · 1 SMS" in line.plain
        assert "sent, not delivered yet" in line.plain or "delivered" in line.plain
        assert "db1" not in line.plain  # the text only with TEAM_FEED_TEXT=true
        delivered = await team(h).wait_for(lambda m: "✅ delivered" in m.plain, timeout=15)
        assert delivered.message_id == line.message_id  # edited, not a second line
        assert all(not m.buttons for m in team(h).messages)
        assert len(team(h).messages) == 1


async def test_the_text_with_team_feed_text_and_a_failed_send_says_so(tmp_path: Path) -> None:
    h = team_rig(tmp_path, team_feed_text=True)
    team(h)
    async with h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await send_sms(admin, "79041764995", "Disk full on db2")
        line = await team(h).wait_for(lambda m: "delivered" in m.plain, timeout=15)
        assert "“Disk full on db2”" in line.plain
        await admin.send("/send 79000000005 Second try")  # the sandbox refuses it: not enough money
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain and "Second" in m.plain)
        await admin.press(preview, "✅ Send")
        failed = await team(h).wait_for(lambda m: "not sent" in m.plain, timeout=10)
        assert "+7\u00a0900\u00a0000\u201100\u201105" in failed.plain and failed.message_id != line.message_id


async def test_lines_survive_a_restart_and_are_edited_in_place(tmp_path: Path) -> None:
    h = Harness(tmp_path, admin_ids=(ADMIN,), delivery_delay=3.0, settings_overrides={"team_chat_id": TEAM})
    team(h)
    async with h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await send_sms(admin, "79041764995", "Restart me")
        line = await team(h).wait_for(lambda m: "not delivered yet" in m.plain, timeout=10)
        await h.restart()  # before the delivery: the new process edits the same line
        delivered = await team(h).wait_for(lambda m: "✅ delivered" in m.plain, timeout=20)
        assert delivered.message_id == line.message_id
        assert len([m for m in team(h).messages if not m.deleted]) == 1


async def test_nothing_can_be_sent_or_pressed_from_the_team_chat_and_other_groups_are_left(tmp_path: Path) -> None:
    h = team_rig(tmp_path)
    group = team(h)
    async with h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await group.add_bot(admin, status="administrator")  # the team chat: the bot stays
        other = h.telegram.group(-1001111111111, "Random chat")
        await other.add_bot(admin)  # any other group: the bot leaves it
        await admin.send("/send 79041764995 from the team chat", chat=group)
        await admin.send("/balance", chat=group)
        forged = await admin.press_data(1, "snd:go:1", chat=group)
        answer = await h.telegram.callback_answer(forged)
        assert "private" in (answer.text or "")
        await admin.send("/help")  # a round trip: anything the group messages caused is in by now
        await admin.next_message()
        await h.telegram.wait_idle()
        assert [c.params["chat_id"] for c in h.telegram.calls_to("leaveChat")] == [other.chat_id]
        assert other.state.bot_status == "left" and group.state.bot_status == "administrator"
        assert group.messages == [] and other.messages == []
        assert h.gateway.sent == []


async def test_a_burst_of_results_stays_within_a_groups_limits(tmp_path: Path) -> None:
    h = team_rig(tmp_path)
    team(h)
    async with h:
        assert h.app is not None
        h.app.queue.group_per_minute = 4  # the group limit (20 a minute) made small enough to reach in a test
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        operator = h.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
        await admin.send(f"/allow {OPERATOR}")
        await admin.next_message()
        for i in range(3):
            await asyncio.gather(
                send_sms(admin, f"7904176490{i}", f"Alice burst {i}"), send_sms(operator, f"7904176491{i}", f"Oleg {i}")
            )
        await h.telegram.wait_idle(quiet=1.0, timeout=20)
        calls = [c for c in h.telegram.calls if c.params.get("chat_id") == TEAM]
        assert len(calls) == 4  # six lines owed, four posted in this minute; the rest wait their turn
        assert h.app.queue.depth(TEAM) >= 1
        edits: dict[int, list[float]] = {}
        for call in h.telegram.calls_to("editMessageText", chat_id=TEAM):
            edits.setdefault(int(call.params["message_id"]), []).append(call.time)
        for times in edits.values():  # a line is edited at most once per few seconds
            assert all(b - a >= 2.9 for a, b in itertools.pairwise(times))


async def test_a_batch_is_one_line_with_its_tally(tmp_path: Path) -> None:
    """A send to several recipients is one line in the team chat, edited to its tally; no line per recipient."""
    h = team_rig(tmp_path)
    team(h)
    async with h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await admin.send("/send 79041764995, 79000000051 Batch")  # the sandbox rejects the second
        preview = await admin.wait_for(lambda m: "✅ Send to 2" in m.button_texts)
        await admin.press(preview, "✅ Send to 2")
        line = await team(h).wait_for(lambda m: "2 recipients" in m.plain and "1 rejected" in m.plain, timeout=15)
        assert "Alice → 2 recipients — ✅ 1 delivered, ❌ 1 rejected" in line.plain and not line.buttons
        assert len(team(h).messages) == 1, [m.plain for m in team(h).messages]
