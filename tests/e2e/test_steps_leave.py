"""Issue 23 point 2: any command leaves a guided step and is then carried out (➕ Add's name and number steps,
naming a shared contact, /send's number and text steps); an abandoned step expires after 30 minutes. End to end
over loopback; the step's clock is moved on instead of waiting half an hour."""

from __future__ import annotations

import time

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN

OLGA = "+7 916 123-45-67"


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


async def add_pressed(admin: FakeUser) -> None:
    listing = await say(admin, "/contacts")
    await admin.press(listing, "➕ Add")
    assert "The contact's name?" in (await admin.next_message()).plain


async def test_commands_leave_the_add_steps_and_are_carried_out(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/contact Olga {OLGA}")
    # The name step: /duty, /send duty …, /groups are carried out, not taken for a name.
    await add_pressed(admin)
    assert "On duty now: Olga" in (await say(admin, "/duty Olga")).plain
    await add_pressed(admin)
    preview = await say(admin, "/send duty Server down")
    assert (
        "Check before sending" in preview.plain
        and "To: duty — Olga" in preview.plain
        and "Server down" in preview.plain
    )
    await add_pressed(admin)
    assert "No groups yet" in (await say(admin, "/groups")).plain
    # …and the step is over: a name typed next is not saved as a contact.
    assert "The number of" not in (await say(admin, "Ivan")).plain
    # The number step: a valid /send is a send, not "not a phone number".
    await add_pressed(admin)
    assert "The number of Ivan?" in (await say(admin, "Ivan")).plain
    preview = await say(admin, "/send +79041764995 тест")
    assert "Check before sending" in preview.plain and "тест" in preview.plain
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [(s.msisdn, s.text) for s in rig.gateway.sent] == [("79041764995", "тест")]
    assert "No contact named “Ivan”" in (await say(admin, "/contact Ivan")).plain


async def test_commands_leave_the_shared_contact_name_and_the_send_steps(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/contact Olga {OLGA}")
    await admin.send_contact("+79261234567", "Olga")  # its name is taken: another is asked
    offer = await admin.next_message()
    await admin.press(offer, "💾 Save contact")
    assert "cannot be used as it is" in (await admin.next_message()).plain
    assert "On duty now: Olga" in (await say(admin, "/duty Olga")).plain
    # The /send number step, with a text kept: /contacts is carried out, and the kept text is gone.
    kept = await say(admin, "/send Nobody Server down")
    assert "I kept the text" in kept.plain
    assert "Contacts (page 1 of 1)" in (await say(admin, "/contacts")).plain
    assert "Check before sending" not in (await say(admin, "+7 904 176-49-95")).plain
    # The text step: /duty is carried out and the next line is not an SMS text.
    await say(admin, "/send")
    assert "To Olga" in (await say(admin, "Olga")).plain
    assert "On duty: 👤 Olga" in (await say(admin, "/duty")).plain
    assert "Check before sending" not in (await say(admin, "Server down")).plain
    # /cancel still cancels the step it is in.
    await say(admin, "/send")
    assert "Cancelled" in (await say(admin, "/cancel")).plain
    assert rig.gateway.sent == []


async def test_an_abandoned_step_expires_after_30_minutes(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    assert rig.app is not None
    steps = rig.app.dp["steps"]
    await add_pressed(admin)
    steps.clock = lambda: time.time() + 29 * 60  # still within the step
    assert "The number of Olga?" in (await say(admin, "Olga")).plain
    steps.clock = lambda: time.time() + 31 * 60  # half an hour later
    late = await say(admin, "+7 916 123-45-67")
    assert "unfinished step expired after 30 min" in late.plain
    # The number is read as a new message (a send to it), never saved as the forgotten contact.
    assert "+7\u00a0916\u00a0123\u201145\u201167" in (await admin.next_message()).plain  # the text step for it
    assert "No contact named “Olga”" in (await say(admin, "/contact Olga")).plain
