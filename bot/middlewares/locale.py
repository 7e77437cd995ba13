"""The language of each update, as aiogram's I18nMiddleware: the gettext context every handler, the access gate
and the error router write in.

Order (CONTRACT.md): a choice stored with /language, else the update's Telegram language_code when it is ru or
en, else DEFAULT_LOCALE. Registered on `update`, before the access gate (a refusal is localized too), and on
`error`: aiogram's error middleware wraps every update middleware, so the error router runs after the update's
context is gone and gets it again here, in the language the update pass chose.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import ErrorEvent, TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot.i18n import choose_locale
from bot.storage.db import Database


class LocaleMiddleware(I18nMiddleware):
    def __init__(self, *, i18n: I18n, db: Database) -> None:
        super().__init__(i18n=i18n)
        self.db = db

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        chosen = data.get("locale")
        if isinstance(chosen, str):  # the error pass of an update whose language is known
            return chosen
        user: User | None = data.get("event_from_user")
        if user is None or user.is_bot:  # nobody to speak to (the gate drops these)
            return self.i18n.default_locale
        if isinstance(event, ErrorEvent):  # the error came before a language was chosen: maybe the database's
            stored = None
        else:
            # PostgreSQL: other replicas write people, operators and guided steps too (/deny there, the previous
            # step of a guided flow there): one statement tells whether they did since the last update; only then
            # is what this process remembers of them forgotten (bot/storage/freshness.py). Nothing reads them
            # before this point of an update. Nothing on SQLite.
            await self.db.freshness.check()
            person = await self.db.people.get(user.id)
            stored = person.locale if person else None
        data["locale"] = locale = choose_locale(stored, user.language_code, self.i18n.default_locale)
        return locale
