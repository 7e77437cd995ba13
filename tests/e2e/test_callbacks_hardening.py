"""Every button press is answered and only ours are acted on (issue 19, finding 7): unknown or out-of-range
data gets "no longer valid"; a press on a message in another person's chat is never acted on."""

from __future__ import annotations

import pytest

from bot.devkit.harness import Harness
from tests.conftest import ADMIN, OPERATOR

FOREIGN = [
    "snd:go:99999999999999999999",  # before: OverflowError -> "Something went wrong"
    "sdr:1:99999999999999999999",
    "acc:1:99999999999999999999",
    "hist:99999999999999999999",
    "snd:launch:1",
    "lang:xx",
    "zzz:1",  # before: no answer at all (the phone's spinner)
    "",
    "snd",
]


@pytest.mark.parametrize("data", FOREIGN)
async def test_foreign_callback_data_is_answered_no_longer_valid(rig: Harness, data: str) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/help")
    help_message = await admin.next_message()
    cq = await admin.press_data(help_message.message_id, data)
    answer = await rig.telegram.callback_answer(cq)
    assert answer.text == "This button is no longer valid."
    assert not [m for m in admin.messages if "went wrong" in m.plain]


async def test_a_press_on_a_message_in_another_chat_is_not_acted_on(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = rig.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    await operator.next_message()
    await operator.send("/balance")
    shown = await operator.wait_for(lambda m: "Balance" in m.plain)
    asked = len([r for r in rig.gateway.requests if r.action == "balance"])
    # The admin presses Refresh on the operator's message (a forged press carrying the operator's chat).
    cq = await admin.press_data(shown.message_id, shown.buttons[0][0].data, chat=operator)
    answer = await rig.telegram.callback_answer(cq)
    # Before the fix the press was acted on: the gateway was asked and the operator's message edited.
    assert answer.text == "This button is no longer valid."
    assert len([r for r in rig.gateway.requests if r.action == "balance"]) == asked
    assert len(operator.state.bot_messages[shown.message_id].versions) == len(shown.versions)
