"""Failures on demand: ``fail_next(method, ...)`` answers the next call(s) with an error (429 with
``retry_after`` by default), drops the connection, or performs the call before failing; ``fail_next_poll()``
makes the next getUpdates answer 502."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

from aiohttp import web

from .core import ServerCore
from .protocol import ApiError, JsonDict

logger = logging.getLogger(__name__)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class _Failure:
    error_code: int
    description: str
    retry_after: int | None
    times: int
    drop: bool
    execute: bool
    delay: float
    raw_body: str | None


class FailuresMixin(ServerCore):
    """Answering calls with errors, dropped connections and lost answers, on demand."""

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        drop: bool = False,
        execute: bool = False,
        delay: float = 0.0,
        raw_body: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any method but getUpdates) fail.

        By default they answer 429 "Too Many Requests: retry after 1" with ``parameters.retry_after``.
        ``drop=True`` closes the connection without an answer (aiogram raises TelegramNetworkError).
        ``execute=True`` performs the call first (the message IS sent; only the answer is lost/wrong).
        ``delay`` waits before answering; ``raw_body`` answers that text/html body instead of JSON (what
        a proxy in front of Telegram sends on 502).
        """
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        failure = _Failure(error_code, description, retry_after, times, drop, execute, delay, raw_body)
        self._failures.setdefault(self._canonical(method), deque()).append(failure)

    def fail_next_poll(self, error_code: int = 502, *, times: int = 1) -> None:
        """Make the next getUpdates call(s) answer ``error_code`` (502 Bad Gateway by default)."""
        self.fail_next("getUpdates", error_code=error_code, times=times)

    def _take_failure(self, method: str) -> _Failure | None:
        for key in (method, "*"):
            if key == "*" and method == "getUpdates":
                continue
            queue = self._failures.get(key)
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.popleft()
                return failure
        return None

    async def _failed(self, method: str, params: JsonDict, failure: _Failure) -> ApiError:
        """What a failure does whatever carries the answer: its delay, the call itself when it executes, the
        error recorded."""
        if failure.delay:
            await asyncio.sleep(failure.delay)
        if failure.execute:
            await self._invoke(method, params)
        error = ApiError(failure.error_code, failure.description, retry_after=failure.retry_after)
        self._record_error(method, params, error)
        return error

    async def _fail(self, request: web.Request, method: str, params: JsonDict, failure: _Failure) -> web.StreamResponse:
        error = await self._failed(method, params, failure)
        if failure.drop:
            logger.debug("<- %s: dropping the connection", method)
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # aiohttp treats it as a vanished client: no answer is written
        if failure.raw_body is not None:
            return web.Response(text=failure.raw_body, status=failure.error_code, content_type="text/html")
        return web.json_response(error.body(), status=failure.error_code)
