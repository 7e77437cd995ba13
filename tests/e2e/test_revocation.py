"""Revocation leaves nothing live (issue 19, finding 6): the open draft and the guided step end, and every later
message is answered in words; a later /allow brings neither back."""

from __future__ import annotations

from bot.devkit.harness import Harness
from tests.conftest import ADMIN, OPERATOR


async def test_a_revoked_operator_loses_drafts_and_step_and_is_answered(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = rig.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    await operator.send("/send 79041764995 old preview")
    preview = await operator.wait_for(lambda m: "Check before sending" in m.plain)
    send_data = preview.buttons[0][0].data
    await operator.send("/send")  # a guided step open: "who gets the SMS?"
    await operator.wait_for(lambda m: "Who gets the SMS" in m.plain)

    await admin.send(f"/deny {OPERATOR}")
    await admin.wait_for(lambda m: "no longer has access" in m.plain)
    # Before the fix the preview kept its Send button and said "Check before sending".
    await operator.wait_for(lambda m: m.message_id == preview.message_id and "taken away your access" in m.plain)
    for command in ("/history", "/send"):  # before the fix: silence after the first refusal
        await operator.send(command)
        assert "taken away your access" in (await operator.next_message(timeout=10)).plain
    cq = await operator.press_data(preview.message_id, send_data)
    assert "taken away your access" in ((await rig.telegram.callback_answer(cq, timeout=10)).text or "")

    await admin.send(f"/allow {OPERATOR}")
    await admin.wait_for(lambda m: "can now use the bot" in m.plain)
    await operator.next_message()  # "You now have access"
    cq = await operator.press_data(preview.message_id, send_data)
    answer = await rig.telegram.callback_answer(cq)
    assert "cancelled" in (answer.text or "")
    # Before the fix the old preview sent after the new /allow (assert 1 == 0).
    assert len(rig.gateway.sent) == 0
    # The old number step is gone: a word that is no number is not refused as one (❌ ... Example: ...).
    await operator.send("hello")
    reply = await operator.next_message()
    assert "does not look like a phone number" not in reply.plain and "Example:" not in reply.plain
