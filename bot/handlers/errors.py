"""The last net, one handler per error family: any exception a handler did not handle is logged (secrets
masked) and answered in words, in the update's language (LocaleMiddleware also wraps the error pass)."""

from __future__ import annotations

import logging
import sqlite3

from aiogram import Router
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent

from bot.gateway.errors import GatewayError
from bot.storage.store import DatabaseUnavailable
from bot.ui import texts

router = Router(name="errors")
log = logging.getLogger(__name__)


@router.errors(ExceptionTypeFilter(sqlite3.Error))
async def storage_error(event: ErrorEvent) -> bool:
    # Read-only file, locked by another process, disk full: nothing the operator can fix by trying again.
    exc = event.exception
    log.error(
        "database error while handling an update: %s: %s",
        type(exc).__name__,
        exc,
        exc_info=exc,
        extra={"update_id": event.update.update_id},
    )
    # PostgreSQL not answering (bot/storage/postgres.py): the store reconnects by itself; trying later helps.
    not_answering = isinstance(exc, DatabaseUnavailable)
    await _tell(event, texts.storage_not_answering() if not_answering else texts.storage_unavailable())
    return True


@router.errors(ExceptionTypeFilter(GatewayError))
async def gateway_error(event: ErrorEvent) -> bool:
    # Handlers answer gateway errors themselves; one that got past them still says what happened and what to do.
    assert isinstance(event.exception, GatewayError)
    _unhandled(event)
    await _tell(event, texts.gateway_error(event.exception))
    return True


@router.errors(ExceptionTypeFilter(TelegramAPIError))
async def telegram_error(event: ErrorEvent) -> bool:
    _unhandled(event)
    if not isinstance(event.exception, TelegramForbiddenError):  # blocked by the user: nobody to tell
        await _tell(event, texts.something_went_wrong())
    return True


@router.errors()
async def any_error(event: ErrorEvent) -> bool:
    _unhandled(event)
    await _tell(event, texts.something_went_wrong())
    return True


def _unhandled(event: ErrorEvent) -> None:
    log.error(
        "unhandled %s while handling an update",
        type(event.exception).__name__,
        exc_info=event.exception,
        extra={"update_id": event.update.update_id},
    )


async def _tell(event: ErrorEvent, text: str) -> None:
    update = event.update
    try:
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(text, show_alert=True)
            except TelegramAPIError:
                # Already answered (the press's sign of work came first) or expired: a message says it.
                message = update.callback_query.message
                if message is None:
                    raise
                await update.callback_query.bot.send_message(message.chat.id, text)  # type: ignore[union-attr]
        elif update.message is not None:
            await update.message.answer(text)
    except Exception as exc:  # Telegram itself may be the fault; the bot carries on
        log.warning("could not tell the user about an error: %s", type(exc).__name__)
