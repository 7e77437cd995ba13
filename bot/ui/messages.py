"""Showing an answer in place: edit the message, or send a new one when it cannot be edited.

Telegram refuses an edit that changes nothing ("message is not modified": the message already shows it) and
one of a message that is gone ("message to edit not found"), too old or otherwise not editable; a press's
answer can be refused too (the query expired after ~15 s, or was answered already). None of that may stop an
operator from seeing what became of their request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiogram import Bot
from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.services.notifier import edit as edit

# Editing in place is the notifier's (the services speak through it too); the handlers find it here as well.
from bot.tasks import cancelled

log = logging.getLogger(__name__)

#: Telegram shows a chat action for about 5 s; it is sent again before it fades.
TYPING_EVERY = 4.0


@contextlib.asynccontextmanager
async def working(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """The sign of work while the block runs (the gateway may take seconds): "typing" at once, again every
    TYPING_EVERY seconds until the block ends. The chat action goes out in its own task, so that even a slow
    Telegram never delays the work itself; a refused chat action is only logged."""

    async def keep_typing() -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramAPIError as exc:
                log.info("could not show typing in %s: %s", chat_id, exc.message)
            await asyncio.sleep(TYPING_EVERY)

    task = asyncio.create_task(keep_typing(), name=f"typing-{chat_id}")
    try:
        yield
    finally:
        await cancelled(task)


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
