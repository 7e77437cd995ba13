"""HTTP client of the smska gateway (see shared/smska-api.md and docs/ARCHITECTURE.md, "Gateway layer").

Transport
    Every request is a ``POST`` with an ``application/x-www-form-urlencoded; charset=utf-8`` body; the
    password is only ever in that body, never in the URL. It is kept as a ``SecretStr``, hidden in ``repr``,
    scrubbed from any gateway text that ends up in an exception or a log line, and never logged. (httpx logs
    ``HTTP Request: POST <url> "<status>"`` at INFO and httpcore logs request *events* at DEBUG, neither with
    the body; ``tests/test_gateway_secrets.py`` checks all of it.)

Connections
    Every request asks for ``Connection: close``, so no idle keep-alive connection to the gateway is ever
    reused: reusing one that the server has just closed is the classic way a send that never arrived ends up
    "outcome unknown" (the write succeeds into a dead socket, the read finds it closed).

Time
    Every public call is bounded by a time budget: an operator is waiting on ``send``, ``balance`` and ``query``
    by default, and those get ``min(budget, operator_budget)`` (``operator_budget`` 12 s, so that with the
    answer's own trip the operator has the final word within the contract's 15 s); the delivery tracker in the
    background passes ``background=True`` and gets the whole ``budget`` (default 25 s). Each attempt gets
    ``min(timeout, remaining budget)`` as its httpx timeout and a hard
    cap of that plus a small grace (httpx timeouts are per operation, a server trickling bytes could
    otherwise hold an attempt for longer).

Retries
    ``balance`` and ``query`` are idempotent: any :class:`GatewayUnavailable` (timeout, refused or dropped
    connection, 5xx, HTML/empty/garbage body) is retried with jittered exponential back-off
    (``backoff_base`` doubling up to ``backoff_max``, each delay scaled by a random factor in [0.5, 1]) while
    the budget lasts; then the last failure is raised. A documented (or undocumented) gateway error code is a
    real answer and is never retried, nor is a 3xx/4xx status (``http_status``: a wrong URL or a refusal that
    a retry cannot fix).

    ``send`` is not idempotent. It is retried only when the request certainly never reached the gateway:
    ``httpx.ConnectError`` (refused, unreachable, DNS, TLS handshake — no byte of the request was written),
    ``httpx.ConnectTimeout``, ``httpx.PoolTimeout`` (no connection was obtained) and ``httpx.ProxyError``
    (the proxy refused the tunnel). When those last until the budget runs out, ``GatewayUnavailable`` is
    raised (nothing went out). Everything that can happen once the request may have been written raises
    :class:`SendOutcomeUnknown` at once and is never resent: a read timeout, a write timeout or write error
    (part of the request may have left), the connection dropped before a complete answer
    (``RemoteProtocolError``/``ReadError``), the attempt's hard cap, a 5xx status, and an empty, HTML or
    garbage body after a 2xx.

    A 5xx on send is "unknown" on purpose: a proxy's 502/504 may come after it forwarded the request, and a
    PHP gateway that fails after doing the work answers 500 too. 3xx/4xx on send are ``GatewayUnavailable``
    (``http_status``): by HTTP semantics the request was refused, not processed.

Observability
    ``last_success_at`` is the ``time.monotonic()`` of the last ``0|...`` reply; ``last_reply_at`` of the last
    well-formed reply of any kind (including ``<code>|<text>`` errors — the gateway is up). ``observer``, when
    given, is called after every attempt as ``observer(action, seconds, outcome)`` with outcome ``"ok"``,
    ``"error_<code>"``, ``"unavailable_<reason>"`` or ``"unknown"`` (a send attempt that may have gone out);
    an exception raised by the observer is logged and ignored.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Final, Literal, TypeVar
from urllib.parse import quote_plus, urlencode

import httpx
from pydantic import SecretStr

from bot.gateway.errors import (
    GatewayRejected,
    GatewayUnavailable,
    SendOutcomeUnknown,
)
from bot.gateway.parser import SendResult, excerpt, parse_balance, parse_query, parse_send
from bot.sms.status import DeliveryStatus

__all__ = ["Observer", "SendResult", "SmskaClient"]

log = logging.getLogger(__name__)

Action = Literal["send", "balance", "query"]
Observer = Callable[[str, float, str], None]
T = TypeVar("T")

CONTENT_TYPE: Final = "application/x-www-form-urlencoded; charset=utf-8"
MAX_BODY_BYTES: Final = 64 * 1024
#: Extra time allowed on top of an attempt's httpx timeout before the attempt is cut off.
HARD_CAP_GRACE: Final = 0.5
#: Do not start an attempt with less than this left of the budget.
MIN_ATTEMPT_SECONDS: Final = 0.05


class _Failure(Exception):
    """One failed attempt without a usable reply. ``reached``: the request may have reached the gateway."""

    def __init__(self, reason: str, detail: str, *, reached: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.reached = reached


class SmskaClient:
    """Async client of the smska HTTP API over a caller-owned ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        url: str,
        api_key: str,
        api_password: str | SecretStr,
        timeout: float = 10.0,
        budget: float = 25.0,
        operator_budget: float = 12.0,
        observer: Observer | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 5.0,
    ) -> None:
        if timeout <= 0 or budget <= 0 or operator_budget <= 0:
            raise ValueError("timeout and budgets must be positive")
        self._http = http
        self._url = url
        self._api_key = api_key
        self._api_password = api_password if isinstance(api_password, SecretStr) else SecretStr(api_password)
        self.timeout = timeout
        self.budget = budget
        self.operator_budget = operator_budget
        self.observer = observer
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.last_success_at: float | None = None
        self.last_reply_at: float | None = None
        #: The balance the gateway last reported (with a send or a balance query): for `/metrics`.
        self.last_balance: Decimal | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(url={self._scrub(self._url)!r}, api_key={self._api_key!r}, "
            f"api_password=SecretStr('**********'), timeout={self.timeout!r}, budget={self.budget!r})"
        )

    @property
    def url(self) -> str:
        return self._url

    # ------------------------------------------------------------------ public API

    async def send(self, msisdn: str, text: str, sender: str) -> SendResult:
        """Send one SMS. Raises GatewayRejected, GatewayUnavailable (nothing went out) or SendOutcomeUnknown."""
        fields = {"SenderID": sender, "MSISDN": msisdn, "Message": text}
        result = await self._call("send", fields, parse_send, idempotent=False, budget=self._budget(False))
        self.last_balance = result.balance
        return result

    async def balance(self, *, background: bool = False) -> Decimal:
        """The balance left. Raises GatewayRejected or GatewayUnavailable."""
        budget = self._budget(background)
        balance = await self._call("balance", {"Action": "balance"}, parse_balance, idempotent=True, budget=budget)
        self.last_balance = balance
        return balance

    async def query(self, message_id: str, *, background: bool = False) -> DeliveryStatus:
        """The delivery status of a sent message. Raises GatewayRejected or GatewayUnavailable."""
        fields = {"Action": "query", "BatchId": message_id}
        return await self._call("query", fields, parse_query, idempotent=True, budget=self._budget(background))

    def _budget(self, background: bool) -> float:
        """An operator is waiting unless `background`: then the call fits the operator's budget."""
        return self.budget if background else min(self.budget, self.operator_budget)

    # ------------------------------------------------------------------ internals

    def _scrub(self, text: str) -> str:
        """Remove the password (raw and form-encoded) from any text bound for an exception or a log."""
        secret = self._api_password.get_secret_value()
        if not secret:
            return text
        for variant in {secret, quote_plus(secret), quote_plus(secret, safe="")}:
            if variant:
                text = text.replace(variant, "***")
        return text

    def _body(self, fields: dict[str, str]) -> bytes:
        form = {"APIKey": self._api_key, "APIPassword": self._api_password.get_secret_value(), **fields}
        return urlencode(form, encoding="utf-8").encode("ascii")

    async def _call(
        self,
        action: Action,
        fields: dict[str, str],
        parse: Callable[[str], T],
        *,
        idempotent: bool,
        budget: float,
    ) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - loop.time()
            attempt_timeout = min(self.timeout, remaining)
            started = time.monotonic()
            try:
                text = await self._attempt(fields, attempt_timeout)
                result = parse(text)
            except _Failure as failure:
                seconds = time.monotonic() - started
                if failure.reached and not idempotent:
                    self._observe(action, seconds, "unknown")
                    log.warning(
                        "gateway %s: outcome unknown (%s: %s); not resending", action, failure.reason, failure.detail
                    )
                    raise SendOutcomeUnknown(failure.reason, failure.detail) from None
                self._observe(action, seconds, f"unavailable_{failure.reason}")
                error = GatewayUnavailable(failure.reason, failure.detail)
            except GatewayUnavailable as exc:  # unusable body after a 2xx
                seconds = time.monotonic() - started
                if not idempotent:
                    self._observe(action, seconds, "unknown")
                    log.warning("gateway %s: outcome unknown (%s: %s); not resending", action, exc.reason, exc.detail)
                    raise SendOutcomeUnknown(exc.reason, exc.detail) from None
                self._observe(action, seconds, f"unavailable_{exc.reason}")
                error = exc
            except GatewayRejected as exc:
                seconds = time.monotonic() - started
                self.last_reply_at = time.monotonic()
                self._observe(action, seconds, f"error_{exc.code}")
                log.info("gateway %s: error %s", action, exc.code)
                raise
            else:
                now = time.monotonic()
                self.last_success_at = self.last_reply_at = now
                self._observe(action, now - started, "ok")
                log.debug("gateway %s: ok in %.3fs (attempt %d)", action, now - started, attempt)
                return result

            if error.reason == "http_status":
                log.warning("gateway %s: %s (%s); not retrying", action, error.reason, error.detail)
                raise error
            delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            if loop.time() + delay + MIN_ATTEMPT_SECONDS >= deadline:
                log.warning(
                    "gateway %s: %s (%s) after %d attempt(s); time budget spent",
                    action,
                    error.reason,
                    error.detail,
                    attempt,
                )
                raise error
            log.info("gateway %s: %s (%s); retrying in %.2fs", action, error.reason, error.detail, delay)
            await asyncio.sleep(delay)

    async def _attempt(self, fields: dict[str, str], seconds: float) -> str:
        """One request. Returns the decoded body of a 2xx, or raises _Failure / GatewayUnavailable."""
        body = self._body(fields)
        try:
            async with asyncio.timeout(seconds + HARD_CAP_GRACE):
                return await self._exchange(body, seconds)
        except TimeoutError:
            raise _Failure("timeout", "attempt hard cap reached", reached=True) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError) as exc:
            reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connect"
            raise _Failure(reason, self._describe(exc), reached=False) from None
        except httpx.UnsupportedProtocol as exc:
            raise _Failure("connect", self._describe(exc), reached=False) from None
        except httpx.TimeoutException as exc:  # ReadTimeout, WriteTimeout
            raise _Failure("timeout", self._describe(exc), reached=True) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError) as exc:
            raise _Failure("dropped", self._describe(exc), reached=True) from None
        except httpx.DecodingError as exc:
            raise _Failure("garbage", self._describe(exc), reached=True) from None
        except httpx.RequestError as exc:  # anything else: be conservative
            raise _Failure("dropped", self._describe(exc), reached=True) from None
        except httpx.InvalidURL:
            raise _Failure("connect", "invalid gateway URL", reached=False) from None

    async def _exchange(self, body: bytes, seconds: float) -> str:
        # A fresh connection per request: a pooled keep-alive connection that the gateway closes just as a send
        # is written would turn a send that never arrived into a false "outcome unknown". The gateway sees a
        # few requests a minute; the extra handshake costs nothing that matters.
        headers = {"Content-Type": CONTENT_TYPE, "Accept": "text/plain, */*", "Connection": "close"}
        async with self._http.stream(
            "POST", self._url, content=body, headers=headers, timeout=httpx.Timeout(seconds)
        ) as response:
            raw = bytearray()
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) > MAX_BODY_BYTES:
                    break
            status = response.status_code
        text = self._scrub(_decode(bytes(raw[:MAX_BODY_BYTES])))
        if status >= 500:
            raise _Failure("http_5xx", f"HTTP {status} {excerpt(text)}", reached=True)
        if not 200 <= status < 300:  # 3xx/4xx: refused or redirected, not processed
            raise _Failure("http_status", f"HTTP {status} {excerpt(text)}", reached=False)
        if len(raw) > MAX_BODY_BYTES:
            raise GatewayUnavailable("garbage", f"body over {MAX_BODY_BYTES} bytes")
        return text

    def _describe(self, exc: BaseException) -> str:
        message = self._scrub(str(exc))
        return f"{type(exc).__name__}: {message}" if message else type(exc).__name__

    def _observe(self, action: str, seconds: float, outcome: str) -> None:
        if self.observer is None:
            return
        try:
            self.observer(action, seconds, outcome)
        except Exception:
            log.exception("gateway observer failed")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")
