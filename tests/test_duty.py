"""Who is on duty (issue 16), end to end over loopback: /duty, /duty <recipient>, `duty` as a recipient."""

from __future__ import annotations

import json
import sqlite3

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN, OPERATOR


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


def duty_audit(rig: Harness) -> list[tuple[int, dict[str, object]]]:
    with sqlite3.connect(rig.db_path) as conn:
        rows = conn.execute("SELECT actor_id, details FROM audit_log WHERE action = 'duty_set' ORDER BY id")
        return [(r[0], json.loads(r[1])) for r in rows]


async def test_set_show_and_send_to_duty(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    nobody = await say(admin, "/duty")
    assert "Nobody is on duty" in nobody.plain and "/duty Ivan Petrov" in nobody.plain
    refused = await say(admin, "/send duty Server db1 is down")
    assert "Nobody is on duty" in refused.plain and "I kept the text “Server db1 is down”" in refused.plain
    await say(admin, "/contact Иван +7 904 176-49-95")
    await say(admin, f"/allow {OPERATOR}")
    oleg = rig.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
    set_ = await say(oleg, "/duty иван")  # any operator may
    assert "On duty now: Иван (+7\u00a0904\u00a0176\u201149\u201195)" in set_.plain
    shown = await say(admin, "/duty")
    assert "On duty: 👤 Иван (+7\u00a0904\u00a0176\u201149\u201195)" in shown.plain and "Set by Oleg" in shown.plain
    preview = await say(admin, "/send duty Server db1 is down")
    assert "To: Иван (+7\u00a0904\u00a0176\u201149\u201195)" in preview.plain and "Server db1 is down" in preview.plain
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [s.msisdn for s in rig.gateway.sent] == ["79041764995"]
    # A number works as well; the guided step reads "duty" too.
    assert (
        "On duty now: +7\u00a0916\u00a0123\u201145\u201167"
        in (await say(admin, "/duty +7\u00a0916\u00a0123\u201145\u201167")).plain
    )
    await say(admin, "/send")
    assert "To +7\u00a0916\u00a0123\u201145\u201167" in (await say(admin, "duty")).plain
    assert [a for a, _ in duty_audit(rig)] == [OPERATOR, ADMIN]
    assert duty_audit(rig)[1][1]["msisdn"] == "79161234567"


async def test_bad_duty_input_is_answered(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    unknown = await say(admin, "/duty Петя")
    assert "No contact named “Петя”" in unknown.plain and "Example: /duty Ivan Petrov" in unknown.plain
    assert "means whoever is on duty" in (await say(admin, "/duty duty")).plain
    await say(admin, "/contact Ivan Petrov +7 904 176-49-95")
    await say(admin, "/contact Ivan Sidorov +7 916 123-45-67")
    several = await say(admin, "/duty Ivan")
    assert "could be Ivan Petrov, Ivan Sidorov" in several.plain
    assert duty_audit(rig) == []
    # The contact on duty is deleted: nobody is on duty then, and it says so.
    await say(admin, "/duty Ivan Petrov")
    card = await say(admin, "/contact Ivan Petrov")
    await admin.press(card, "🗑 Delete")
    await admin.wait_for(lambda m: m.message_id == card.message_id and "🗑 Delete anyway" in m.button_texts)  # asked
    await admin.press(card, "🗑 Delete anyway")
    await admin.wait_for(lambda m: m.message_id == card.message_id and "Deleted" in m.plain)
    assert "Nobody is on duty" in (await say(admin, "/duty")).plain
