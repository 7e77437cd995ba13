"""Idempotent Telegram calls (edits, press answers, chat actions) are tried again on a 5xx or a dropped
connection, within the 15 s an operator waits; a new chat message is not (it may have arrived)."""

from __future__ import annotations

import time

from bot.devkit.harness import Harness
from bot.devkit.sandbox import Fault
from bot.ui.messages import TYPING_EVERY
from tests.conftest import ADMIN

PATIENCE = 15.0


async def test_outcome_edit_and_press_answer_survive_5xx_and_drops(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send 79041764995 retries of idempotent calls")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    messages_before = len(admin.messages)
    rig.telegram.fail_next("answerCallbackQuery", drop=True)
    rig.telegram.fail_next("editMessageText", error_code=502, description="Bad Gateway", times=2)
    started = time.monotonic()
    cq = await admin.press(preview, "✅ Send")
    answer = await rig.telegram.callback_answer(cq, timeout=PATIENCE)
    assert answer.text == "Sending…"
    outcome = await admin.wait_for(
        lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=PATIENCE
    )
    assert time.monotonic() - started < PATIENCE
    assert rig.gateway.sent[0].id in outcome.plain
    # The preview itself shows the outcome: no new message was needed for it.
    assert [m.message_id for m in admin.messages if "Sent to" in m.plain] == [preview.message_id]
    assert len(admin.messages) - messages_before == len([m for m in admin.messages if "delivered" in m.plain])
    failed = [e.method for e in rig.telegram.errors]
    assert failed.count("editMessageText") == 2 and failed.count("answerCallbackQuery") == 1
    assert rig.app is not None and rig.app.retry.failure_retries >= 3


async def test_chat_action_is_retried(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.telegram.fail_next("sendChatAction", error_code=500, description="Internal Server Error")
    rig.gateway.inject(Fault.HANG, action="balance", times=1)  # the answer takes a while: typing is shown
    await admin.send("/balance")
    reply = await admin.next_message(timeout=PATIENCE)
    assert "Balance" in reply.plain
    actions = rig.telegram.calls_to("sendChatAction", chat_id=ADMIN)
    assert len(actions) >= 2 and actions[0].params.get("action") == "typing"
    assert actions[1].time - actions[0].time < TYPING_EVERY  # tried again, not just the next round of typing
    assert [e.method for e in rig.telegram.errors] == ["sendChatAction"]


async def test_new_message_is_not_retried(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/help")
    await admin.next_message()
    before = len(rig.telegram.calls_to("sendMessage", chat_id=ADMIN))
    rig.telegram.fail_next("sendMessage", error_code=502, description="Bad Gateway", execute=True)
    await admin.send("/balance")
    # The answer was delivered (only Telegram's reply was lost): the bot must not send a second copy of it
    # (the error net may still say, in its own message, that something went wrong).
    reply = await admin.next_message(timeout=PATIENCE)
    assert "Balance" in reply.plain
    await admin.send("/help")
    await admin.wait_for(lambda m: "/balance" in m.plain and m.message_id > reply.message_id, timeout=PATIENCE)
    balances = [c for c in rig.telegram.calls_to("sendMessage", chat_id=ADMIN)[before:] if "Balance" in str(c.params)]
    assert len(balances) == 1
