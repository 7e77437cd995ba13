"""Showing an answer in place: edit the message, or send a new one when it cannot be edited.

Telegram refuses an edit that changes nothing ("message is not modified": the message already shows it) and
one of a message that is gone ("message to edit not found"), too old or otherwise not editable; a press's
answer can be refused too (the query expired after ~15 s, or was answered already). None of that may stop an
operator from seeing what became of their request.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"


async def edit(bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
    """Edit a message in place. True when it shows `text` now (edited, or it already did); False when it cannot
    be edited (gone, too old, or Telegram failed), so that the caller may send it anew."""
    try:
        await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup)
    except TelegramBadRequest as exc:
        if NOT_MODIFIED in exc.message:
            return True
        log.info("could not edit message %s in %s: %s", message_id, chat_id, exc.message)
        return False
    except TelegramAPIError as exc:
        log.warning("could not edit message %s in %s: %s", message_id, chat_id, exc.message)
        return False
    return True


async def edit_or_send(
    bot: Bot, chat_id: int, message_id: int | None, text: str, markup: InlineKeyboardMarkup | None = None
) -> int:
    """`text` in place of message `message_id`, or in a new message when that cannot be edited (or is None).
    Returns the id of the message that shows it."""
    if message_id is not None and await edit(bot, chat_id, message_id, text, markup):
        return message_id
    return (await bot.send_message(chat_id, text, reply_markup=markup)).message_id


async def show(callback: CallbackQuery, bot: Bot, text: str, markup: InlineKeyboardMarkup | None = None) -> int:
    """A press's answer on the message its button is on (anew when that one is gone). Returns its id."""
    message = callback.message
    chat_id = message.chat.id if message is not None else callback.from_user.id
    message_id = message.message_id if isinstance(message, Message) else None
    return await edit_or_send(bot, chat_id, message_id, text, markup)


async def answer_press(callback: CallbackQuery, text: str | None = None, show_alert: bool = False) -> None:
    """Answer a press (the toast or alert). Telegram refuses an answer to an expired query (~15 s: a slow send
    outlives it) or to one already answered (a press delivered again after a restart), or fails (5xx,
    network); none of that may stop the outcome being shown."""
    try:
        await callback.answer(text, show_alert=show_alert)
    except TelegramAPIError as exc:
        log.info("could not answer a button press: %s", exc.message)
