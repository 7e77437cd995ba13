"""Russian that does not trip (issue 23, point 15): a name after «на» cannot be declined, so no message puts one
there — «Отправлено: Олег Кузнецов», not «Отправлено на Олег Кузнецов» — and the batch summary's button says to
whom it resends. End to end in Russian over loopback, and the ru catalog itself."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.i18n import LOCALES_DIR
from tests.conftest import ADMIN

OLEG, IVAN = "Олег Кузнецов", "Иван Петров"
PREPOSITION_BEFORE_NAME = re.compile(r"(?<![А-Яа-яЁё])(?:на|На|к|К|для|Для|у|У) (?:Олег|Иван)")
PREPOSITION_BEFORE_PLACEHOLDER = re.compile(r"(?<![А-Яа-яЁё])(?:на|На) \{(?:number|name|names|who)\}")


async def said(user: FakeUser, text: str, expect: str, timeout: float = 10) -> BotMessage:
    user.mark_seen()
    await user.send(text)
    return await user.wait_for(lambda m: expect in m.plain, timeout=timeout)


def ru_catalog_strings() -> list[str]:
    with (LOCALES_DIR / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="ru")
    return [m.string for m in catalog if m.id and isinstance(m.string, str)]


def test_no_russian_string_puts_na_before_a_name_or_number_placeholder() -> None:
    tripping = [s for s in ru_catalog_strings() if PREPOSITION_BEFORE_PLACEHOLDER.search(s)]
    assert tripping == []


async def test_sends_to_named_contacts_read_naturally_in_russian(rig: Harness) -> None:
    olga = rig.telegram.user(ADMIN, first_name="Ольга", language_code="ru")
    await said(olga, f"/contact {OLEG} +7 904 176-49-95", OLEG)
    await said(olga, f"/contact {IVAN} +7 900 000-00-03", IVAN)  # the sandbox fails every send to it (code 3)
    await said(olga, "/contact Пётр Сидоров +7 900 000-00-51", "Пётр Сидоров")  # accepted, then rejected

    preview = await said(olga, f"/send {OLEG} Сервер упал", "Проверьте перед отправкой")
    await olga.press(preview, "✅ Отправить")
    sent = await olga.wait_for(lambda m: m.message_id == preview.message_id and "Отправлено" in m.plain)
    assert f"Отправлено: {OLEG}" in sent.plain
    delivered = await olga.wait_for(lambda m: "доставлено" in m.plain and not m.edited, timeout=15)
    assert OLEG in delivered.plain

    preview = await said(olga, f"/send {IVAN} Сервер упал", "Проверьте перед отправкой")
    await olga.press(preview, "✅ Отправить")
    failed = await olga.wait_for(lambda m: m.message_id == preview.message_id and "Не отправлено" in m.plain)
    assert f"Не отправлено: {IVAN}" in failed.plain

    preview = await said(olga, f"/send {OLEG} Отбой", "Проверьте перед отправкой")
    await said(olga, "/cancel", "Отмен")
    cancelled = rig.telegram.message(olga.chat_id, preview.message_id)
    assert f"Не отправлено: {OLEG}" in cancelled.plain

    # Several recipients: the summary's button says it resends to those that did not get it, not "everything".
    batch = await said(olga, f"/send {OLEG}, {IVAN}, Пётр Сидоров Проверка связи", "Проверьте перед отправкой")
    await olga.press(batch, next(t for t in batch.button_texts if t.startswith("✅")))
    summary = await olga.wait_for(
        lambda m: m.message_id == batch.message_id and "Пётр Сидоров" in m.plain and "🔁" in " ".join(m.button_texts),
        timeout=20,
    )
    resend = next(t for t in summary.button_texts if t.startswith("🔁"))
    assert "неполучившим" in resend and len(resend) <= 32

    everything = "\n".join(m.plain for m in olga.messages)
    assert PREPOSITION_BEFORE_NAME.findall(everything) == []
