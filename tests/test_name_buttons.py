"""A button's label is never cut to look like its neighbour (issue 23, point 7): names on buttons — one-tap
recipients, /contacts, templates — go two a row only when both show whole on a narrow phone; a long one has a row
of its own, and one too long even for that keeps its distinctive end. End to end over loopback."""

from __future__ import annotations

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.ui.name_buttons import FULL, HALF
from tests.conftest import ADMIN

KONSTANTINOV, KONSTANTINOPOLSKY = "Александр Константинов", "Александр Константинопольский"
LONG_A, LONG_B = "Александр Константинович Константинопольский", "Александр Константинович Константиновский"


async def said(user: FakeUser, text: str, expect: str, timeout: float = 10) -> BotMessage:
    user.mark_seen()
    await user.send(text)
    return await user.wait_for(lambda m: expect in m.plain, timeout=timeout)


def rows_with(message: BotMessage, *needles: str) -> list[list[str]]:
    return [[b.text for b in row] for row in message.buttons if any(n in b.text for b in row for n in needles)]


def assert_phone_safe(message: BotMessage) -> None:
    """No label longer than a full row; two labels share a row only when both show whole at half width."""
    for row in message.buttons:
        for button in row:
            assert len(button.text) <= FULL, button.text
        if len(row) > 1:
            assert all(len(b.text) <= HALF for b in row), [b.text for b in row]


async def test_lookalike_names_never_share_a_row_and_keep_their_ends(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    for name, number in ((KONSTANTINOV, "+79041764995"), (KONSTANTINOPOLSKY, "+79041112233")):
        await said(alex, f"/contact {name} {number}", name)
        preview = await said(alex, f"/send {name} Server db1 is down", "Check before sending")
        await alex.press(preview, "✅ Send")
        await alex.wait_for(lambda m, p=preview: m.message_id == p.message_id and "Sent to" in m.plain)

    # The guided number step's one-tap recipients: each whole, each on its own row.
    picks = await said(alex, "/send", "Who gets the SMS")
    assert rows_with(picks, "Александр") == [[f"👤 {KONSTANTINOPOLSKY}"], [f"👤 {KONSTANTINOV}"]]
    assert_phone_safe(picks)
    await said(alex, "/cancel", "Cancel")

    # Names too long for one row keep their distinctive end, so two of one family stay apart.
    await said(alex, f"/contact {LONG_A} +79041112244", "Константинович")
    await said(alex, f"/contact {LONG_B} +79041112255", "Константинович")
    listing = await said(alex, "/contacts", "Константинович")
    long_labels = [t for t in listing.button_texts if "Константинович" in t or "…" in t]
    assert len(long_labels) == 2 and len(set(long_labels)) == 2
    assert any(t.endswith("нопольский") for t in long_labels) and any(t.endswith("новский") for t in long_labels)
    assert_phone_safe(listing)


async def test_templates_of_one_kind_show_what_tells_them_apart(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    for where in ("Север", "Юг"):
        await said(alex, f"/template авария_электропитания_ЦОД_{where}: Нет питания в ЦОД {where}", where)
    listing = await said(alex, "/templates", "авария")
    rows = rows_with(listing, "авария")
    assert rows == [["📨 #авария_электропитания_ЦОД_Север"], ["📨 #авария_электропитания_ЦОД_Юг"]]
    assert_phone_safe(listing)
