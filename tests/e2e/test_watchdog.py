"""The watchdog (issue 17, point 5), end to end over loopback: an accepted SMS still not final
DELIVERY_ALERT_MINUTES after it was accepted gets ONE ringing notice (a new message) with 🔍 Check now and
📨 Send again; tracking goes on; once per SMS, also across restarts. Short settings: 0.02 min = 1.2 s."""

from __future__ import annotations

from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.times import now
from tests.conftest import ADMIN, OPERATOR, STRANGER
from tests.support.engines import execute, select

NEVER_FINAL = "79000000031"  # the sandbox keeps it 3|ACCEPTD forever
FAST = {"delivery_alert_minutes": 0.02}  # 1.2 s


async def sent(user: FakeUser, text: str, number: str = NEVER_FINAL) -> BotMessage:
    await user.send(f"/send {number} {text}")
    preview = await user.wait_for(lambda m: "Check before sending" in m.plain and text in m.plain)
    await user.press(preview, "✅ Send")
    return await user.wait_for(lambda m: m.message_id == preview.message_id and "Check before" not in m.plain)


def alarm(text: str) -> object:
    return lambda m: "Not delivered after" in m.plain and text in m.plain


def alarms(user: FakeUser, text: str) -> list[BotMessage]:
    return [m for m in user.messages if "Not delivered after" in m.plain and text in m.plain]


def gateway_id(h: Harness, text: str) -> str:
    return str(select(h, "SELECT gateway_id FROM sends WHERE text = ?", (text,))[0]["gateway_id"])


async def test_one_ringing_notice_with_its_buttons_and_tracking_goes_on(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=FAST) as h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        oleg = h.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
        await admin.send(f"/allow {OPERATOR}")
        await admin.next_message()
        pressed = await sent(oleg, "Backup job failed")
        notice = await oleg.wait_for(alarm("Backup job failed"), timeout=10)
        assert not notice.edited and notice.reply_to == pressed.message_id  # a new message: the phone rings
        assert "Not delivered after 1.2 s" in notice.plain and "+7\u00a0900\u00a0000\u201100\u201131" in notice.plain
        assert notice.button_texts == ["🔍 Check now", "📨 Send again"]
        assert "Sent to" in h.telegram.message(oleg.chat_id, pressed.message_id).plain  # that one is not edited

        # Someone else's press of its buttons: answered in words, nothing asked of the gateway.
        stranger = h.telegram.user(STRANGER, first_name="Sam", language_code="en")
        queries = sum(1 for r in h.gateway.requests if r.action == "query")
        for button in notice.buttons[0] + notice.buttons[1]:
            for who, words in ((stranger, "No access"), (admin, "no longer valid")):
                cq = await who.press_data(who.messages[-1].message_id if who.messages else 999, button.data)
                assert words in ((await h.telegram.callback_answer(cq, timeout=10)).text or "")

        await oleg.press(notice, "🔍 Check now")
        report = await oleg.wait_for(lambda m: m.plain.startswith("🔍 SMS"))
        assert "not delivered yet" in report.plain and "Backup job failed" in report.plain
        assert sum(1 for r in h.gateway.requests if r.action == "query") > queries  # it asked the gateway
        await oleg.press(notice, "📨 Send again")
        fresh = await oleg.wait_for(lambda m: "Check before sending" in m.plain and "may still arrive" in m.plain)
        assert "Backup job failed" in fresh.plain
        assert len(h.gateway.sent) == 1  # nothing left without a Send press

        # Tracking goes on: a final status later gets its usual notice.
        h.gateway.force_status(gateway_id(h, "Backup job failed"), 4, "DELIVRD")
        await oleg.wait_for(lambda m: "SMS to +7\u00a0900\u00a0000\u201100\u201131: delivered" in m.plain, timeout=10)
        # Once: a second SMS, accepted later, gets its own notice; by then the first was looked at again.
        await sent(oleg, "Second alarm")
        await oleg.wait_for(alarm("Second alarm"), timeout=10)
        assert len(alarms(oleg, "Backup job failed")) == 1
        assert admin.messages and not alarms(admin, "Backup job failed")


async def test_once_per_sms_across_restarts(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=FAST) as h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await sent(admin, "Before the restart")
        await admin.wait_for(alarm("Before the restart"), timeout=10)
        await h.restart()
        await sent(admin, "After the restart")
        await admin.wait_for(alarm("After the restart"), timeout=10)
        assert len(alarms(admin, "Before the restart")) == 1


async def test_an_sms_that_became_due_while_the_bot_was_down_is_told_at_start_once(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"delivery_alert_minutes": 30}) as h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await sent(admin, "While it was down")
        await sent(admin, "Decided, then a crash", number="79000000032")  # delivered by the sandbox
        await admin.wait_for(lambda m: "SMS to +7\u00a0900\u00a0000\u201100\u201132: delivered" in m.plain, timeout=10)
        await sent(admin, "Owed from before")
        await h.stop_bot()
        # The first was accepted 40 minutes ago (the bot was down meanwhile).
        ago = now() - 40 * 60
        execute(h, "UPDATE sends SET sent_at = ? WHERE text = ?", [(ago, "While it was down")])
        # A notice decided before a crash that never went out; the second one's SMS is final by now.
        execute(
            h,
            "INSERT INTO delivery_alerts (send_id, decided_at) SELECT id, 1 FROM sends WHERE text = ?",
            [("Owed from before",), ("Decided, then a crash",)],
        )
        await h.start_bot()
        # Owed notices go first, then the due ones: by the time the due one is in, the owed ones are settled.
        await admin.wait_for(alarm("While it was down"), timeout=10)
        # Owed notices go in order: the final one's was settled first.
        [settled] = [
            r["given_at"]
            for r in select(
                h,
                """SELECT a.given_at FROM delivery_alerts a JOIN sends s ON s.id = a.send_id
                   WHERE s.text = 'Decided, then a crash'""",
            )
        ]
        assert settled is not None
        assert alarms(admin, "Decided, then a crash") == []  # final before it went out: its delivery said it
        assert len(alarms(admin, "While it was down")) == 1 and len(alarms(admin, "Owed from before")) == 1
