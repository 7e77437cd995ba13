"""The bot core over the HTTP rig: Telegram's 429 honoured, the command menu registered in both languages.

The rules (access, /start, /help, /balance, /status, /language, gateway errors in words) are in the fast tier:
``tests/fast/test_core_rules.py``.
"""

from __future__ import annotations

from bot.devkit.harness import Harness
from tests.conftest import ADMIN


async def test_telegram_429_is_honoured(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.telegram.fail_next("sendMessage", error_code=429, retry_after=1)
    await admin.send("/help")
    reply = await admin.next_message(timeout=10)
    assert "/send" in reply.plain
    assert rig.app is not None and rig.app.retry.retries == 1


async def test_command_menu_in_both_languages_and_admin_menu(rig: Harness) -> None:
    menus = rig.telegram.commands
    ru = [c["description"] for c in menus[("default", "ru")]]
    en = [c["description"] for c in menus[("default", "en")]]
    assert "Send an SMS" in en and "Send an SMS" not in ru and len(ru) == len(en)
    admin_menu = [c["command"] for c in menus[(f"chat:{ADMIN}", "en")]]
    assert {"allow", "deny", "users", "send"} <= set(admin_menu)
    assert "allow" not in [c["command"] for c in menus[("default", "en")]]
