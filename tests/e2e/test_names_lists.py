"""A recipient list never shrinks quietly, and a name not found offers the closest (issue 23, points 1, 8, 16;
issue 24 row 17): the real bot against the fake Telegram and the sandbox gateway over loopback, real SQLite."""

from __future__ import annotations

from collections import Counter

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN

OLGA, IVAN, THIRD = "79161234567", "79041764995", "79041112234"


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


async def book(user: FakeUser) -> None:
    for line in ("/contact Ольга +7 916 123-45-67", "/contact Иван Петров +7 904 176-49-95"):
        assert "✅" in (await say(user, line)).plain


def sent(rig: Harness) -> Counter[str]:
    return Counter(r.fields.get("MSISDN", "") for r in rig.gateway.requests if r.action == "send")


async def test_a_typo_after_a_comma_is_asked_about_and_the_list_goes_on(rig: Harness) -> None:
    olga = rig.telegram.user(ADMIN, first_name="Ольга", language_code="ru")
    await book(olga)
    asked = await say(olga, f"/send Ольга, Ивн, {THIRD} Сервер упал")
    assert "«Ивн» — такого контакта нет: опечатка или начало текста?" in asked.plain
    assert "Уже в списке: Ольга" in asked.plain
    assert asked.button_texts == ["👤 Иван Петров", "✏️ Это текст", "✖️ Отмена"]
    await olga.press(asked, "👤 Иван Петров")
    preview = await olga.wait_for(lambda m: "Проверьте перед отправкой" in m.plain)
    assert "получателей: 3" in preview.plain and "Иван Петров" in preview.plain and "Ольга" in preview.plain
    assert "Сервер упал" in preview.plain and "Ивн" not in preview.plain
    await olga.press(preview, "✅ Отправить (3)")
    await olga.wait_for(lambda m: m.message_id == preview.message_id and "Доставлено: 3" in m.plain, timeout=30)
    assert sent(rig) == Counter({OLGA: 1, IVAN: 1, THIRD: 1})


async def test_it_is_the_text_keeps_every_word(rig: Harness) -> None:
    olga = rig.telegram.user(ADMIN, first_name="Ольга", language_code="ru")
    await book(olga)
    asked = await say(olga, "/send Ольга, 8904123 сервер упал")
    assert "«8904123» — не номер телефона: опечатка или начало текста?" in asked.plain
    assert "✏️ Это текст" in asked.button_texts
    await olga.press(asked, "✏️ Это текст")
    preview = await olga.wait_for(lambda m: "Проверьте перед отправкой" in m.plain)
    assert "Кому: Ольга" in preview.plain and "8904123 сервер упал" in preview.plain
    assert "⚠️ Текст начинается с «8904123»: это уйдёт как часть текста, а не как получатель." in preview.plain


async def test_a_second_number_without_a_comma_is_asked_about(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    asked = await say(alex, f"/send {IVAN} {THIRD} test")
    assert f"Is “{THIRD}” another recipient, or the start of the text?" in asked.plain
    assert asked.button_texts == ["👤 +7\u00a0904\u00a0111\u201122\u201134", "✏️ It is the text", "✖️ Cancel"]
    await alex.press(asked, 1)
    preview = await alex.wait_for(lambda m: "Check before sending" in m.plain)
    assert "2 recipients" in preview.plain and "test" in preview.plain
    # the other answer: one recipient, and the second number stays in the text
    asked = await say(alex, f"/send {IVAN} {THIRD} test")
    await alex.press(asked, "✏️ It is the text")
    preview = await alex.wait_for(lambda m: "Check before sending" in m.plain and f"{THIRD} test" in m.plain)
    assert "To: +7\u00a0904\u00a0176\u201149\u201195" in preview.plain
    assert f"⚠️ The text starts with “{THIRD}”: it is sent as text" in preview.plain


async def test_a_name_not_found_offers_the_closest(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    await book(alex)
    # a typo
    asked = await say(alex, "/send Ивн Сервер упал")
    assert "Did you mean" in asked.plain and asked.button_texts == ["👤 Иван Петров", "✖️ Cancel"]
    await alex.press(asked, "👤 Иван Петров")
    preview = await alex.wait_for(lambda m: "Check before sending" in m.plain)
    assert "To: Иван Петров" in preview.plain and "Сервер упал" in preview.plain
    # any word of a name
    asked = await say(alex, "/send Петров disk full")
    assert asked.button_texts == ["👤 Иван Петров", "✖️ Cancel"]
    # /contact <name>: the closest as buttons too
    card = await say(alex, "/contact Петров")
    assert "No contact named “Петров”" in card.plain and "Did you mean" in card.plain
    assert card.button_texts == ["👤 Иван Петров"]
    # /contact Вася 123: "123" is not a phone number, no contact named «Вася 123» is proposed
    answer = await say(alex, "/contact Вася 123")
    assert "“123” is not a phone number" in answer.plain and "/contact Вася +7" in answer.plain


async def test_lookalike_letters_are_the_same_letter(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    assert "✅" in (await say(alex, "/contact Ivаn +7 904 176-49-95")).plain  # a Cyrillic "а" inside
    preview = await say(alex, "/send Ivan db1 is down")  # all Latin
    assert "Check before sending" in preview.plain and "To: Ivаn" in preview.plain
    assert "✅" in (await say(alex, "/contact Олег Кузнецов +7 916 123-45-67")).plain
    refused = await say(alex, "/contact Олег Кузнецоv +7 900 000-00-51")  # a Latin "v" does not look like "в"
    assert "✅" in refused.plain  # a different name
    refused = await say(alex, "/contact Oлег Кузнецов +7 900 000-00-52")  # a Latin "O"
    assert "looks just like" in refused.plain and "Олег Кузнецов" in refused.plain
    refused = await say(alex, "/contact Ив\u200bан +7 900 000-00-53")  # a zero-width space: «Иван» is new
    assert "Saved: Иван —" in refused.plain
    blank = await say(alex, "/contact \u3164\u200b +7 900 000-00-54")
    assert "The name is empty" in blank.plain
    digits = await say(alex, "/contact 112 Ops +7 900 000-00-55")
    assert "cannot start with digits" in digits.plain
    hashed = await say(alex, "/contact Ivan #2 +7 900 000-00-56")
    assert "cannot contain a comma, a colon or #" in hashed.plain


async def test_a_template_after_a_name_and_long_names(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    assert "✅" in (await say(alex, "/contact Ivan +7 904 176-49-95")).plain
    assert "✅" in (await say(alex, "/template всё_плохо: Server db1 is down")).plain
    preview = await say(alex, "/send Ivan #все_плохо")  # ё as е in template names too
    assert "Check before sending" in preview.plain and "Server db1 is down" in preview.plain
    assert "To: Ivan" in preview.plain


async def test_a_name_of_nine_words_works_wherever_it_can_be_saved(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    assert "✅" in (await say(alex, "/contact Ivan +7 904 176-49-95")).plain
    nine = "Ann Bob Cid Dan Eve Fay Gus Hal Ida"  # nine words, 35 characters
    assert "✅" in (await say(alex, f"/contact {nine} +7 916 123-45-67")).plain
    preview = await say(alex, f"/send {nine} hello")
    assert "Check before sending" in preview.plain and f"To: {nine}" in preview.plain
    group = await say(alex, f"/group Night: {nine}, Ivan")
    assert "✅" in group.plain
