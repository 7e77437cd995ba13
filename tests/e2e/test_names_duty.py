"""Duty one tap away, and group and duty names that stay with the send (issue 23, points 13 and 11): the real
bot against the fake Telegram and the sandbox gateway over loopback, real SQLite."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN

IVAN, OLGA = "79041764995", "79161234567"


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


def sent(rig: Harness) -> Counter[str]:
    return Counter(r.fields.get("MSISDN", "") for r in rig.gateway.requests if r.action == "send")


async def test_the_guided_send_offers_the_one_on_duty_first(rig: Harness) -> None:
    olga = rig.telegram.user(ADMIN, first_name="Ольга", language_code="ru")
    assert "✅" in (await say(olga, "/contact Иван Петров +7 904 176-49-95")).plain
    assert "✅" in (await say(olga, "/contact Ольга +7 916 123-45-67")).plain
    assert "✅" in (await say(olga, "/duty Иван Петров")).plain
    asked = await say(olga, "/send")
    assert asked.button_texts[0] == "🧑‍🚒 Дежурит: Иван Петров"
    await olga.press(asked, "🧑‍🚒 Дежурит: Иван Петров")
    await olga.next_message()  # the text step
    preview = await say(olga, "Сервер упал")
    assert "Проверьте перед отправкой" in preview.plain and "Иван Петров" in preview.plain
    await olga.press(preview, 1)
    await olga.wait_for(lambda m: m.message_id == preview.message_id and "Отправлено" in m.plain, timeout=15)
    assert sent(rig) == Counter({IVAN: 1})


async def test_a_plain_message_that_starts_with_duty_or_a_name_opens_a_preview(rig: Harness) -> None:
    olga = rig.telegram.user(ADMIN, first_name="Ольга", language_code="ru")
    assert "✅" in (await say(olga, "/contact Иван Петров +7 904 176-49-95")).plain
    assert "✅" in (await say(olga, "/duty Иван Петров")).plain
    preview = await say(olga, "дежурный Сервер упал")
    assert "Проверьте перед отправкой" in preview.plain and "Иван Петров" in preview.plain
    assert "Сервер упал" in preview.plain
    preview = await say(olga, "duty db1 is down")
    assert "Проверьте перед отправкой" in preview.plain and "db1 is down" in preview.plain
    preview = await say(olga, "иван петров disk full")
    assert "Проверьте перед отправкой" in preview.plain and "disk full" in preview.plain
    # a word that only starts a name is no call: the hint, as before
    hint = await say(olga, "Ив, привет")
    assert "Не понимаю" in hint.plain
    assert not sent(rig)  # nothing leaves without the Send press


async def test_group_and_duty_names_stay_with_the_send(rig: Harness) -> None:
    alex = rig.telegram.user(ADMIN, first_name="Alex", language_code="en")
    assert "✅" in (await say(alex, "/contact Ivan Petrov +7 904 176-49-95")).plain
    assert "✅" in (await say(alex, "/contact Olga +7 916 123-45-67")).plain
    assert "✅" in (await say(alex, "/group Night: Ivan Petrov, Olga, +7 900 000-00-51")).plain
    preview = await say(alex, "/send Night db1 is down")
    assert "To: 👥 Night (3): Ivan Petrov, Olga, +7\u00a0900\u00a0000\u201100\u201151" in preview.plain
    await alex.press(preview, "✅ Send to 3")
    summary = await alex.wait_for(
        lambda m: m.message_id == preview.message_id and "Delivered: 2" in m.plain and "Rejected" in m.plain,
        timeout=30,
    )
    assert "👥 Night (1): +7\u00a0900\u00a0000\u201100\u201151" in summary.plain  # the rejected one, under its group
    assert "✅" in (await say(alex, "/duty Ivan Petrov")).plain
    preview = await say(alex, "/send duty disk full")
    assert "To: duty — Ivan Petrov (+7\u00a0904\u00a0176\u201149\u201195)" in preview.plain
    await alex.press(preview, "✅ Send")
    done = await alex.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=15)
    assert "duty — Ivan Petrov" in done.plain  # the label stays after the send too
    preview = await say(alex, "/send duty, Olga disk full")
    assert "To: duty — Ivan Petrov; Olga" in preview.plain


async def test_the_team_feed_names_the_group_a_send_went_to(tmp_path: Path) -> None:
    """Point 11 in the team chat: a send to a group is "Alex → 👥 Ночь (2)", so the team sees which group was paged;
    one to the group on duty says so too."""
    team_id = -1009876543210
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"team_chat_id": team_id}) as h:
        team = h.telegram.group(team_id, "Дежурные")
        alex = h.telegram.user(ADMIN, first_name="Alex", language_code="ru")
        assert "✅" in (await say(alex, "/contact Иван Петров +7 904 176-49-95")).plain
        assert "✅" in (await say(alex, f"/group Ночь: Иван Петров, {OLGA}")).plain
        assert "✅" in (await say(alex, "/group Админы: +7 903 111-22-33, +7 903 111-22-44")).plain
        preview = await say(alex, "/send Ночь Сервер упал")
        await alex.press(preview, 1)
        line = await team.wait_for(lambda m: "👥 Ночь (2)" in m.plain, timeout=15)
        assert line.plain.startswith("Alex → 👥 Ночь (2) — ")
        await say(alex, "/duty Админы")
        preview = await say(alex, "/send дежурный Диск заполнен")
        await alex.press(preview, 1)
        on_duty = await team.wait_for(lambda m: "👥 Админы (2)" in m.plain and "→" in m.plain, timeout=15)
        assert "Alex → duty — 👥 Админы (2) — " in on_duty.plain  # the team chat speaks DEFAULT_LOCALE (en)
