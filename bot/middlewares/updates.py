"""Each update handled once: an update_id seen before (a webhook retry, polling after a restart that came
before the offset was confirmed) is dropped. The ids are remembered in the database (`db.updates`)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.storage.db import Database

log = logging.getLogger(__name__)


class OnceMiddleware(BaseMiddleware):
    def __init__(self, *, db: Database) -> None:
        self.db = db

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        try:
            first = await self.db.updates.first_sight(event.update_id)
        except sqlite3.Error as exc:  # a read-only or full database must not stop the bot from answering
            log.warning("could not remember update %s: %s", event.update_id, type(exc).__name__)
            first = True
        if not first:
            log.info("update %s delivered again: handled once already", event.update_id)
            return None
        return await handler(event, data)
