"""Alerts, second round (issue 23 points 5 and 12, issue 24 rows 15, 18 and 19), end to end over loopback: POST to
the bot's /alerts, the real Dispatcher, the fake Telegram, the sandbox gateway and a real SQLite file.

Nobody on duty opens the recipient step with one-tap "make on duty" picks; an SMS to duty sent by one operator
shows on everyone's copy; a resolution closes a preview opened before it; 📨 on a resolved alert says so; a group
firing again after it resolved is posted anew; a body nested too deep is a 400."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN
from tests.e2e.test_alerts_in import TEAM, alert_rig, firing, people
from tests.support.alert_payloads import alert, alertmanager, post

IVAN = "+7\u00a0904\u00a0176\u201149\u201195"


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


async def fire(h: Harness, user: FakeUser, summary: str = "Disk /var on db1 is 95% full") -> BotMessage:
    assert (await post(h.http_url, alertmanager([alert(summary=summary)]))).status_code == 200
    return await user.wait_for(lambda m: firing(m.plain) and "DiskFull" in m.plain, timeout=10)


async def resolve(h: Harness) -> None:
    assert (await post(h.http_url, alertmanager([alert(status="resolved")]))).status_code == 200


def rows(h: Harness, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(h.db_path) as conn:
        return list(conn.execute(sql).fetchall())


async def test_nobody_on_duty_opens_the_recipient_step_and_a_pick_makes_them_on_duty_and_sends(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        await say(admin, "/contact Ivan Petrov +7 904 176-49-95")
        await say(admin, "/contact Olga Smirnova +7 916 123-45-67")
        shown = await fire(h, admin)
        answer = await h.telegram.callback_answer(await admin.press(shown, "📨 SMS to duty"))
        assert not answer.show_alert  # no dead-end popup
        step = await admin.wait_for(lambda m: "Nobody is on duty" in m.plain, timeout=10)
        assert "Tap a contact: they become on duty" in step.plain
        assert "The text: “[FIRING] DiskFull: Disk /var on db1 is 95% full”" in step.plain
        assert step.button_texts == ["🧑‍🚒 Ivan Petrov", "🧑‍🚒 Olga Smirnova", "✖️ Cancel"]
        assert rows(h, "SELECT COUNT(*) FROM duty") == [(0,)]
        pick = step.buttons[0][0].data or ""
        toast = await h.telegram.callback_answer(await admin.press(step, "🧑‍🚒 Ivan Petrov"))
        assert toast.text == "On duty now: Ivan Petrov"
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
        assert IVAN in preview.plain and "[FIRING] DiskFull: Disk /var on db1 is 95% full" in preview.plain
        assert "On duty now: Ivan Petrov" in admin.messages[admin.messages.index(step)].plain  # picks gone
        assert not admin.messages[admin.messages.index(step)].buttons
        # The pick is on duty now, audited as the admin's doing; nothing left before the Send press.
        assert "Ivan Petrov" in (await say(admin, "/duty")).plain
        assert rows(h, "SELECT actor_id FROM audit_log WHERE action = 'duty_set'") == [(ADMIN,)]
        assert h.gateway.sent == []
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=10)
        assert [s.msisdn for s in h.gateway.sent] == ["79041764995"]
        # A second press of the same pick (a stale button) does nothing more.
        stale = await h.telegram.callback_answer(await admin.press_data(step.message_id, pick))
        assert "no longer valid" in (stale.text or "")
        assert len(h.gateway.sent) == 1


async def test_nobody_on_duty_a_typed_number_takes_the_kept_text(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        shown = await fire(h, admin)
        await admin.press(shown, "📨 SMS to duty")
        step = await admin.wait_for(lambda m: "Nobody is on duty" in m.plain, timeout=10)
        assert "Type a number or a contact's name" in step.plain and step.button_texts == ["✖️ Cancel"]
        preview = await say(admin, "+7 904 176-49-95")
        assert "Check before sending" in preview.plain and "[FIRING] DiskFull: Disk /var" in preview.plain
        assert h.gateway.sent == []


async def test_an_sms_to_duty_sent_by_one_operator_shows_on_everyones_copy(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, oleg = await people(h)
        await say(admin, "/contact Ivan Petrov +7 904 176-49-95")
        await say(admin, "/duty Ivan Petrov")
        mine = await fire(h, admin)
        theirs = await oleg.wait_for(lambda m: firing(m.plain), timeout=10)
        line = await h.telegram.group(TEAM).wait_for(lambda m: firing(m.plain), timeout=10)
        assert mine.button_texts == ["📨 SMS to duty", "✋ I'm on it"]
        await oleg.press(theirs, "📨 СМС дежурному")
        preview = await oleg.wait_for(lambda m: "[FIRING] DiskFull" in m.plain and bool(m.buttons), timeout=10)
        await oleg.press(preview, 1)  # ✅ Отправить
        await oleg.wait_for(lambda m: m.message_id == preview.message_id and "[FIRING]" not in m.plain, timeout=10)
        # Alice's copy says who sent it and when, and no longer offers it as if nobody had acted.
        done = await admin.wait_for(lambda m: m.message_id == mine.message_id and "already sent" in m.plain, timeout=10)
        assert "📨 SMS to duty already sent · Oleg," in done.plain and done.button_texts == [
            "📨 Another SMS to duty",
            "✋ I'm on it",
        ]
        own = await oleg.wait_for(lambda m: m.message_id == theirs.message_id and "уже отправлено" in m.plain)
        assert "📨 СМС дежурному уже отправлено · Oleg," in own.plain
        await h.telegram.group(TEAM).wait_for(lambda m: m.message_id == line.message_id and "Oleg" in m.plain)
        assert [s.msisdn for s in h.gateway.sent] == ["79041764995"]
        assert len([m for m in admin.messages if firing(m.plain)]) == 1  # edited, not posted again


async def test_a_preview_opened_before_the_group_resolved_says_so_and_cannot_send(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        await say(admin, "/contact Ivan Petrov +7 904 176-49-95")
        await say(admin, "/contact Olga Smirnova +7 916 123-45-67")
        await say(admin, "/group Night: Ivan Petrov, Olga Smirnova")
        await say(admin, "/duty Ivan Petrov")
        shown = await fire(h, admin)
        await admin.press(shown, "📨 SMS to duty")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
        send_data = next(b.data for row in preview.buttons for b in row if "Send" in b.text)
        await resolve(h)
        closed = await admin.wait_for(lambda m: m.message_id == preview.message_id and "resolved" in m.plain, 10)
        assert "✅ The alert DiskFull resolved at" in closed.plain and "This SMS was not sent." in closed.plain
        assert not closed.buttons
        # A press that was on its way (the old button) sends nothing.
        late = await h.telegram.callback_answer(await admin.press_data(preview.message_id, send_data or ""))
        assert "Nothing was sent" in (late.text or "")
        # The same for a preview to several recipients (a group on duty).
        await say(admin, "/duty Night")
        again = await fire(h, admin)
        await admin.press(again, "📨 SMS to duty")
        batch = await admin.wait_for(lambda m: "Send to 2" in " ".join(m.button_texts), timeout=10)
        await resolve(h)
        await admin.wait_for(lambda m: m.message_id == batch.message_id and "This SMS was not sent" in m.plain, 10)
        assert h.gateway.sent == []


async def test_sms_to_duty_on_a_resolved_alert_says_it_resolved(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        await say(admin, "/contact Ivan Petrov +7 904 176-49-95")
        await say(admin, "/duty Ivan Petrov")
        shown = await fire(h, admin)
        data = shown.buttons[0][0].data or ""
        await resolve(h)
        await admin.wait_for(lambda m: m.message_id == shown.message_id and "RESOLVED" in m.plain, timeout=10)
        answer = await h.telegram.callback_answer(await admin.press_data(shown.message_id, data))  # a replayed press
        assert answer.show_alert and "This alert resolved at" in (answer.text or "")
        await say(admin, "/help")  # a round trip: a preview the press caused would have come first
        assert not any("[FIRING]" in m.plain for m in admin.messages)
        assert rows(h, "SELECT COUNT(*) FROM sends") == [(0,)]


async def test_a_group_that_fires_again_after_it_resolved_is_posted_anew(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, oleg = await people(h)
        first = await fire(h, admin)
        await resolve(h)
        await admin.wait_for(lambda m: m.message_id == first.message_id and "RESOLVED" in m.plain, timeout=10)
        await oleg.wait_for(lambda m: "ОТБОЙ" in m.plain, timeout=10)
        line = await h.telegram.group(TEAM).wait_for(lambda m: "RESOLVED" in m.plain, timeout=10)
        # Within ALERT_REPEAT_MINUTES (30): a new message, so that phones ring; the old one stays resolved.
        anew = await fire(h, admin)
        assert anew.message_id != first.message_id and anew.button_texts == ["📨 SMS to duty", "✋ I'm on it"]
        assert "RESOLVED" in next(m for m in admin.messages if m.message_id == first.message_id).plain
        await oleg.wait_for(lambda m: firing(m.plain) and m.message_id != first.message_id, timeout=10)
        await h.telegram.group(TEAM).wait_for(lambda m: firing(m.plain) and m.message_id != line.message_id, 10)
        assert len([m for m in oleg.messages if "DiskFull" in m.plain]) == 2


async def test_a_body_nested_too_deep_or_unreadable_is_a_400(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        deep_list = ("[" * 1000 + "]" * 1000).encode()
        deep_object = ('{"a":' * 1000 + "1" + "}" * 1000).encode()
        inside = json.dumps(alertmanager([alert()]))[:-1] + ', "x": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}"
        huge_number = b'{"groupKey": "k", "status": "firing", "alerts": [], "truncatedAlerts": ' + b"9" * 5000 + b"}"
        for body in (deep_list, deep_object, inside.encode(), huge_number):
            answer = await post(h.http_url, None, raw=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 400, answer.text
            assert "Traceback" not in answer.text
        assert (await post(h.http_url, alertmanager([alert()]))).status_code == 200  # the endpoint still serves
        await admin.wait_for(lambda m: firing(m.plain), timeout=10)
        assert rows(h, "SELECT COUNT(*) FROM alert_groups") == [(1,)]
