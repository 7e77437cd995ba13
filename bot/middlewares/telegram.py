"""The bot's session to Telegram (`TelegramSession`) and its middleware: honour Telegram's 429 (wait `retry_after`, then deliver), within a bound; and retry the
idempotent calls (edits, press answers, chat actions) on a 5xx or a network error, within the 15 s an operator
waits.

A new chat message is never retried on a 5xx or a network error: Telegram may have delivered it before the
answer was lost, and a second copy is worse than the error the caller sees. An edit, a press's answer or a
chat action done twice shows the same thing once, so those are tried again, with a short back-off, while
`retry_budget` lasts (each attempt is cut off at what is left of it).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
from typing import TYPE_CHECKING, Any

import httpx
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    Response,
    SendChatAction,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiohttp import ClientSession, TCPConnector

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)

#: aiogram reads every answer with `Response[<the method's result type>]`, a generic pydantic model that pydantic
#: caches only weakly: once the garbage collector takes it, the next call rebuilds it (~3 ms). Held here for good.
_RESPONSE_MODELS: dict[type[Any], Any] = {}
#: Calls that show the same thing however many times they are made.
IDEMPOTENT = (EditMessageText, EditMessageReplyMarkup, EditMessageCaption, AnswerCallbackQuery, SendChatAction)
NOT_ANSWERING = (TelegramServerError, TelegramNetworkError)


class RetryAfterMiddleware(BaseRequestMiddleware):
    def __init__(
        self,
        *,
        attempts: int = 3,
        max_wait: float = 60.0,
        retry_budget: float = 10.0,
        backoff_base: float = 0.25,
        backoff_max: float = 2.0,
    ) -> None:
        self.attempts = attempts
        self.max_wait = max_wait
        self.retry_budget = retry_budget
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retries = 0  # how many times a request waited out a 429 (for metrics and tests)
        self.failure_retries = 0  # how many times an idempotent call was tried again after a 5xx/network error

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
        if type(method) in IDEMPOTENT:
            return await self._retrying(make_request, bot, method)
        return await self._honour_429(make_request, bot, method)

    async def _honour_429(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
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

    async def _retrying(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_budget
        failure = 0
        while True:
            remaining = deadline - loop.time()
            try:
                async with asyncio.timeout(max(remaining, 0.05)):
                    return await self._honour_429(make_request, bot, method)
            except TimeoutError:
                log.warning("Telegram did not answer %s within %.1fs", type(method).__name__, self.retry_budget)
                raise TelegramNetworkError(method=method, message="no answer in time") from None
            except NOT_ANSWERING as exc:
                failure += 1
                delay = min(self.backoff_max, self.backoff_base * 2 ** (failure - 1)) * random.uniform(0.5, 1.0)
                if loop.time() + delay >= deadline:
                    raise
                self.failure_retries += 1
                log.info("Telegram failed %s (%s); trying again in %.2fs", type(method).__name__, exc.message, delay)
                await asyncio.sleep(delay)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process, for Telegram's session and the gateway's clients (the CA bundle certifi
    carries, as aiogram and httpx each use by default; building one reads it: ~30 ms of CPU)."""
    return httpx.create_ssl_context()


class TelegramSession(AiohttpSession):
    """aiogram's `AiohttpSession`, but:

    - its TLS context is the process's one (`tls_context`), not a new one read from the CA bundle per session;
    - its `close()` pauses 0.25 s for TLS connections to wind down only when there can be any (an https Bot API
      server), not for a local one over plain HTTP (a local Bot API server, the dev kit).

    `AiohttpSession.__init__` would build its own TLS context first, so this sets the same attributes itself
    (tests/unit/test_telegram_session.py holds them equal to aiogram's: an upgrade that adds one fails there)."""

    def __init__(self, base_url: str, *, limit: int = 100, timeout: float = 60.0) -> None:
        # Skips AiohttpSession.__init__ (see above); 60 s is aiogram's own default timeout.
        BaseSession.__init__(self, api=TelegramAPIServer.from_base(base_url), timeout=timeout)
        self._session: ClientSession | None = None
        self._connector_type: type[TCPConnector] = TCPConnector
        self._connector_init: dict[str, Any] = {"ssl": tls_context(), "limit": limit, "ttl_dns_cache": 3600}
        self._should_reset_connector = True
        self._proxy = None
        self.tls = base_url.lower().startswith("https:")

    async def close(self) -> None:
        if self.tls:
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()
