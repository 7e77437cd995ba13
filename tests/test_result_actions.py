"""Acting on a single send's result (issue 17, point 4), end to end over loopback: 🔁 Try again, 📨 Send again,
👤 Other recipient and 🔍 Check status on the notices of real sends to the sandbox's magic numbers. Every button
opens a new preview (or asks), sends nothing by itself, and is refused to a stranger, to another operator and to
a revoked one, in words."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN, OPERATOR, STRANGER

FAILS = "79000000003"  # the sandbox answers the send with error 3
REJECTED = "79000000051"  # accepted, then rejected
LOST = "79000000099"  # accepted, but the answer to the send is lost: unknown


async def team(h: Harness) -> tuple[FakeUser, FakeUser]:
    """Alice (admin, also an operator) and Oleg (an operator she allowed)."""
    admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = h.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    return admin, operator


async def send(user: FakeUser, number: str, text: str) -> BotMessage:
    """/send, then Send on its preview; returns the pressed preview once it shows the outcome."""
    await user.send(f"/send {number} {text}")
    preview = await user.wait_for(lambda m: "Check before sending" in m.plain)
    await user.press(preview, "✅ Send")
    return await user.wait_for(lambda m: m.message_id == preview.message_id and "Check before" not in m.plain)


def send_requests(h: Harness) -> int:
    return sum(1 for r in h.gateway.requests if r.action == "send")


def query_requests(h: Harness) -> int:
    return sum(1 for r in h.gateway.requests if r.action == "query")


def previews(user: FakeUser) -> list[BotMessage]:
    return [m for m in user.messages if "Check before sending" in m.plain]


def data_of(message: BotMessage, label: str) -> str:
    return next(b.data for row in message.buttons for b in row if b.text == label)


async def answer_to(h: Harness, user: FakeUser, data: str, message_id: int = 999_999) -> str:
    """A press with `data` from `user` (forged when the button is not theirs): the answer's text."""
    cq = await user.press_data(message_id, data)
    return (await h.telegram.callback_answer(cq, timeout=10)).text or ""


async def round_trip(user: FakeUser) -> None:
    """/help and its answer: whatever a press before it was going to send has arrived by then."""
    await user.send("/help")
    await user.wait_for(lambda m: "/send" in m.plain and "Check before" not in m.plain)


async def refused_everywhere(h: Harness, admin: FakeUser, data: str) -> None:
    """A stranger and another operator press `data` (real callback data of Oleg's notice): answered in words,
    nothing opened, nothing asked of the gateway."""
    stranger = h.telegram.user(STRANGER, first_name="Sam", language_code="en")
    sends, queries, admin_previews = send_requests(h), query_requests(h), len(previews(admin))
    assert "No access" in await answer_to(h, stranger, data)
    # On a real message of the bot in Alice's own chat, so that only the send's owner check can refuse it.
    assert "no longer valid" in await answer_to(h, admin, data, admin.messages[-1].message_id)
    await round_trip(admin)
    assert len(previews(admin)) == admin_previews and previews(stranger) == []
    assert (send_requests(h), query_requests(h)) == (sends, queries)
    assert all("Other recipient" not in m.plain and "Another recipient" not in m.plain for m in admin.messages)


async def test_try_again_after_a_gateway_error_opens_a_new_preview(rig: Harness) -> None:
    admin, oleg = await team(rig)
    outcome = await send(oleg, FAILS, "Server db1 is down")
    assert "Nothing was sent" in outcome.plain and outcome.button_texts == ["🔁 Try again"]
    data = data_of(outcome, "🔁 Try again")
    await refused_everywhere(rig, admin, data)

    await oleg.press(outcome, "🔁 Try again")
    fresh = await oleg.wait_for(lambda m: "Check before sending" in m.plain and m.message_id != outcome.message_id)
    assert "+7\u00a0900\u00a0000\u201100\u201103" in fresh.plain and "Server db1 is down" in fresh.plain
    assert "✅ Send" in fresh.button_texts
    assert send_requests(rig) == 1  # the button sent nothing
    # A double press opens another fresh preview (it replaces the older one: same number and text), never a send.
    await oleg.press(outcome, "🔁 Try again")
    again = await oleg.wait_for(lambda m: "Check before sending" in m.plain and m.message_id != fresh.message_id)
    await oleg.wait_for(lambda m: m.message_id == fresh.message_id and "Replaced" in m.plain)
    assert send_requests(rig) == 1
    # Only the new preview's Send press sends: once.
    await oleg.press(again, "✅ Send")
    await oleg.wait_for(lambda m: m.message_id == again.message_id and "Nothing was sent" in m.plain)
    assert send_requests(rig) == 2


async def test_send_again_and_other_recipient_after_a_rejection(rig: Harness) -> None:
    admin, oleg = await team(rig)
    pressed = await send(oleg, REJECTED, "Disk full on web2")
    notice = await oleg.wait_for(lambda m: "rejected by the carrier" in m.plain and not m.edited)  # the ringing one
    assert notice.button_texts == ["📨 Send again", "👤 Other recipient"]
    edited = rig.telegram.message(oleg.chat_id, pressed.message_id)  # "Sent to", edited into the result
    assert "rejected by the carrier" in edited.plain and edited.button_texts == notice.button_texts
    for label in ("📨 Send again", "👤 Other recipient"):
        await refused_everywhere(rig, admin, data_of(notice, label))

    await oleg.press(notice, "📨 Send again")
    fresh = await oleg.wait_for(
        lambda m: "Check before sending" in m.plain and "+7\u00a0900\u00a0000\u201100\u201151" in m.plain
    )
    assert "Disk full on web2" in fresh.plain
    assert "⚠️" not in fresh.plain  # it was certainly not delivered: nothing to warn of (the first is excluded)
    assert len(rig.gateway.sent) == 1

    await oleg.press(notice, "👤 Other recipient")
    question = await oleg.wait_for(lambda m: "Another recipient for" in m.plain and "Who gets the SMS" in m.plain)
    assert "Disk full on web2" in question.plain
    assert not any("000\u201100\u201151" in b for b in question.button_texts)  # not the number that rejected it
    await oleg.send("bogus")  # neither a number nor a name: refused with how to add it, the step and the text stay
    refused = (await oleg.next_message()).plain
    assert "No contact or group named “bogus”" in refused and "Disk full on web2" in refused
    await oleg.send("+7 904 176-49-95")
    other = await oleg.wait_for(
        lambda m: "Check before sending" in m.plain and "+7\u00a0904\u00a0176\u201149\u201195" in m.plain
    )
    assert "Disk full on web2" in other.plain
    assert len(rig.gateway.sent) == 1
    await oleg.press(other, "✅ Send")
    await oleg.wait_for(lambda m: m.message_id == other.message_id and "Sent to" in m.plain)
    assert [(s.msisdn, s.text) for s in rig.gateway.sent[1:]] == [("79041764995", "Disk full on web2")]


async def test_an_unknown_outcome_offers_check_status_and_a_warned_send_again(rig: Harness) -> None:
    admin, oleg = await team(rig)
    outcome = await send(oleg, LOST, "Router core1 rebooted")
    assert "may or may not have gone out" in outcome.plain
    assert outcome.button_texts == ["🔍 Check status", "📨 Send again"]
    for label in outcome.button_texts:
        await refused_everywhere(rig, admin, data_of(outcome, label))

    queries = query_requests(rig)
    await oleg.press(outcome, "🔍 Check status")
    report = await oleg.wait_for(lambda m: "the gateway never answered it" in m.plain)
    assert "+7\u00a0900\u00a0000\u201100\u201199" in report.plain and "Router core1 rebooted" in report.plain
    assert query_requests(rig) == queries  # no id: nothing to ask the gateway

    for _ in range(2):  # pressed twice: two fresh previews, each warned, nothing sent
        await oleg.press(outcome, "📨 Send again")
        fresh = await oleg.wait_for(lambda m: "Check before sending" in m.plain and "may have gone out" in m.plain)
    assert send_requests(rig) == 1
    # Another sender: the preview is shown again, and the warning stays.
    await oleg.press(fresh, "✉️ Sender: OnCall")
    choosing = await oleg.wait_for(lambda m: m.message_id == fresh.message_id and "Backup" in m.button_texts)
    await oleg.press(choosing, "Backup")
    await oleg.wait_for(lambda m: m.message_id == fresh.message_id and "Sender: Backup" in m.plain)
    assert "may have gone out" in rig.telegram.message(oleg.chat_id, fresh.message_id).plain
    assert send_requests(rig) == 1


async def test_a_revoked_operator_cannot_use_the_buttons_of_their_sends(rig: Harness) -> None:
    admin, oleg = await team(rig)
    outcome = await send(oleg, FAILS, "Server db1 is down")
    data = data_of(outcome, "🔁 Try again")
    await admin.send(f"/deny {OPERATOR}")
    await admin.wait_for(lambda m: "no longer has access" in m.plain)
    assert "taken away your access" in await answer_to(rig, oleg, data, outcome.message_id)
    await oleg.send("/help")  # a round trip: answered in words too
    assert "taken away your access" in (await oleg.wait_for(lambda m: "/help" not in m.plain, timeout=10)).plain
    assert previews(oleg) == [] and send_requests(rig) == 1


async def test_a_button_for_an_unknown_send_or_the_wrong_state_is_answered(rig: Harness) -> None:
    _, oleg = await team(rig)
    outcome = await send(oleg, REJECTED, "Disk full on web2")
    assert outcome.button_texts == []  # accepted: no buttons until its result is known
    await oleg.wait_for(lambda m: "rejected by the carrier" in m.plain and not m.edited)
    for data in ("rs:again:424242", "rs:retry:1", "rs:nope:1", "rs:again:99999999999999999999"):
        assert "no longer valid" in await answer_to(rig, oleg, data)
    assert len(rig.gateway.sent) == 1


async def test_no_final_status_within_the_tracking_window_offers_check_status_with_its_id(tmp_path: Path) -> None:
    overrides = {"delivery_track_hours": 0.0005}  # 1.8 s
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=overrides) as h:
        alice = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await send(alice, "79000000031", "Never final")
        notice = await alice.wait_for(lambda m: "No final status" in m.plain and not m.edited, timeout=10)
        assert notice.button_texts == ["🔍 Check status", "📨 Send again"]
        queries = query_requests(h)
        await alice.press(notice, "🔍 Check status")
        report = await alice.wait_for(lambda m: m.plain.startswith("🔍 SMS"))
        assert "not delivered yet" in report.plain and query_requests(h) == queries + 1  # its id was asked about
        await alice.press(notice, "📨 Send again")
        await alice.wait_for(lambda m: "Check before sending" in m.plain and "may have gone out" in m.plain)
        assert len(h.gateway.sent) == 1


async def test_a_send_a_restart_cut_short_is_told_with_its_buttons(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,)) as h:
        alice = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await alice.send("/send 79041764995 Cut short")
        await alice.wait_for(lambda m: "Check before sending" in m.plain)
        await h.stop_bot()
        with sqlite3.connect(h.db_path) as conn:  # as a crash leaves a press whose gateway call was under way
            conn.execute("UPDATE sends SET state = 'sending', claimed_at = updated_at")
        await h.start_bot()
        told = await alice.wait_for(lambda m: "restarted while sending" in m.plain and not m.edited, timeout=10)
        assert told.button_texts == ["🔍 Check status", "📨 Send again"]
        await alice.press(told, "📨 Send again")
        fresh = await alice.wait_for(lambda m: "Check before sending" in m.plain and "may have gone out" in m.plain)
        assert "Cut short" in fresh.plain and h.gateway.sent == []
