"""Names are escaped wherever they are shown (issue 24, row 5): a contact named "Ops <night>" or "<b>Olga</b>" is
shown as typed — in a single preview, a several-recipient preview and its duplicate line, the summary, 🔁 Resend's
preview, the delivery notice, /contacts, the card and /duty — and never makes Telegram refuse a message ("can't
parse entities": the fake Telegram server parses HTML as the real one does)."""

from __future__ import annotations

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.fault_support import parse_errors

ODD = "Ops <night>"
MARKUP = "<b>Olga</b> & Co"
ODD_NUMBER, MARKUP_NUMBER, REJECTS = "79041764995", "79041112233", "79000000051"


async def said(user: FakeUser, text: str, expect: str, timeout: float = 10) -> BotMessage:
    user.mark_seen()
    await user.send(text)
    return await user.wait_for(lambda m: expect in m.plain, timeout=timeout)


async def test_names_with_angle_brackets_and_markup_are_shown_as_typed(rig: Harness) -> None:
    alex = rig.telegram.user(1001, first_name="Alex", language_code="en")
    await said(alex, f"/contact {ODD} +{ODD_NUMBER}", ODD)
    await said(alex, f"/contact {MARKUP} +{MARKUP_NUMBER}", MARKUP)
    await said(alex, f"/contact Night <shift> +{REJECTS}", "Night <shift>")

    # One SMS to the odd name: its preview, then the delivery notice name it as typed.
    preview = await said(alex, f"/send {ODD} Disk full on web2", "Check before sending")
    assert f"To: {ODD}" in preview.plain
    await alex.press(preview, "✅ Send")
    await alex.wait_for(lambda m: m.message_id == preview.message_id and f"Sent to {ODD}" in m.plain)
    await alex.wait_for(lambda m: f"SMS to {ODD}" in m.plain and "delivered" in m.plain, timeout=15)

    # Several recipients: the preview and its duplicate guard line name them as typed.
    batch = await said(alex, f"/send {ODD}, {MARKUP}, Night <shift> Disk full again", "Check before sending")
    assert ODD in batch.plain and MARKUP in batch.plain
    assert f"already sent SMS to: {ODD}" in batch.plain
    await alex.press(batch, "✅ Send to 3")
    summary = await alex.wait_for(
        lambda m: m.message_id == batch.message_id and "Rejected" in m.plain and "Night <shift>" in m.plain,
        timeout=20,
    )
    # 🔁 Resend to the one the carrier rejected: its preview names it, and the duplicate line does too.
    await alex.press(summary, next(t for t in summary.button_texts if t.startswith("🔁")))
    again = await alex.wait_for(lambda m: "Check before sending" in m.plain and m.message_id != batch.message_id)
    assert "Night <shift>" in again.plain

    listing = await said(alex, "/contacts", ODD)
    assert MARKUP in listing.plain and "Night <shift>" in listing.plain
    assert f"📨 {ODD}" in listing.button_texts
    card = await said(alex, f"/contact {ODD}", ODD)
    assert "📨 Send" in card.button_texts
    await said(alex, f"/duty {MARKUP}", MARKUP)
    duty = await said(alex, "/duty", MARKUP)
    assert "Olga</b>" in duty.plain

    assert parse_errors(rig.telegram) == []
