"""Templates (issue 16), end to end over loopback: /template saves, replaces, shows and deletes; /templates lists
and starts sends; `#name` in /send and outside a flow; the template buttons of the guided text step; bad input
answered in words with an example; forged presses have no effect."""

from __future__ import annotations

import json
import sqlite3

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.sms.templates import Problem, Refused, Save, Show, parse, reference
from tests.conftest import ADMIN, OPERATOR, STRANGER

NUMBER = "+7 904 176-49-95"
DB_DOWN = "Server db1 is down, failover started"


def rows(h: Harness, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(h.db_path) as conn:
        return list(conn.execute(sql))


def template_ids(h: Harness) -> dict[str, int]:
    return {str(name): int(i) for i, name in rows(h, "SELECT id, name FROM templates")}  # type: ignore[call-overload]


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


async def preview_after(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.wait_for(lambda m: "Check before sending" in m.plain or "Проверьте перед отправкой" in m.plain)


async def allowed_operator(h: Harness) -> tuple[FakeUser, FakeUser]:
    admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = h.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    return admin, operator


# --- the parser, alone --------------------------------------------------------------------------------------
def test_the_parser_reads_save_show_and_every_refusal() -> None:
    assert parse("dbdown: Server db1 is down") == Save("dbdown", "Server db1 is down")
    assert parse("#dbdown:  two\nlines ") == Save("dbdown", "two\nlines")
    assert parse("  DBdown ") == Show("DBdown")
    assert parse("web: see https://status.example/db1") == Save("web", "see https://status.example/db1")
    cases = {
        "": Problem.USAGE,
        "dbdown Server down": Problem.NO_COLON,
        ": text": Problem.EMPTY_NAME,
        "x" * 65 + ": text": Problem.NAME_TOO_LONG,
        "db down: text": Problem.NAME_CHARACTERS,
        "<b>: text": Problem.NAME_CHARACTERS,
        "112: text": Problem.NAME_NUMBER,
        "1-2_3: text": Problem.NAME_NUMBER,
        "dbdown:   ": Problem.EMPTY_TEXT,
        "dbdown: #other": Problem.TEXT_REFERENCE,
        "dbdown: " + "x" * 1531: Problem.TEXT_TOO_LONG,
    }
    for args, problem in cases.items():
        got = parse(args)
        assert isinstance(got, Refused) and got.problem is problem, (args, got)
    assert parse("x" * 64 + ": text") == Save("x" * 64, "text")
    assert parse("дежурный-2: текст") == Save("дежурный-2", "текст")
    db_down = parse("db down: text")
    assert isinstance(db_down, Refused) and db_down.suggestion == "db_down"
    assert reference(" #dbdown ") == "dbdown" and reference("#dbdown now") is None and reference("db #x") is None


# --- /template: save, replace, show, delete -----------------------------------------------------------------
async def test_save_replace_show_and_delete_are_audited(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    saved = await say(admin, f"/template dbdown: {DB_DOWN}")
    assert "Template #dbdown saved: 36 characters, 1 SMS" in saved.plain and DB_DOWN in saved.plain
    assert "/send +7\u00a0904\u00a0176\u201149\u201195 #dbdown" in saved.plain

    replaced = await say(admin, "/template DBdown: Server db1 is down again")
    assert "Template #DBdown replaced" in replaced.plain and f"It was:\n{DB_DOWN}" in replaced.plain
    assert rows(rig, "SELECT name, text FROM templates") == [("DBdown", "Server db1 is down again")]

    card = await say(admin, "/template dbdown")
    assert "Template #DBdown" in card.plain and "Server db1 is down again" in card.plain
    assert "1 SMS" in card.plain and "saved by Alice" in card.plain
    assert card.button_texts == ["📨 Send", "🗑 Delete"]

    await admin.press(card, "🗑 Delete")
    gone = await admin.wait_for(lambda m: m.message_id == card.message_id and "deleted" in m.plain)
    assert "/template DBdown: Server db1 is down again" in gone.plain and gone.buttons == []  # how to bring it back
    assert rows(rig, "SELECT COUNT(*) FROM templates") == [(0,)]
    assert "There is no template #dbdown" in (await say(admin, "/template dbdown")).plain

    audit = rows(rig, "SELECT actor_id, action, details FROM audit_log WHERE action LIKE 'template%' ORDER BY id")
    assert [(a, b) for a, b, _ in audit] == [
        (ADMIN, "template_save"),
        (ADMIN, "template_replace"),
        (ADMIN, "template_delete"),
    ]
    details = [json.loads(str(d)) for _, _, d in audit]
    assert details[0] == {"name": "dbdown", "text": DB_DOWN}
    assert details[1]["old_text"] == DB_DOWN and details[1]["text"] == "Server db1 is down again"
    assert details[2]["text"] == "Server db1 is down again"


async def test_cyrillic_names_are_one_template_in_any_case_and_html_is_shown_as_text(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Алекс", language_code="ru")
    first = await say(admin, "/template БД: База db1 не отвечает")
    assert "Шаблон #БД сохранён" in first.plain
    again = await say(admin, "/template бд: База <b>db1</b> & db2 не отвечают")
    assert "Шаблон #бд заменён" in again.plain and "Прежний текст:\nБаза db1 не отвечает" in again.plain
    assert "База <b>db1</b> & db2 не отвечают" in again.plain  # shown as typed, not as bold
    assert "&lt;b&gt;db1&lt;/b&gt; &amp; db2" in again.text
    assert rows(rig, "SELECT key, name FROM templates") == [("бд", "бд")]
    card = await say(admin, "/template БД")
    assert "База <b>db1</b> & db2 не отвечают" in card.plain and card.button_texts == ["📨 Отправить", "🗑 Удалить"]
    preview = await preview_after(admin, "/send 89041764995 #Бд")
    assert "База <b>db1</b> & db2 не отвечают" in preview.plain


# --- /templates and its Send buttons ------------------------------------------------------------------------
async def test_the_list_starts_a_send_that_asks_the_number_and_keeps_the_text(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    assert "No templates yet" in (await say(admin, "/templates")).plain
    await say(admin, f"/template dbdown: {DB_DOWN}")
    await say(admin, "/template disk: Disk full on web2")
    listing = await say(admin, "/templates")
    assert "Templates: 2" in listing.plain and "#dbdown — Server db1 is down" in listing.plain
    assert listing.button_texts == ["📨 #dbdown", "📨 #disk"]
    await admin.press(listing, "📨 #disk")
    asked = await admin.next_message()
    assert "Template #disk: “Disk full on web2”" in asked.plain and "Who gets the SMS?" in asked.plain
    preview = await preview_after(admin, NUMBER)
    assert "To: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain and "Disk full on web2" in preview.plain
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [(s.msisdn, s.text) for s in rig.gateway.sent] == [("79041764995", "Disk full on web2")]


async def test_the_list_is_paged_over_ten(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    for i in range(12):
        await say(admin, f"/template t{i:02d}: text number {i}")
    listing = await say(admin, "/templates")
    assert "Templates: 12 (page 1 of 2)" in listing.plain
    assert len([b for b in listing.button_texts if b.startswith("📨")]) == 10 and "▶" in listing.button_texts
    await admin.press(listing, "▶")
    second = await admin.wait_for(lambda m: m.message_id == listing.message_id and "page 2 of 2" in m.plain)
    assert second.button_texts == ["📨 #t10", "📨 #t11", "◀"]


# --- #name in /send ---------------------------------------------------------------------------------------
async def test_hash_name_in_send_and_in_a_message_that_starts_with_a_number(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/template dbdown: {DB_DOWN}")
    one_shot = await preview_after(admin, "/send +7 904 176-49-95 #dbdown")
    assert DB_DOWN in one_shot.plain and "#dbdown" not in one_shot.plain
    outside = await preview_after(admin, "8 916 123-45-67 #DBDOWN")
    assert "To: +7\u00a0916\u00a0123\u201145\u201167" in outside.plain and DB_DOWN in outside.plain
    assert rows(rig, "SELECT text FROM sends") == [(DB_DOWN,), (DB_DOWN,)]
    # Words around it make it a plain text.
    plain = await preview_after(admin, "/send 89261234567 #dbdown is back")
    assert "#dbdown is back" in plain.plain


async def test_an_unknown_hash_name_lists_the_names_and_keeps_the_number(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    nothing = await say(admin, "/send +7 904 176-49-95 #dbdown")
    assert "There is no template #dbdown" in nothing.plain and "No templates are saved yet" in nothing.plain
    assert "Check before sending" not in nothing.plain and rows(rig, "SELECT COUNT(*) FROM sends") == [(0,)]
    await admin.send("/cancel")
    await admin.next_message()
    await say(admin, f"/template dbdown: {DB_DOWN}")
    await say(admin, "/template disk: Disk full on web2")
    wrong = await say(admin, "/send +7 904 176-49-95 #dbdwn")
    assert "There is no template #dbdwn" in wrong.plain and "Templates: #dbdown, #disk" in wrong.plain
    assert (
        "To +7\u00a0904\u00a0176\u201149\u201195. Now send the text" in wrong.plain
    )  # the number is kept: the text step
    assert wrong.button_texts == ["#disk", "#dbdown", "✖️ Cancel"]  # unused yet: the newest first
    assert rows(rig, "SELECT COUNT(*) FROM sends") == [(0,)]  # never sent (nor drafted) as "#dbdwn"
    typed = await preview_after(admin, "#dbdown")  # the right name at the text step
    assert DB_DOWN in typed.plain and "To: +7\u00a0904\u00a0176\u201149\u201195" in typed.plain
    outside = await say(admin, "89161234567 #nope")
    assert "There is no template #nope" in outside.plain and "Check before sending" not in outside.plain
    assert rig.gateway.sent == []


# --- the guided text step -----------------------------------------------------------------------------------
async def test_the_guided_text_step_offers_the_most_used_templates(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    for i in range(8):
        await say(admin, f"/template t{i}: text {i}")
    for _ in range(2):
        await preview_after(admin, "/send 89161234567 #t3")  # used twice: first
    await preview_after(admin, "/send 89161234567 #t1")  # used once: second; then the newest
    await say(admin, "/send")
    question = await say(admin, "89041764995")
    assert "Now send the text" in question.plain and "Or tap a template" in question.plain
    assert question.button_texts == ["#t3", "#t1", "#t7", "#t6", "#t5", "#t4", "✖️ Cancel"]
    # One tap: the preview with that text; the question keeps its words, without buttons.
    await admin.press(question, "#t5")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    assert "text 5" in preview.plain and "To: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain
    shown = rig.telegram.message(admin.chat_id, question.message_id)
    assert shown.buttons == [] and "#t5" in shown.plain
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [(s.msisdn, s.text) for s in rig.gateway.sent] == [("79041764995", "text 5")]
    # A press on the old question once the step is over opens nothing.
    answer = await rig.telegram.callback_answer(await admin.press_data(question.message_id, question_data(rig, "t5")))
    assert "no longer open" in (answer.text or "")
    assert len(rig.gateway.sent) == 1


def question_data(h: Harness, name: str) -> str:
    return f"tp:use:{template_ids(h)[name]}"


async def test_a_template_button_answers_only_the_current_text_step(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/template dbdown: {DB_DOWN}")
    first = await say(admin, "/send 89041764995")
    second = await say(admin, "/send 89161234567")
    answer = await rig.telegram.callback_answer(await admin.press(first, "#dbdown"))
    assert "no longer open" in (answer.text or "") and rows(rig, "SELECT COUNT(*) FROM sends") == [(0,)]
    await admin.press(second, "#dbdown")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    assert "To: +7\u00a0916\u00a0123\u201145\u201167" in preview.plain and DB_DOWN in preview.plain


async def test_the_text_step_without_templates_has_only_cancel(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    question = await say(admin, "/send 89041764995")
    assert "Now send the text" in question.plain and "template" not in question.plain
    assert question.button_texts == ["✖️ Cancel"]


# --- bad input ----------------------------------------------------------------------------------------------
async def test_bad_input_is_answered_in_words_with_an_example(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    expected = {
        "/template": ["Templates are the team's saved SMS texts", "/template dbdown: Server db1 is down"],
        "/template dbdown Server db1 is down": ["put a colon", "/template dbdown: Server db1 is down"],
        "/template : Server down": ["name of the template is missing", "Example: /template dbdown:"],
        "/template " + "x" * 65 + ": hi": ["65 characters long; at most 64", "Example"],
        "/template db down: hi": ["“db down” cannot be a template name", "letters, digits, _ and -", "db_down: "],
        "/template 112: hi": ["“112” looks like a number", "at least one letter", "Example"],
        "/template dbdown:": ["text of the template is missing", "Example: /template dbdown:"],
        "/template dbdown: " + "x" * 1531: ["too long for a template: 11 SMS; at most 10", "Shorten"],
        "/template dbdown: #disk": ["cannot be just #name", "Example"],
        "/template <b>x</b>: hi": ["“<b>x</b>” cannot be a template name", "Example"],
        "/template <b>x</b>": ["“<b>x</b>” cannot be a template name"],
    }
    for command, words in expected.items():
        answer = await say(admin, command)
        for word in words:
            assert word in answer.plain, (command, answer.plain)
    html = await say(admin, "/template <i>: hi")
    assert "&lt;i&gt;" in html.text  # shown as text, never as markup
    assert rows(rig, "SELECT COUNT(*) FROM templates") == [(0,)]
    missing = await say(admin, "/template nope")
    assert "There is no template #nope" in missing.plain and "/template nope: " in missing.plain


async def test_bad_input_in_russian(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Алекс", language_code="ru")
    assert "поставьте двоеточие" in (await say(admin, "/template бд упала база")).plain
    assert "похоже на номер" in (await say(admin, "/template 112: текст")).plain
    long = await say(admin, "/template бд: " + "я" * 700)
    assert "11 СМС, а можно не больше 10" in long.plain


# --- forged presses -------------------------------------------------------------------------------------
async def test_forged_presses_of_a_stranger_or_a_non_owner_have_no_effect(rig: Harness) -> None:
    admin, operator = await allowed_operator(rig)
    await say(admin, f"/template dbdown: {DB_DOWN}")
    template_id = template_ids(rig)["dbdown"]

    await operator.send("/template dbdown")  # any operator sees it and may send it, not delete it
    card = await operator.wait_for(lambda m: "Template #dbdown" in m.plain)
    assert card.button_texts == ["📨 Send"]
    forged = await operator.press_data(card.message_id, f"tp:delete:{template_id}")
    answer = await rig.telegram.callback_answer(forged)
    assert answer.show_alert and "Only the one who saved #dbdown, or an admin" in (answer.text or "")
    assert template_ids(rig) == {"dbdown": template_id}

    stranger = rig.telegram.user(STRANGER, first_name="Eve", language_code="en")
    for data in (f"tp:delete:{template_id}", f"tp:send:{template_id}", f"tp:use:{template_id}", "tpp:1"):
        answer = await rig.telegram.callback_answer(await stranger.press_data(1, data))
        assert "dbdown" not in (answer.text or "") and DB_DOWN not in (answer.text or "")
    assert template_ids(rig) == {"dbdown": template_id}
    assert all(DB_DOWN not in m.plain for m in stranger.messages)
    # ... nor on a message in the admin's chat.
    answer = await rig.telegram.callback_answer(await stranger.press_data(card.message_id, f"tp:delete:{template_id}"))
    assert template_ids(rig) == {"dbdown": template_id}

    unknown = await rig.telegram.callback_answer(await operator.press_data(card.message_id, "tp:send:999"))
    assert "no longer exists" in (unknown.text or "")
    outside = await rig.telegram.callback_answer(await operator.press_data(card.message_id, f"tp:use:{template_id}"))
    assert "no longer open" in (outside.text or "")  # not at the text step: nothing opens
    assert rows(rig, "SELECT COUNT(*) FROM sends") == [(0,)]

    # Their own template, they may delete; the admin may delete anyone's.
    await say(operator, "/template mine: Oleg's text")
    own = await say(operator, "/template mine")
    assert own.button_texts == ["📨 Send", "🗑 Delete"]
    await operator.press(own, "🗑 Delete")
    await operator.wait_for(lambda m: m.message_id == own.message_id and "deleted" in m.plain)
    await say(operator, "/template theirs: Oleg again")
    await admin.send("/template theirs")
    theirs = await admin.wait_for(lambda m: "Template #theirs" in m.plain)  # after the stranger's access request
    await admin.press(theirs, "🗑 Delete")
    await admin.wait_for(lambda m: m.message_id == theirs.message_id and "deleted" in m.plain)
    assert template_ids(rig) == {"dbdown": template_id}
    assert rig.gateway.sent == []


# --- the menu and /help -------------------------------------------------------------------------------------
async def test_the_commands_are_in_the_menu_and_help_in_both_languages(rig: Harness) -> None:
    for code, words in (("en", "Saved SMS texts"), ("ru", "Сохранённые тексты СМС")):
        menu = {c["command"]: c["description"] for c in rig.telegram.get_commands(language_code=code) or []}
        assert menu["templates"] == words and "template" in menu
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    help_text = (await say(admin, "/help")).plain
    assert "/template name: text" in help_text and "/templates" in help_text and "/send number #name" in help_text


async def test_a_template_send_survives_a_restart_at_the_number_step(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/template dbdown: {DB_DOWN}")
    card = await say(admin, "/template dbdown")
    await admin.press(card, "📨 Send")
    assert "Who gets the SMS?" in (await admin.next_message()).plain
    await rig.restart()
    preview = await preview_after(admin, NUMBER)  # the kept text is in SQLite with the step
    assert DB_DOWN in preview.plain and "To: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain
    assert rows(rig, "SELECT uses FROM templates") == [(1,)]
