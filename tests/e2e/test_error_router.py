"""The error router: one handler per error family, each answering in the update's language.

aiogram's error middleware wraps every update middleware, so the router runs after the update's i18n context
is gone; LocaleMiddleware wraps the error pass too. An operator whose Telegram speaks Russian is answered in
Russian by every family — no handler re-enters the context by hand.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest
from aiogram.utils.i18n import I18n

from bot.devkit.harness import Harness
from bot.gateway.errors import GatewayUnavailable
from bot.i18n import LOCALES_DIR
from bot.ui import texts
from tests.conftest import ADMIN

FAMILIES = [
    (sqlite3.OperationalError("database or disk is full"), texts.storage_unavailable, "database error"),
    (GatewayUnavailable("connection refused"), lambda: texts.gateway_error(GatewayUnavailable("x")), "unhandled"),
    (RuntimeError("a bug"), texts.something_went_wrong, "unhandled"),
]


@pytest.mark.parametrize(("exc", "words", "logged"), FAMILIES, ids=["storage", "gateway", "other"])
async def test_each_error_family_is_answered_in_the_operators_language(
    rig: Harness, caplog: pytest.LogCaptureFixture, exc: Exception, words: Any, logged: str
) -> None:
    assert rig.app is not None

    async def broken(*args: Any, **kwargs: Any) -> int:
        raise exc

    rig.app.db.sends.history_count = broken  # type: ignore[method-assign]
    admin = rig.telegram.user(ADMIN, first_name="Alisa", language_code="ru")
    i18n = I18n(path=LOCALES_DIR, default_locale="en")
    with i18n.context(), i18n.use_locale("ru"):
        expected = words()
    with caplog.at_level(logging.ERROR, logger="bot.handlers.errors"):
        await admin.send("/history")
        reply = await admin.next_message()
    assert reply.text == expected
    assert any(r.getMessage().startswith(logged) for r in caplog.records if r.name == "bot.handlers.errors")


async def test_a_telegram_error_is_logged_and_answered(rig: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Telegram refused a call a handler made (here /users' answer); the net still answers."""
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.telegram.fail_next("sendMessage", error_code=400, description="Bad Request: can't parse entities")
    with caplog.at_level(logging.ERROR, logger="bot.handlers.errors"):
        await admin.send("/users")
        reply = await admin.next_message()
    assert "Something went wrong on my side" in reply.plain
    assert [r.getMessage() for r in caplog.records if r.name == "bot.handlers.errors"] == [
        "unhandled TelegramBadRequest while handling an update"
    ]


async def test_a_person_who_blocked_the_bot_is_not_written_to_again(
    rig: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/help")
    await admin.next_message()
    before = len(rig.telegram.calls_to("sendMessage"))
    rig.telegram.fail_next("sendMessage", error_code=403, description="Forbidden: bot was blocked by the user")
    with caplog.at_level(logging.ERROR, logger="bot.handlers.errors"):
        await admin.send("/users")
        await rig.telegram.wait_idle(quiet=0.5, timeout=10)
    assert len(rig.telegram.calls_to("sendMessage")) == before + 1  # the refused answer; no error note after it
    assert [r.getMessage() for r in caplog.records if r.name == "bot.handlers.errors"] == [
        "unhandled TelegramForbiddenError while handling an update"
    ]
