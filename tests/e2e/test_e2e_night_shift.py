"""The night-shift review (issue 15), end to end over loopback: stale previews, corrections, notices that say
which SMS, and the words a person woken at 3 a.m. reads."""

from __future__ import annotations

import re
import sqlite3
from decimal import Decimal

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN, OPERATOR, STRANGER


async def preview_for(user: FakeUser, command: str) -> BotMessage:
    await user.send(command)
    return await user.wait_for(lambda m: "Check before sending" in m.plain)


def states(rig: Harness) -> list[tuple[str, str | None]]:
    with sqlite3.connect(rig.db_path) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT state, error_text FROM sends ORDER BY id")]


async def press_old_send(rig: Harness, user: FakeUser, preview: BotMessage) -> str:
    """A press on the preview's Send button as it was first shown (its real callback data): the toast."""
    data = preview.versions[0].buttons[0][0].data
    answer = await rig.telegram.callback_answer(await user.press_data(preview.message_id, data))
    return answer.text or ""


# --- 1. /cancel and corrections close the older previews ------------------------------------------------------
async def test_cancel_closes_the_open_previews(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    first = await preview_for(admin, "/send +7 904 176-49-95 Server db1 is down")
    second = await preview_for(admin, "/send 89161234567 Disk full on web2")
    await admin.send("/cancel")
    reply = await admin.wait_for(lambda m: m.message_id not in (first.message_id, second.message_id))
    assert "can no longer send" in reply.plain
    for preview, text in ((first, "Server db1 is down"), (second, "Disk full on web2")):
        closed = rig.telegram.message(admin.chat_id, preview.message_id)
        assert "Cancelled with /cancel" in closed.plain and text in closed.plain
        assert closed.buttons == []
        assert "cancelled" in await press_old_send(rig, admin, preview)
    assert rig.gateway.sent == []
    assert states(rig) == [("cancelled", "cancelled"), ("cancelled", "cancelled")]
    await admin.send("/cancel")
    assert "Nothing to cancel" in (await admin.next_message()).plain


async def test_a_corrected_send_replaces_the_older_preview(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="ru")
    typo = await preview_for_ru(admin, "/send 89041764995 Сервер упол")
    other = await preview_for_ru(admin, "/send 89161234567 Другое")
    fixed = await preview_for_ru(admin, "/send 89041764995 Сервер упал")
    closed = await admin.wait_for(lambda m: m.message_id == typo.message_id and "Заменено" in m.plain)
    assert closed.buttons == [] and "Сервер упол" in closed.plain
    assert "заменён" in await press_old_send(rig, admin, typo)
    again = await preview_for_ru(admin, "/send 89261234567 Сервер упал")  # same text, another number
    await admin.wait_for(lambda m: m.message_id == fixed.message_id and "Заменено" in m.plain)
    # The draft to another number with another text stays open; the newest one sends.
    assert rig.telegram.message(admin.chat_id, other.message_id).buttons != []
    await admin.press(again, "✅ Отправить")
    await admin.wait_for(lambda m: m.message_id == again.message_id and "Отправлено" in m.plain)
    assert [(s.msisdn, s.text) for s in rig.gateway.sent] == [("79261234567", "Сервер упал")]
    assert [s for s, _ in states(rig)] == ["cancelled", "draft", "cancelled", "accepted"]


async def preview_for_ru(user: FakeUser, command: str) -> BotMessage:
    await user.send(command)
    return await user.wait_for(lambda m: "Проверьте перед отправкой" in m.plain)


# --- 2. a delivery notice names its SMS ---------------------------------------------------------------------
async def test_delivery_notices_name_their_sms(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    texts = ["Server db1 is down, failover started at the primary site", "Disk full on web2"]
    for number, text in zip(("89041764995", "89161234567"), texts, strict=True):
        preview = await preview_for(admin, f"/send {number} {text}")
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m, p=preview: m.message_id == p.message_id and "Sent to" in m.plain)
    notices = [await admin.wait_for(lambda m: "delivered" in m.plain and m.reply_to is not None) for _ in texts]
    by_number = {("904\u00a0176" in n.plain): n.plain for n in notices}
    first, second = by_number[True], by_number[False]
    assert "“Server db1 is down, failover…”, sent " in first
    assert "“Disk full on web2”, sent " in second
    sent = rig.gateway.sent
    assert sent[0].id in first and sent[1].id in second


async def test_a_russian_notice_quotes_with_guillemets(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="ru")
    preview = await preview_for_ru(admin, "/send 89041764995 Сервер упал")
    await admin.press(preview, "✅ Отправить")
    notice = await admin.wait_for(lambda m: "доставлено" in m.plain and m.reply_to is not None)
    assert "«Сервер упал», отправлено " in notice.plain


# --- 3. a correction keeps the text -------------------------------------------------------------------------
async def test_a_bad_number_keeps_the_text_and_asks_for_the_number(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="ru")
    await admin.send("/send 8 904 176-49 Сервер упал")
    refused = await admin.next_message()
    assert "Слишком мало цифр" in refused.plain and "«Сервер упал»" in refused.plain
    await admin.send("+7 904 176-49-95")  # the corrected number alone
    preview = await admin.wait_for(lambda m: "Проверьте перед отправкой" in m.plain)
    assert "Кому: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain and "Сервер упал" in preview.plain
    await admin.press(preview, "✅ Отправить")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Отправлено" in m.plain)
    assert [(s.msisdn, s.text) for s in rig.gateway.sent] == [("79041764995", "Сервер упал")]


async def test_a_message_that_starts_with_a_number_is_a_send(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="ru")
    preview = await preview_for_ru(admin, "+7 904 176-49-95 Сервер упал")
    assert "Кому: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain and "Сервер упал" in preview.plain
    await admin.send("8 916 123 45 67")  # the number alone: asks for the text
    assert "+7\u00a0916\u00a0123\u201145\u201167" in (await admin.next_message()).plain
    second = await preview_for_ru(admin, "Диск заполнен")
    assert "Кому: +7\u00a0916\u00a0123\u201145\u201167" in second.plain
    await admin.send("Сервер упал")  # no number, no flow: still the hint, nothing sent
    assert "/send" in (await admin.next_message()).plain
    assert rig.gateway.sent == []


async def test_a_comma_after_the_number(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    preview = await preview_for(admin, "/send 8 (904) 176-49-95, тест")
    assert "To: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain
    assert preview.plain.endswith("\nтест")


# --- 4. a lone digit that could start the text ----------------------------------------------------------------
async def test_a_lone_digit_is_asked_about_into_the_number(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="ru")
    await admin.send("/send 8 904 176 49 9 5 серверов упало")
    question = await admin.next_message()
    assert "не хватает цифры" in question.plain and "«5»" in question.plain
    assert "+7\u00a0904\u00a0176\u201149\u201195, текст «серверов упало»" in question.plain
    assert "текст «5 серверов упало»" in question.plain
    assert rig.gateway.sent == [] and states(rig) == []  # no draft before the answer
    await admin.press(question, "📱 +7\u00a0904\u00a0176\u201149\u201195")
    preview = await admin.wait_for(lambda m: "Проверьте перед отправкой" in m.plain)
    assert "Кому: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain and preview.plain.endswith("\nсерверов упало")
    asked = rig.telegram.message(admin.chat_id, question.message_id)
    assert asked.buttons == []  # answered: its buttons are gone
    stale = await rig.telegram.callback_answer(await admin.press_data(question.message_id, "dig:text"))
    assert "больше не" in (stale.text or "")


async def test_a_lone_digit_kept_in_the_text(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("8 904 176 49 9 5 servers down")  # without /send: the same question
    question = await admin.next_message()
    assert "one digit short" in question.plain
    await admin.press(question, "✏️ “5 …” is the text")
    asked = await admin.wait_for(lambda m: "Who gets the SMS" in m.plain)
    assert "“5 servers down”" in asked.plain
    await admin.send("8 904 176 49 96")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    assert "To: +7\u00a0904\u00a0176\u201149\u201196" in preview.plain and preview.plain.endswith("\n5 servers down")


# --- 5. /status: unknown ids, the latest SMS, Refresh ------------------------------------------------------
async def send_and_wait(user: FakeUser, command: str, sent_word: str = "Sent to") -> BotMessage:
    preview = await preview_for(user, command)
    await user.press(preview, 1)
    return await user.wait_for(lambda m: m.message_id == preview.message_id and sent_word in m.plain)


async def test_status_of_an_unknown_or_upper_case_id(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await send_and_wait(admin, "/send 89041764995 Server db1 is down")
    gateway_id = rig.gateway.sent[0].id
    await admin.send("/status nosuchid1234567")
    unknown = await admin.next_message()
    assert "No SMS with id nosuchid1234567 is known" in unknown.plain and "gateway" not in unknown.plain
    await admin.send("/status NOSUCHID1234567")
    assert "Ids are in lower case: nosuchid1234567" in (await admin.next_message()).plain
    await admin.send(f"/status {gateway_id.upper()}")  # the SMS itself, typed in capitals
    found = await admin.next_message()
    assert gateway_id in found.plain and "Server db1 is down" in found.plain


async def test_status_alone_shows_the_latest_sms_with_the_earlier_ones_and_refresh(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.gateway.delivery_delay = 3600.0  # stays "not delivered yet" until the test pins a status
    await send_and_wait(admin, "/send 89041764995 First one")
    await send_and_wait(admin, "/send 89161234567 Second one")
    await admin.send("/status")
    latest = await admin.next_message()
    assert "Second one" in latest.plain and "To +7\u00a0916\u00a0123\u201145\u201167, sent" in latest.plain
    assert "not delivered yet" in latest.plain
    assert latest.button_texts[0] == "🔄 Refresh" and "+7\u00a0904\u00a0176\u201149\u201195" in latest.button_texts[1]
    rig.gateway.force_status(rig.gateway.sent[1].id, 4, "DELIVRD")
    await admin.press(latest, "🔄 Refresh")
    await admin.wait_for(lambda m: m.message_id == latest.message_id and "delivered (final)" in m.plain)
    await admin.press(latest, 2)  # the earlier SMS
    earlier = await admin.wait_for(lambda m: m.message_id == latest.message_id and "First one" in m.plain)
    assert "+7\u00a0916\u00a0123\u201145\u201167" in earlier.button_texts[1]


# --- 6. /history: when it was sent, in that order ------------------------------------------------------------
async def test_history_shows_and_orders_by_the_time_sent(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    early = await preview_for(admin, "/send 89041764995 Made first, sent last")
    await send_and_wait(admin, "/send 89161234567 Made second, sent first")
    await admin.press(early, 1)
    await admin.wait_for(lambda m: m.message_id == early.message_id and "Sent to" in m.plain)
    # The first draft was made a while before it was sent (23:19 in the review, sent 23:21).
    with sqlite3.connect(rig.db_path) as conn:
        conn.execute("UPDATE sends SET created_at = 1767298740 WHERE id = 1")  # 2026-01-01 20:19 UTC
        conn.execute("UPDATE sends SET created_at = 1767298800, sent_at = 1767298830 WHERE id = 2")
        conn.execute("UPDATE sends SET sent_at = 1767298860 WHERE id = 1")
    await admin.send("/history")
    page = (await admin.next_message()).plain
    assert page.index("Made first, sent last") < page.index("Made second, sent first")
    assert (
        "01.01 23:21 · +7\u00a0904\u00a0176\u201149\u201195" in page
        and "01.01 23:20 · +7\u00a0916\u00a0123\u201145\u201167" in page
    )
    assert "23:19" not in page


# --- 7. access: told in words, names not blanks --------------------------------------------------------------
async def test_a_denied_stranger_is_told(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    stranger = rig.telegram.user(STRANGER, first_name="Sam", language_code="ru")
    await stranger.send("/start")
    assert "когда они решат, вам придёт сообщение" in (await stranger.next_message()).plain
    request = await admin.wait_for(lambda m: "Access request" in m.plain)
    await admin.press(request, "🚫 Deny")
    told = await stranger.next_message()
    assert "отклонил ваш запрос" in told.plain


async def test_a_revoked_operator_is_answered_in_words(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = rig.telegram.user(OPERATOR, first_name="Olga", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    preview = await preview_for(operator, "/send 89041764995 still allowed?")
    [send_data] = [b.data for row in preview.buttons for b in row if b.text == "✅ Send"]
    await admin.send(f"/deny {OPERATOR}")
    await admin.wait_for(lambda m: "no longer has access" in m.plain)
    for _ in range(2):  # not once per ten minutes: every time
        # The preview lost its buttons (the draft was cancelled): a press of the old button still gets words.
        answer = await rig.telegram.callback_answer(await operator.press_data(preview.message_id, str(send_data)))
        assert "taken away your access" in (answer.text or "")
        await operator.send("/balance")
        assert "taken away your access" in (await operator.next_message()).plain
    assert rig.gateway.sent == []


async def test_users_shows_names_also_after_allow_by_id(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", last_name="Smith", language_code="en")
    stranger = rig.telegram.user(STRANGER, first_name="Sam", language_code="en")
    await stranger.send("/start")
    request = await admin.wait_for(lambda m: "Access request" in m.plain)
    await admin.press(request, "🚫 Deny")
    await stranger.wait_for(lambda m: "declined" in m.plain)
    await admin.send(f"/allow {STRANGER}")  # changed their mind: by id, the request long decided
    await admin.wait_for(lambda m: "can now use the bot" in m.plain)
    await admin.send("/users")
    listing = (await admin.wait_for(lambda m: "People with access" in m.plain)).plain
    assert f"• {ADMIN} Alice Smith — admin" in listing
    assert f"• {STRANGER} Sam — operator" in listing
    assert "— —" not in listing


# --- 8. sent and delivered look different; plain characters in one tap ---------------------------------------
async def test_sent_and_delivered_look_different(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    sent = (await send_and_wait(admin, "/send 89041764995 Server db1 is down")).plain
    assert sent.startswith("📤 Sent to") and "balance left: 999" in sent
    notice = await admin.wait_for(lambda m: "delivered" in m.plain and m.reply_to is not None)
    assert notice.plain.startswith("✅") and "📤" not in notice.plain


async def test_an_em_dash_is_named_and_replaced_in_one_tap(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    text = "Server db1 is down — failover to db2 started, the replica is catching up, ETA 10 min"
    preview = await preview_for(admin, f"/send 89041764995 {text}")
    assert "84 characters, 2 SMS" in preview.plain and "UCS-2" not in preview.plain
    assert "Because of —, it costs 2 SMS; with plain characters, 1." in preview.plain
    await admin.press(preview, "🔤 Plain characters: 1 SMS")
    plain = await admin.wait_for(lambda m: m.message_id == preview.message_id and "84 characters, 1 SMS" in m.plain)
    assert "Because of" not in plain.plain and "🔤 Plain characters: 1 SMS" not in plain.button_texts
    await admin.press(plain, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert [s.text for s in rig.gateway.sent] == [text.replace("—", "-")]


async def test_amounts_do_not_break(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.gateway.balance = Decimal("12345.5")
    await admin.send("/balance")
    assert "12\u00a0345.50" in (await admin.next_message()).plain


async def test_numbers_do_not_break_and_read_back(rig: Harness) -> None:
    """A number the bot shows never breaks across lines (no-break spaces and hyphens), in the preview, the sent
    message and the notice; copied back from a message into /send, it is the same number."""
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    shown = "+7\u00a0904\u00a0176\u201149\u201195"
    preview = await preview_for(admin, "/send 8 904 176 49 95 Disk full on web2")
    assert f"To: {shown}" in preview.plain and "+7 904" not in preview.plain
    await admin.press(preview, "✅ Send")
    sent = await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert f"Sent to {shown}." in sent.plain
    notice = await admin.wait_for(lambda m: "delivered" in m.plain and m.reply_to is not None)
    assert shown in notice.plain and "176-49" not in notice.plain
    times = re.findall(r"\d\d\.\d\d \d\d:\d\d", notice.plain)  # the time sent, once; the status's only when later
    assert len(times) == 1 or (len(times) == 2 and "status as of" in notice.plain), notice.plain
    again = await preview_for(admin, f"/send {shown} Disk full on web3")
    assert f"To: {shown}" in again.plain and "Disk full on web3" in again.plain


# --- 9. words ------------------------------------------------------------------------------------------------
async def test_words_a_native_reader_expects(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="ru")
    rig.gateway.force_status("idrejected000001", 5, "REJECTD")
    await admin.send("/status idrejected000001")
    rejected = (await admin.next_message()).plain
    assert "отклонено оператором связи" in rejected and "(статус окончательный)" in rejected
    await admin.send("/balance")
    balance = (await admin.next_message()).plain
    assert re.search(r"\(на \d\d:\d\d\)$", balance), balance  # no seconds
    await admin.send("/send 810 44 20 7946 0958 hi")
    assert "Номер начинайте с +7 или 8" in (await admin.next_message()).plain
    english = rig.telegram.user(OPERATOR, first_name="Olga", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    await english.send("/help")
    help_text = (await english.wait_for(lambda m: "Example" in m.plain)).plain
    assert "“Send”" in help_text and "«" not in help_text
    preview = await preview_for(english, "/send 89041764995 hi")
    assert "Sender: OnCall" in preview.plain and "From:" not in preview.plain


async def test_a_lone_digit_at_the_number_step_is_asked_about_too(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send")
    await admin.next_message()
    await admin.send("8 904 176 49 9 5 servers down")
    assert "one digit short" in (await admin.next_message()).plain
    assert rig.gateway.sent == [] and states(rig) == []
