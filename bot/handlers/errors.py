"""The last net: any exception a handler did not handle is logged (secrets masked) and answered in words."""

from __future__ import annotations

import logging
import sqlite3

from aiogram import Router
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

router = Router(name="errors")
log = logging.getLogger(__name__)


@router.errors()
async def on_error(event: ErrorEvent, i18n: I18n, locale: str | None = None) -> bool:
    # aiogram's error middleware wraps the access gate, so the gate's language context is gone by now.
    with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
        await _report(event)
    return True


async def _report(event: ErrorEvent) -> None:
    update = event.update
    exc = event.exception
    if isinstance(exc, sqlite3.Error):
        # Read-only file, locked by another process, disk full: nothing the operator can fix by trying again.
        log.error(
            "database error while handling an update: %s: %s",
            type(exc).__name__,
            exc,
            exc_info=exc,
            extra={"update_id": update.update_id},
        )
        text = _(  # at most 200 characters in any language: it may be a button's alert
            "⚠️ My database is not available right now (read-only, locked or full). Tell an admin. "
            "If you were sending an SMS, check /history before trying again."
        )
    else:
        log.error(
            "unhandled %s while handling an update",
            type(exc).__name__,
            exc_info=exc,
            extra={"update_id": update.update_id},
        )
        text = _("⚠️ Something went wrong on my side. If you were sending an SMS, check /history before trying again.")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
    except Exception as exc:  # Telegram itself may be the fault; the bot carries on
        log.warning("could not tell the user about an error: %s", type(exc).__name__)
