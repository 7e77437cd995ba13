"""Issue 23 points 3, 6, 13 (/duty's 📨), 14 and issue 24 rows 6, 7, 13, end to end over loopback: what others rely
on, who may change what, ids never reused, listings that fit one message, over-limit words in place."""

from __future__ import annotations

import sqlite3

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN, OPERATOR

IVAN = "+7 904 176-49-95"
OLGA = "+7 916 123-45-67"


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


def numbers(n: int) -> list[str]:
    return [f"+7900000{i:04d}" for i in range(1, n + 1)]


async def test_duty_has_a_send_button(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/contact Ivan Petrov {IVAN}")
    set_ = await say(admin, "/duty Ivan Petrov")
    assert set_.button_texts == ["📨 SMS to duty"]
    shown = await say(admin, "/duty")
    assert shown.button_texts == ["📨 SMS to duty"]
    await admin.press(shown, "📨 SMS to duty")
    assert "To Ivan Petrov" in (await admin.next_message()).plain
    preview = await say(admin, "Server down")
    assert "Check before sending" in preview.plain and "To: duty — Ivan Petrov" in preview.plain
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [s.msisdn for s in rig.gateway.sent] == ["79041764995"]
    await say(admin, f"/allow {OPERATOR}")
    oleg = rig.telegram.user(OPERATOR, first_name="Олег", language_code="ru")
    assert (await say(oleg, "/duty")).button_texts == ["📨 СМС дежурному"]
    # Nobody on duty at the press: said in words, nothing opened.
    with sqlite3.connect(rig.db_path) as conn:
        conn.execute("UPDATE duty SET contact_id = NULL")
    answer = await rig.telegram.callback_answer(await admin.press(shown, "📨 SMS to duty"))
    assert "Nobody is on duty now" in (answer.text or "")


async def test_over_limit_words_in_place(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    group = await say(admin, "/group Everyone: " + ", ".join(numbers(60)))
    assert "A group may hold at most 50 members; this list has 60" in group.plain
    assert "Nothing was sent" not in group.plain and "split the list" not in group.plain
    send = await say(admin, "/send " + ", ".join(numbers(60)) + " Server down")
    assert "60 recipients: at most 50 in one send" in send.plain
    assert "Send the right number" not in send.plain and "Send a shorter list (at most 50)" in send.plain
    # The kept text waits for a shorter list.
    preview = await say(admin, ", ".join(numbers(2)))
    assert "Server down" in preview.plain
    with sqlite3.connect(rig.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM recipient_groups").fetchone()[0] == 0


async def test_a_stale_delete_button_never_deletes_a_newer_row(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/contact Ivan {IVAN}")
    old_card = await say(admin, f"/contact Olga {OLGA}")  # the newest contact: its id is the highest
    data = {b.text: b.data for row in old_card.buttons for b in row}
    await admin.press(old_card, "🗑 Delete")
    await admin.wait_for(lambda m: m.message_id == old_card.message_id and "Deleted: Olga" in m.plain)
    await say(admin, "/contact Petr +7 926 123-45-67")
    await say(admin, "/duty Petr")
    # The same 🗑 pressed again (its data kept from before the edit): the newer contact stays, duty too.
    stale = await rig.telegram.callback_answer(await admin.press_data(old_card.message_id, str(data["🗑 Delete"])))
    assert "no longer valid" in (stale.text or "")
    assert "On duty: 👤 Petr" in (await say(admin, "/duty")).plain
    # Groups and templates alike.
    group = await say(admin, "/group Night: Ivan")
    gdata = {b.text: b.data for row in group.buttons for b in row}
    await admin.press(group, "🗑 Delete")
    await admin.wait_for(lambda m: m.message_id == group.message_id and "Group deleted" in m.plain)
    await say(admin, "/group Day: Petr")
    stale = await rig.telegram.callback_answer(await admin.press_data(group.message_id, str(gdata["🗑 Delete"])))
    assert "no longer valid" in (stale.text or "")
    assert "Day" in (await say(admin, "/groups")).plain
    await say(admin, "/template db: DB down")
    card = await say(admin, "/template db")
    tdata = {b.text: b.data for row in card.buttons for b in row}
    await admin.press(card, "🗑 Delete")
    await admin.wait_for(lambda m: m.message_id == card.message_id and "deleted" in m.plain)
    await say(admin, "/template web: Web down")
    stale = await rig.telegram.callback_answer(await admin.press_data(card.message_id, str(tdata["🗑 Delete"])))
    assert "Web down" not in (stale.text or "")
    with sqlite3.connect(rig.db_path) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM contacts ORDER BY id")] == ["Ivan", "Petr"]
        assert [r[0] for r in conn.execute("SELECT name FROM templates")] == ["web"]


async def test_only_the_one_who_added_it_or_an_admin_may_change_it(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/allow {OPERATOR}")
    sam = rig.telegram.user(OPERATOR, first_name="Sam", language_code="en")
    await say(admin, f"/contact Ivan Petrov {IVAN}")
    await say(admin, "/group Night: Ivan Petrov")
    await say(admin, "/template db: DB down")
    # Sam may neither repoint Alice's contact, nor replace her group or template: words, nothing changes.
    refused = await say(sam, "/contact Ivan Petrov +7 900 000 00 51")
    assert "Only Alice, who added Ivan Petrov, or an admin can change it. Nothing was changed." in refused.plain
    listing = await say(sam, "/contacts")
    await sam.press(listing, "➕ Add")
    await sam.next_message()
    assert "Only Alice, who added Ivan Petrov" in (await say(sam, "ivan petrov")).plain
    assert "Only Alice, who added Night" in (await say(sam, "/group Night: +7 900 000 00 51")).plain
    assert "Only Alice, who saved #db, or an admin can change it" in (await say(sam, "/template db: mine")).plain
    with sqlite3.connect(rig.db_path) as conn:
        assert conn.execute("SELECT msisdn FROM contacts").fetchall() == [("79041764995",)]
        assert conn.execute("SELECT msisdn, contact_id FROM group_members").fetchall() == [(None, 1)]
        assert conn.execute("SELECT text, saved_by FROM templates").fetchall() == [("DB down", ADMIN)]
    # Sam's own are Sam's to change; an admin may change anyone's, and a template stays its saver's.
    await say(sam, "/template web: Web down")
    assert "replaced" in (await say(sam, "/template web: Web is down")).plain
    assert "Only" not in (await say(admin, "/template web: Web down again")).plain
    card = await say(sam, "/template web")
    assert "saved by Sam" in card.plain and "🗑 Delete" in card.button_texts


async def test_every_listing_fits_one_message(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    # 50 contacts with long names (64 characters each) in one group: its card says "and N more" and fits.
    names = [f"<Ops> {i:02d} " + "Константинопольский-" * 3 for i in range(50)]
    names = [n[:64] for n in names]
    for i, name in enumerate(names):
        await say(admin, f"/contact {name} +7900000{i:04d}")
    saved = await say(admin, "/group Everyone: " + ", ".join(names))
    assert "Group saved" in saved.plain and "members: 50" in saved.plain and "more" in saved.plain
    assert len(saved.plain) <= 4096 and "&lt;Ops&gt;" in saved.text  # names escaped
    card = await say(admin, "/group Everyone")
    assert "members: 50" in card.plain and "more" in card.plain and len(card.plain) <= 4096
    # 71 groups with long names: /groups pages, and every page fits.
    for i in range(71):
        await say(admin, f"/group {'Ночная смена дежурных инженеров номер'} {i:02d}: +7900000{i:04d}")
    first = await say(admin, "/groups")
    assert "page 1 of 8" in first.plain and len(first.plain) <= 4096 and "▶" in first.button_texts
    await admin.press(first, "▶")
    second = await admin.wait_for(lambda m: m.message_id == first.message_id and "page 2 of 8" in m.plain)
    assert "◀" in second.button_texts and len(second.button_texts) == 12
