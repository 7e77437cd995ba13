"""The last net: any exception a handler did not handle is logged (secrets masked) and answered in words, in
the update's language (LocaleMiddleware also wraps the error pass)."""

from __future__ import annotations

import logging
import sqlite3

from aiogram import Router
from aiogram.types import ErrorEvent

from bot.ui import texts

router = Router(name="errors")
log = logging.getLogger(__name__)


@router.errors()
async def on_error(event: ErrorEvent) -> bool:
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
        text = texts.storage_unavailable()
    else:
        log.error(
            "unhandled %s while handling an update",
            type(exc).__name__,
            exc_info=exc,
            extra={"update_id": update.update_id},
        )
        text = texts.something_went_wrong()
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
    except Exception as exc:  # Telegram itself may be the fault; the bot carries on
        log.warning("could not tell the user about an error: %s", type(exc).__name__)
    return True
