"""The error router answers in the update's language.

aiogram's error middleware wraps every update middleware, so the router runs after the update's i18n context
is gone; LocaleMiddleware wraps the error pass too. An operator whose Telegram speaks Russian is answered in
Russian — no handler re-enters the context by hand.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest
from aiogram.utils.i18n import I18n

from bot.i18n import LOCALES_DIR
from bot.testing.harness import Harness
from bot.ui import texts
from tests.conftest import ADMIN

FAMILIES = [
    (sqlite3.OperationalError("database or disk is full"), texts.storage_unavailable, "database error"),
    (RuntimeError("a bug"), texts.something_went_wrong, "unhandled"),
]


@pytest.mark.parametrize(("exc", "words", "logged"), FAMILIES, ids=["storage", "other"])
async def test_each_error_family_is_answered_in_the_operators_language(
    rig: Harness, caplog: pytest.LogCaptureFixture, exc: Exception, words: Any, logged: str
) -> None:
    assert rig.app is not None

    async def broken(*args: Any, **kwargs: Any) -> int:
        raise exc

    rig.app.db.history_count = broken  # type: ignore[method-assign]
    admin = rig.telegram.user(ADMIN, first_name="Alisa", language_code="ru")
    i18n = I18n(path=LOCALES_DIR, default_locale="en")
    with i18n.context(), i18n.use_locale("ru"):
        expected = words()
    with caplog.at_level(logging.ERROR, logger="bot.handlers.errors"):
        await admin.send("/history")
        reply = await admin.next_message()
    assert reply.text == expected
    assert any(r.getMessage().startswith(logged) for r in caplog.records if r.name == "bot.handlers.errors")
