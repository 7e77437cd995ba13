"""Session middleware: honour Telegram's 429 (wait `retry_after`, then deliver), within a bound."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

#: aiogram reads every answer with `Response[<the method's result type>]`, a generic pydantic model that pydantic
#: caches only weakly: once the garbage collector takes it, the next call rebuilds it (~3 ms). Held here for good.
_RESPONSE_MODELS: dict[type[Any], Any] = {}


class RetryAfterMiddleware(BaseRequestMiddleware):
    def __init__(self, *, attempts: int = 3, max_wait: float = 60.0) -> None:
        self.attempts = attempts
        self.max_wait = max_wait
        self.retries = 0  # how many times a request waited out a 429 (for metrics and tests)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if type(method) not in _RESPONSE_MODELS:
            _RESPONSE_MODELS[type(method)] = Response[method.__returning__]  # type: ignore[name-defined]
        if isinstance(method, GetUpdates):  # polling has its own back-off
            return await make_request(bot, method)  # type: ignore[arg-type]
        for attempt in range(self.attempts + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.attempts or exc.retry_after > self.max_wait:
                    raise
                self.retries += 1
                log.warning("Telegram asked to wait %ss before %s", exc.retry_after, type(method).__name__)
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover
