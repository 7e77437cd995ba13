"""A guided step survives a restart: the FSM state lives in the bot's SQLite database (migration 3)."""

from __future__ import annotations

from bot.devkit.harness import Harness
from tests.conftest import ADMIN
from tests.support.engines import select


def fsm_rows(rig: Harness) -> list[tuple[str, str | None, str]]:
    return [tuple(r.values()) for r in select(rig, "SELECT key, state, data FROM fsm_states")]


async def test_number_given_before_a_restart_text_asked_after_it(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send")
    assert "Who gets the SMS" in (await admin.next_message()).plain
    await admin.send("8 (904) 176 49 95")
    assert "To +7\u00a0904\u00a0176\u201149\u201195" in (await admin.next_message()).plain
    [(_, state, data)] = fsm_rows(rig)
    assert state == "SendFlow:text" and "79041764995" in data

    await rig.restart()
    await rig.telegram.wait_for_poll()

    await admin.send("Pump 3 pressure low")
    preview = await admin.next_message(timeout=15)
    assert "Check before sending" in preview.plain, preview.plain
    assert "To: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain and "Pump 3 pressure low" in preview.plain
    assert fsm_rows(rig) == []  # the step is over: nothing left to remember


async def test_cancel_after_a_restart_leaves_the_step(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send")
    await admin.next_message()
    await rig.restart()
    await rig.telegram.wait_for_poll()
    await admin.send("hello")  # still the number step: not a number
    assert "not" in (await admin.next_message(timeout=15)).plain.lower()
    assert [state for _, state, _ in fsm_rows(rig)] == ["SendFlow:number"]
    await admin.send("/cancel")
    await admin.next_message(timeout=15)
    assert fsm_rows(rig) == []
