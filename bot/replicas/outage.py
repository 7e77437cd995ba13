"""What a replica fenced by a database outage says to an update it polled (bot/replicas/poller.py, outage mode).

It does not go through the dispatcher: every step there (the redelivery guard, the person's language, the access
gate) asks the database first, and each of those waits out a connection or statement timeout when the server is
unreachable (5–8 s each), which would break the contract's 15 s. The replica already knows the answer: its lease
could not be renewed. So, at once and in the words of the error router:
- a message in a private chat, and a press anywhere: "the bot's database is not answering; try again in a
  minute", in the person's Telegram language (a choice made with /language is in the database);
- anything else (the team chat's messages, edits, inline queries, group membership): nothing, as the access gate
  keeps those silent anyway. They are confirmed all the same: the update is over, as after an error.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Update, User
from aiogram.utils.i18n import I18n

from bot.i18n import choose_locale
from bot.ui import texts

log = logging.getLogger(__name__)


class OutageAnswers:
    def __init__(self, bot: Bot, i18n: I18n, default_locale: str) -> None:
        self.bot = bot
        self.i18n = i18n
        self.default_locale = default_locale

    def _text(self, user: User | None) -> str:
        locale = choose_locale(None, user.language_code if user else None, self.default_locale)
        with self.i18n.context(), self.i18n.use_locale(locale):
            return texts.storage_not_answering()

    async def answer(self, update: Update) -> None:
        press, message = update.callback_query, update.message
        try:
            if press is not None:
                text = self._text(press.from_user)
                try:
                    await self.bot.answer_callback_query(press.id, text, show_alert=True)
                except TelegramAPIError:  # too old to answer: a message says it
                    if press.message is None:
                        raise
                    await self.bot.send_message(press.message.chat.id, text)
            elif message is not None and message.chat.type == "private":
                await self.bot.send_message(message.chat.id, self._text(message.from_user))
            else:
                log.info("update %s left unanswered during the database outage", update.update_id)
                return
        except Exception as exc:  # Telegram itself may be the fault; polling goes on
            log.warning("could not answer update %s in words: %s", update.update_id, type(exc).__name__)
            return
        log.info("update %s answered in words: the database is not answering", update.update_id)
