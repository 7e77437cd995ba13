"""What the bot says on its own, with no update to take a language from: a renderer that speaks a given locale."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiogram.utils.i18n import I18n

from bot.config import Settings


class Speaker:
    def __init__(self, i18n: I18n, settings: Settings) -> None:
        self.i18n = i18n
        self.settings = settings

    @contextmanager
    def _speaking(self, locale: str) -> Iterator[None]:
        with self.i18n.context(), self.i18n.use_locale(locale):
            yield
