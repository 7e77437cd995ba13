"""The gate every update passes: private chat, then access (in the language LocaleMiddleware chose before it).

It is an outer middleware on `update`, so it sees every update type — messages, edits, button presses,
contacts, files, inline queries, chat-member updates — before any router does.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, Update, User

from bot.i18n import supported
from bot.services.access import AccessService
from bot.sms.clean import clean_name
from bot.storage.db import Database
from bot.ui import access_texts

log = logging.getLogger(__name__)


class AccessMiddleware(BaseMiddleware):
    def __init__(self, *, db: Database, access: AccessService) -> None:
        self.db = db
        self.access = access
        # What was last written to `people` per user, so an update costs a write only when something changed.
        self._seen: dict[int, tuple[str, str | None, str | None]] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if user is None or user.is_bot:
            return None
        locale: str = data["locale"]
        if chat is None or chat.type != "private":
            # Groups, channels, inline mode: never act there. A button press gets a hint, the rest silence.
            if event.callback_query is not None:
                await event.callback_query.answer(access_texts.private_only(), show_alert=True)
            return None
        press = event.callback_query
        if press is not None and press.message is not None and press.message.chat.id != user.id:
            # A press on a message in someone else's chat (forged): never acted on.
            await press.answer(access_texts.no_longer_valid(), show_alert=True)
            return None
        operator = await self.db.people.operator(user.id)
        if operator is None:
            if await self.db.people.revoked(user.id):
                await self.access.end_flow(user.id)  # no step of a flow outlives access
                await self._revoked(event, user)
            else:
                await self._stranger(event, user, locale)
            return None
        await self._remember(user)
        data["operator"] = operator
        data["is_admin"] = operator.is_admin
        return await handler(event, data)

    async def _remember(self, user: User) -> None:
        facts = (clean_name(user.full_name), user.username, supported(user.language_code))
        if self._seen.get(user.id) != facts:
            try:
                await self.db.people.touch(user.id, *facts)
            except sqlite3.Error as exc:  # a read-only or full database must not refuse reads (/balance, /status)
                log.warning("could not record who wrote: %s: %s", type(exc).__name__, exc, extra={"user_id": user.id})
                return
            self._seen[user.id] = facts

    async def _revoked(self, event: Update, user: User) -> None:
        """Someone whose access was withdrawn: every message and press answered in words (rate-limited)."""
        if event.edited_message is not None or (event.message is None and event.callback_query is None):
            return
        answer = self.access.should_answer_revoked(user.id)
        if event.callback_query is not None:
            await event.callback_query.answer(
                access_texts.revoked(user.id, plain=True) if answer else None, show_alert=answer
            )
        elif event.message is not None and answer:
            await event.message.answer(access_texts.revoked(user.id))

    async def _stranger(self, event: Update, user: User, locale: str) -> None:
        if event.edited_message is not None or (event.message is None and event.callback_query is None):
            return
        log.info("refused an update from a stranger", extra={"user_id": user.id})
        if await self.db.access.was_operator(user.id):
            # Access taken away: every press and message is answered in words (a bounded set of people).
            if event.callback_query is not None:
                await event.callback_query.answer(access_texts.revoked(user.id, plain=True), show_alert=True)
            elif event.message is not None:
                await event.message.answer(access_texts.revoked(user.id))
            return
        if not self.access.should_refuse(user.id):
            if event.callback_query is not None:  # a press is always answered, in words
                await event.callback_query.answer(access_texts.no_access(user.id))
            return
        refusal = await self.access.request_access(user, locale)
        if event.callback_query is not None:
            await event.callback_query.answer(access_texts.no_access(user.id))
        elif event.message is not None:
            await event.message.answer(access_texts.refusal(refusal, user.id))
