"""The team's contacts (issue 16), end to end over loopback: saving, listing, sending by name and in taps,
the guided ➕ Add, shared Telegram contacts, who may delete, and every bad input answered in words."""

from __future__ import annotations

import json
import sqlite3

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN, OPERATOR, STRANGER

IVAN = "79041764995"
OLGA = "79161234567"


def audit(rig: Harness) -> list[tuple[str, dict[str, object]]]:
    with sqlite3.connect(rig.db_path) as conn:
        rows = conn.execute("SELECT action, details FROM audit_log WHERE action LIKE 'contact%' ORDER BY id")
        return [(r[0], json.loads(r[1])) for r in rows]


def contacts(rig: Harness) -> list[tuple[str, str]]:
    with sqlite3.connect(rig.db_path) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT name, msisdn FROM contacts ORDER BY id")]


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


async def operator_too(rig: Harness, admin: FakeUser) -> FakeUser:
    await say(admin, f"/allow {OPERATOR}")
    return rig.telegram.user(OPERATOR, first_name="Oleg", language_code="en")


async def test_save_list_and_send_by_name_any_case(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    saved = await say(admin, "/contact Иван +7 904 176-49-95")
    assert "Saved: Иван — +7\u00a0904\u00a0176\u201149\u201195" in saved.plain
    assert "Saved" in (await say(admin, "/contact Olga Petrova 8 916 123-45-67")).plain
    # /send иван finds "Иван"
    preview = await say(admin, "/send иван Сервер упал")
    assert (
        "Check before sending" in preview.plain and "To: Иван (+7\u00a0904\u00a0176\u201149\u201195)" in preview.plain
    )
    assert "Сервер упал" in preview.plain
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [s.msisdn for s in rig.gateway.sent] == [IVAN]
    # /contacts: sorted by name, a 📨 per contact and ➕ Add
    listing = await say(admin, "/contacts")
    assert listing.plain.index("Olga Petrova") < listing.plain.index("Иван")
    assert listing.button_texts == ["📨 Olga Petrova", "📨 Иван", "➕ Add"]
    await admin.press(listing, "📨 Olga Petrova")
    assert "To Olga Petrova (+7\u00a0916\u00a0123\u201145\u201167)" in (await admin.next_message()).plain
    preview = await say(admin, "disk full")
    assert "To: Olga Petrova (+7\u00a0916\u00a0123\u201145\u201167)" in preview.plain and "disk full" in preview.plain
    # /contact <name> shows one, with Send and Delete
    card = await say(admin, "/contact olga")
    assert "Olga Petrova — +7\u00a0916\u00a0123\u201145\u201167" in card.plain and "Added by Alice" in card.plain
    assert card.button_texts == ["📨 Send", "🗑 Delete"]
    assert [a for a, _ in audit(rig)] == ["contact_add", "contact_add"]


async def test_contacts_are_paged_ten_at_a_time(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    for i in range(12):
        await say(admin, f"/contact Host {i:02d} +7 904 176-49-{i + 10:02d}")
    first = await say(admin, "/contacts")
    assert "page 1 of 2" in first.plain and "Host 09" in first.plain and "Host 10" not in first.plain
    assert "▶" in first.button_texts and "◀" not in first.button_texts
    await admin.press(first, "▶")
    second = await admin.wait_for(lambda m: m.message_id == first.message_id and "page 2 of 2" in m.plain)
    assert "Host 11" in second.plain and "◀" in second.button_texts and "▶" not in second.button_texts


async def test_a_send_to_a_saved_contact_takes_two_taps_after_send_and_keeps_its_name(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, "/contact Иван +7 904 176-49-95")
    await say(admin, "/contact Olga 8 916 123-45-67")
    ask = await say(admin, "/send")
    assert "Who gets the SMS" in ask.plain and "👤 Olga" in ask.button_texts and "👤 Иван" in ask.button_texts
    await admin.press(ask, "👤 Иван")  # tap 1
    assert "To Иван (+7\u00a0904\u00a0176\u201149\u201195)" in (await admin.next_message()).plain
    preview = await say(admin, "Сервер упал")  # the text, typed
    await admin.press(preview, "✅ Send")  # tap 2
    sent = await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [(s.msisdn, s.text) for s in rig.gateway.sent] == [(IVAN, "Сервер упал")]
    # the name stays with the SMS after the preview: in the sent message and in the delivery notice
    assert "Sent to Иван (+7\u00a0904\u00a0176\u201149\u201195)." in sent.plain
    notice = await admin.wait_for(lambda m: "delivered" in m.plain and m.reply_to is not None)
    assert "SMS to Иван (+7\u00a0904\u00a0176\u201149\u201195): delivered." in notice.plain
    # The latest recipients come first, by name; a number that is no contact as a number.
    await admin.send("/send 89261234567 hi")
    hi = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    await admin.press(hi, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == hi.message_id and "Sent to" in m.plain)
    ask = await say(admin, "/send")
    assert ask.button_texts[:3] == ["📱 +7\u00a0926\u00a0123\u201145\u201167", "👤 Иван", "👤 Olga"]
    await admin.press(ask, "📱 +7\u00a0926\u00a0123\u201145\u201167")
    assert "To +7\u00a0926\u00a0123\u201145\u201167" in (await admin.next_message()).plain


async def test_no_match_and_several_matches(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, "/contact Ivan Petrov +7 904 176-49-95")
    await say(admin, "/contact Ivan Sidorov +7 916 123-45-67")
    nobody = await say(admin, "/send Петя Сервер упал")
    assert "No contact or group named “Петя”" in nobody.plain
    assert (
        "/contact Петя +7\u00a0904\u00a0176\u201149\u201195" in nobody.plain
        and "I kept the text “Сервер упал”" in nobody.plain
    )
    preview = await say(admin, "+7 926 123-45-67")  # the number step keeps the text
    assert "To: +7\u00a0926\u00a0123\u201145\u201167" in preview.plain and "Сервер упал" in preview.plain
    # Several match, and the one chosen is deleted before the press: said in words, nothing sent.
    several = await say(admin, "/send ivan first")
    await say(admin, "/contact Ivan Sidorov")
    card = await say(admin, "/contact Ivan Sidorov")
    await admin.press(card, "🗑 Delete")
    await admin.wait_for(lambda m: m.message_id == card.message_id and "Deleted" in m.plain)
    # The commands in between left the choice's step (issue 23 point 2): its button is answered, nothing sent.
    left = await rig.telegram.callback_answer(await admin.press(several, "👤 Ivan Sidorov"))
    assert "no longer valid" in (left.text or "")
    await say(admin, "/contact Ivan Sidorov +7 916 123-45-67")
    several = await say(admin, "/send ivan db1 is down")
    assert "Several names start with “ivan”" in several.plain
    assert several.button_texts == ["👤 Ivan Petrov", "👤 Ivan Sidorov", "✖️ Cancel"]
    await admin.press(several, "👤 Ivan Sidorov")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    assert "To: Ivan Sidorov (+7\u00a0916\u00a0123\u201145\u201167)" in preview.plain and "db1 is down" in preview.plain
    # The choice was made: pressing it again (or a forged index) does nothing.
    forged = await admin.press_data(several.message_id, "cch:0")
    assert "no longer valid" in ((await rig.telegram.callback_answer(forged)).text or "")
    # At the guided number step a name works too.
    await say(admin, "/send")
    assert "To Ivan Petrov" in (await say(admin, "ivan p")).plain
    assert rig.gateway.sent == []


async def test_bad_names_are_answered_with_an_example(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    empty = await say(admin, "/contact +7 904 176-49-95")
    assert (
        "The name is empty" in empty.plain
        and "Example: /contact Ivan Petrov +7\u00a0904\u00a0176\u201149\u201195" in empty.plain
    )
    assert "cannot be a phone number" in (await say(admin, "/contact 12345 +7 904 176-49-95")).plain
    long = await say(admin, "/contact " + "x" * 65 + " +7 904 176-49-95")
    assert "too long: 65 characters, at most 64" in long.plain
    assert "Saved" in (await say(admin, "/contact " + "x" * 64 + " +7\u00a0904\u00a0176\u201149\u201195")).plain
    assert (
        "cannot contain a comma" in (await say(admin, "/contact Ivan, Olga +7\u00a0904\u00a0176\u201149\u201195")).plain
    )
    assert "means whoever is on duty" in (await say(admin, "/contact Duty +7\u00a0904\u00a0176\u201149\u201195")).plain
    typo = await say(admin, "/contact Ivan 8 904 12")
    assert "Too few digits" in typo.plain
    # A duplicate in another case: it exists, and /contact with its name updates its number.
    await say(admin, "/contact Иван +7 904 176-49-95")
    again = await say(admin, "/contact иван +7 916 123-45-67")
    assert (
        "Иван already exists" in again.plain
        and "Updated: Иван — +7\u00a0916\u00a0123\u201145\u201167 (was +7\u00a0904\u00a0176\u201149\u201195)"
        in (again.plain)
    )
    # HTML in a name is shown as typed, never parsed.
    bold = await say(admin, "/contact <b>Bold</b> +7 926 123-45-67")
    assert "<b>Bold</b> — +7\u00a0926\u00a0123\u201145\u201167" in bold.plain and "&lt;b&gt;Bold&lt;/b&gt;" in bold.text
    listing = await say(admin, "/contacts")
    assert "<b>Bold</b>" in listing.plain and "📨 <b>Bold</b>" in listing.button_texts
    assert ("Иван", OLGA) in contacts(rig) and len(contacts(rig)) == 3
    assert [a for a, _ in audit(rig)] == ["contact_add", "contact_add", "contact_update", "contact_add"]
    usage = await say(admin, "/contact")
    assert "Example: /contact Ivan Petrov" in usage.plain


async def test_who_may_delete_and_forged_presses(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    oleg = await operator_too(rig, admin)
    await say(admin, "/contact Иван +7 904 176-49-95")
    card = await say(oleg, "/contact Иван")
    refused = await rig.telegram.callback_answer(await oleg.press(card, "🗑 Delete"))
    assert "Only Alice, who added it, or an admin can delete it" in (refused.text or "")
    assert len(contacts(rig)) == 1
    # A stranger pressing Send or Delete with real callback data: no effect, nothing shown of the contact.
    stranger = rig.telegram.user(STRANGER, first_name="Sam", language_code="en")
    data = {b.text: b.data for row in card.buttons for b in row}
    for label in ("📨 Send", "🗑 Delete"):
        answer = await rig.telegram.callback_answer(await stranger.press_data(card.message_id, str(data[label])))
        assert "Иван" not in (answer.text or "") and "904" not in (answer.text or "")
    assert len(contacts(rig)) == 1 and not any("Иван" in m.plain for m in stranger.messages)
    await admin.wait_for(lambda m: "✅ Approve" in m.button_texts)  # the stranger's access request
    # A forged id: answered, nothing happens.
    forged = await rig.telegram.callback_answer(await oleg.press_data(card.message_id, "ct:del:999"))
    assert "no longer valid" in (forged.text or "")
    # Its own contact Oleg may delete; the admin may delete anyone's.
    mine = await say(oleg, "/contact Olga +7 916 123-45-67")
    await oleg.press(mine, "🗑 Delete")
    await oleg.wait_for(lambda m: m.message_id == mine.message_id and "Deleted: Olga" in m.plain)
    card = await say(admin, "/contact Иван")
    await admin.press(card, "🗑 Delete")
    await admin.wait_for(lambda m: m.message_id == card.message_id and "Deleted: Иван" in m.plain)
    assert contacts(rig) == []
    assert [a for a, _ in audit(rig)] == ["contact_add", "contact_add", "contact_delete", "contact_delete"]
    gone = await rig.telegram.callback_answer(await admin.press_data(card.message_id, str(data["📨 Send"])))
    assert "no longer valid" in (gone.text or "")


async def test_add_step_by_step_and_shared_contacts(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    empty = await say(admin, "/contacts")
    assert "No contacts yet" in empty.plain and empty.button_texts == ["➕ Add"]
    await admin.press(empty, "➕ Add")
    assert "The contact's name?" in (await admin.next_message()).plain
    assert "cannot be a phone number" in (await say(admin, "89041764995")).plain  # the step stays
    assert "The number of Olga?" in (await say(admin, "Olga")).plain
    assert "Too few digits" in (await say(admin, "8 916 12")).plain
    await admin.send_contact("+79161234567", "Olga")
    assert "Saved: Olga — +7\u00a0916\u00a0123\u201145\u201167" in (await admin.next_message()).plain
    # ➕ Add with a name that exists in another case: it says so, and the number given updates it.
    listing = await say(admin, "/contacts")
    await admin.press(listing, "➕ Add")
    await admin.next_message()
    exists = await say(admin, "OLGA")
    assert (
        "Olga is already saved (+7\u00a0916\u00a0123\u201145\u201167). Send a new number to update it" in exists.plain
    )
    assert (
        "Updated: Olga — +7\u00a0916\u00a0000\u201100\u201101 (was +7\u00a0916\u00a0123\u201145\u201167)"
        in (await say(admin, "+7\u00a0916\u00a0000\u201100\u201101")).plain
    )
    await say(admin, "/contact Olga +7 916 123-45-67")
    # A contact shared outside a flow: Send SMS or Save contact.
    await admin.send_contact("+79041764995", "Ivan", last_name="Petrov")
    offer = await admin.next_message()
    assert "Ivan Petrov — +7\u00a0904\u00a0176\u201149\u201195" in offer.plain
    assert offer.button_texts == ["📨 Send SMS", "💾 Save contact"]
    await admin.press(offer, "💾 Save contact")
    assert "Saved: Ivan Petrov — +7\u00a0904\u00a0176\u201149\u201195" in (await admin.next_message()).plain
    # Its name is taken: another is asked, and the saved one keeps its number.
    await admin.send_contact("+79261234567", "Olga")
    offer = await admin.next_message()
    await admin.press(offer, "💾 Save contact")
    assert "cannot be used as it is" in (await admin.next_message()).plain
    assert "Saved: Olga K — +7\u00a0926\u00a0123\u201145\u201167" in (await say(admin, "Olga K")).plain
    await admin.send_contact("+79261234567", "Olga")
    offer = await admin.next_message()
    await admin.press(offer, "📨 Send SMS")
    assert "To +7\u00a0926\u00a0123\u201145\u201167" in (await admin.next_message()).plain
    assert contacts(rig) == [("Olga", OLGA), ("Ivan Petrov", IVAN), ("Olga K", "79261234567")]


async def test_in_russian_and_in_the_menu_and_help(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Алиса", language_code="ru")
    saved = await say(admin, "/contact Иван Петров +7 904 176-49-95")
    assert "Сохранено: Иван Петров — +7\u00a0904\u00a0176\u201149\u201195" in saved.plain
    assert "Слишком длинное имя: 65 симв." in (await say(admin, "/contact " + "я" * 65 + " 89041764995")).plain
    assert "Не указано имя" in (await say(admin, "/contact 89041764995")).plain
    nobody = await say(admin, "/send Петя Сервер упал")
    assert (
        "Контакта или группы «Петя» нет" in nobody.plain
        and "/contact Петя +7\u00a0904\u00a0176\u201149\u201195" in nobody.plain
    )
    await say(admin, "/cancel")
    assert "Кому: Иван Петров (+7\u00a0904\u00a0176\u201149\u201195)" in (await say(admin, "/send иван петров")).plain
    help_ = await say(admin, "/help")
    for line in (
        "/contacts —",
        "/contact имя номер —",
        "/contact имя —",
        "/group имя: участник, участник —",
        "/groups —",
        "/duty —",
    ):
        assert line in help_.plain
    for lang, contacts_word in (("ru", "Контакты команды"), ("en", "The team's contacts")):
        menu = {c["command"]: c["description"] for c in rig.telegram.get_commands(language_code=lang) or []}
        assert menu["contacts"] == contacts_word and {"contact", "duty", "group", "groups"} <= set(menu)


async def test_a_new_send_never_reuses_an_earlier_steps_recipient(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, "/contact Иван +7 904 176-49-95")
    ask = await say(admin, "/send")
    await admin.press(ask, "👤 Иван")
    assert "To Иван" in (await admin.next_message()).plain
    assert (
        "To +7\u00a0916\u00a0123\u201145\u201167" in (await say(admin, "/send 89161234567")).plain
    )  # instead of the text
    preview = await say(admin, "hello")
    assert "To: +7\u00a0916\u00a0123\u201145\u201167" in preview.plain
    # A shared contact's Send SMS after a pick: its number, not the picked one.
    ask = await say(admin, "/send")
    await admin.press(ask, "👤 Иван")
    await admin.next_message()
    await admin.send("/cancel")
    await admin.next_message()
    await admin.send_contact("+79261234567", "Pavel")
    offer = await admin.next_message()
    await admin.press(offer, "📨 Send SMS")
    assert "To +7\u00a0926\u00a0123\u201145\u201167" in (await admin.next_message()).plain
    assert "To: +7\u00a0926\u00a0123\u201145\u201167" in (await say(admin, "hi")).plain


async def test_looking_up_a_contact_that_is_not_there(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    nobody = await say(admin, "/contact Петя")
    assert "No contact named “Петя”. Save one: /contact Петя +7\u00a0904\u00a0176\u201149\u201195" in nobody.plain
    await say(admin, "/contact Ivan Petrov +7 904 176-49-95")
    await say(admin, "/contact Ivan Sidorov +7 916 123-45-67")
    several = await say(admin, "/contact ivan")
    assert "Several contacts start with “ivan”" in several.plain
    await admin.press(several, "👤 Ivan Sidorov")
    assert "Ivan Sidorov — +7\u00a0916\u00a0123\u201145\u201167" in (await admin.next_message()).plain


async def test_a_picked_recipient_and_an_open_choice_survive_a_restart(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, "/contact Ivan Petrov +7 904 176-49-95")
    await say(admin, "/contact Ivan Sidorov +7 916 123-45-67")
    ask = await say(admin, "/send")
    await admin.press(ask, "👤 Ivan Petrov")
    await admin.next_message()
    await rig.restart()
    preview = await say(admin, "after the restart")
    assert (
        "To: Ivan Petrov (+7\u00a0904\u00a0176\u201149\u201195)" in preview.plain
        and "after the restart" in preview.plain
    )
    several = await say(admin, "/send ivan db1")
    await rig.restart()
    await admin.press(several, "👤 Ivan Sidorov")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    assert "To: Ivan Sidorov (+7\u00a0916\u00a0123\u201145\u201167)" in preview.plain and "db1" in preview.plain
