"""The bot core as a person meets it: access, /start, /help, /balance, /status, /language, errors."""

from __future__ import annotations

from bot.testing.harness import Harness
from tests.conftest import ADMIN


async def test_admin_start_and_help(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/start")
    reply = await admin.next_message()
    assert "You have access" in reply.plain
    assert "/allow" in reply.plain  # admins see the admin commands


async def test_balance_and_refresh(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/balance")
    reply = await admin.next_message()
    assert "Balance: 1 000" in reply.plain
    assert reply.button_texts == ["🔄 Refresh"]
    rig.gateway.balance -= 10
    await admin.press(reply, "Refresh")
    edited = await admin.wait_for(lambda m: m.message_id == reply.message_id and "990" in m.plain)
    assert "Balance: 990" in edited.plain


async def test_russian_by_telegram_language(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Алиса", language_code="ru")
    await admin.send("/balance")
    reply = await admin.next_message()
    assert "Баланс" in reply.plain
