"""What an operator can do next with a result (issue 23, points 9 and 10), end to end over loopback.

Unknown outcomes have a usable next step: the notice says plainly "If it is urgent, send again: at worst they get
it twice"; 🔍 without an id says what helps instead of "no id"; /status of an unknown SMS has 📨 Send again; a
batch summary names its unknown recipients with their ids and gives them their own button. Failure notices
offer what can help: code 6 offers 👤 Other recipient, code 5 says a retry will not help (no 🔁), and
👤 Other recipient never offers the numbers that just failed as one-tap picks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN

GOOD, LOST, NEVER_FINAL = "79041764995", "79000000099", "79000000031"
FAILS, NO_MONEY, INVALID = "79000000003", "79000000005", "79000000006"
URGENT = "If it is urgent, send again: at worst they get it twice."
SHORT_TRACKING = {"delivery_track_hours": 0.0005}  # 1.8 s: NEVER_FINAL becomes unknown, with its id


def shown(msisdn: str) -> str:
    """A number as the bot shows it (no-break spaces and hyphens)."""
    return f"+7\u00a0{msisdn[1:4]}\u00a0{msisdn[4:7]}\u2011{msisdn[7:9]}\u2011{msisdn[9:]}"


async def sent(user: FakeUser, number: str, text: str) -> BotMessage:
    """/send, then Send; the pressed preview once it shows the outcome."""
    await user.send(f"/send {number} {text}")
    preview = await user.wait_for(lambda m: "Check before sending" in m.plain and text in m.plain)
    await user.press(preview, "✅ Send")
    return await user.wait_for(lambda m: m.message_id == preview.message_id and "Check before" not in m.plain)


def sends(h: Harness) -> int:
    return sum(1 for r in h.gateway.requests if r.action == "send")


async def test_an_unknown_outcome_says_send_again_if_urgent_everywhere(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    outcome = await sent(alex, LOST, "Router core1 rebooted")
    assert URGENT in outcome.plain and "📨 Send again" in outcome.button_texts

    # 🔍 with no id to ask about: what helps, not "no id".
    await alex.press(outcome, "🔍 Check status")
    report = await alex.wait_for(lambda m: m.plain.startswith("🔍"))
    assert "no id" not in report.plain.lower() and "nothing to ask" not in report.plain
    assert URGENT in report.plain and "8 800 100-60-03" in report.plain
    assert report.button_texts == ["📨 Send again"]

    # /status of it: the same next step, and its button.
    await alex.send("/status")
    status = await alex.wait_for(lambda m: "Router core1 rebooted" in m.plain and "🔄 Refresh" in m.button_texts)
    assert URGENT in status.plain and "📨 Send again" in status.button_texts
    await alex.press(status, "📨 Send again")
    fresh = await alex.wait_for(lambda m: "Check before sending" in m.plain and "may have gone out" in m.plain)
    assert "Router core1 rebooted" in fresh.plain
    assert sends(rig) == 1  # nothing left without a Send press


async def test_a_summary_names_its_unknown_recipients_with_ids_and_gives_them_a_button(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=SHORT_TRACKING) as h:
        alex = h.telegram.user(ADMIN, first_name="Alex", language_code="en")
        await alex.send(f"/send {GOOD}, {LOST}, {NEVER_FINAL} Disk full on web2")
        preview = await alex.wait_for(lambda m: "Check before sending" in m.plain)
        await alex.press(preview, "✅ Send to 3")
        summary = await alex.wait_for(
            lambda m: m.message_id == preview.message_id and "Unknown" in m.plain and "All final" in m.plain,
            timeout=20,
        )
        with sqlite3.connect(h.db_path) as conn:
            gateway_id = conn.execute("SELECT gateway_id FROM sends WHERE msisdn = ?", (NEVER_FINAL,)).fetchone()[0]
        line = next(x for x in summary.plain.splitlines() if "Unknown" in x)
        assert "Unknown, may have gone out: 2" in line and "check /status" not in line
        assert shown(LOST) in line and f"{shown(NEVER_FINAL)} (id {gateway_id})" in line
        assert URGENT in summary.plain
        assert "📨 Resend to unknown (2)" in summary.button_texts

        cq = await alex.press(summary, "📨 Resend to unknown (2)")
        assert "at worst they get it twice" in ((await h.telegram.callback_answer(cq, timeout=10)).text or "")
        again = await alex.wait_for(lambda m: "Check before sending: 2 recipients" in m.plain)
        assert shown(LOST) in again.plain and shown(NEVER_FINAL) in again.plain and shown(GOOD) not in again.plain
        assert "already sent SMS to" in again.plain  # warned: they may get it twice
        assert sends(h) == 3


async def test_failure_notices_offer_what_can_help(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    await sent(alex, GOOD, "Warm-up")  # a good recent recipient: the one-tap picks are not empty
    no_money = await sent(alex, NO_MONEY, "Disk full on web2")
    assert "will not help until" in no_money.plain and no_money.button_texts == []

    await sent(alex, FAILS, "Disk full on web2")
    invalid = await sent(alex, INVALID, "Disk full on web2")
    assert invalid.button_texts == ["👤 Other recipient", "🔁 Try again"]
    await alex.press(invalid, "👤 Other recipient")
    question = await alex.wait_for(lambda m: "Another recipient for" in m.plain)
    picks = " ".join(question.button_texts)
    assert shown(GOOD) in picks  # picks are offered ...
    for failed in (INVALID, FAILS, NO_MONEY):  # ... but never a number that just failed
        assert shown(failed) not in picks
    await alex.press(question, f"📱 {shown(GOOD)}")
    other = await alex.wait_for(lambda m: "Check before sending" in m.plain and shown(GOOD) in m.plain)
    assert "Disk full on web2" in other.plain
    assert sends(rig) == 4
