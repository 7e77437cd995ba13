"""An in-process emulator of the smska HTTP gateway (aiohttp), for tests, the playground and
``python -m bot sandbox``.

It speaks the protocol of shared/smska-api.md exactly: the same fields, the same reply lines (including the
leading space of the balance reply `` 0|Balance status|7464``), the documented error texts. It answers
``POST`` form bodies *and* ``GET`` query strings (the document's examples are GET URLs) on
``/api/httppost.php`` and ``/api/httppostapi2.php``; like a default PHP script it labels its replies
``text/html; charset=UTF-8`` (a client must not judge a reply by its content type). Its access log is off:
a GET request line carries the password.

Usage::

    gw = SandboxGateway(api_key="test", api_password="test", balance=Decimal("1000"))
    url = await gw.start(host="127.0.0.1", port=0)     # http://127.0.0.1:<port>/api/httppost.php
    ...
    await gw.stop()

Behaviour
    * Wrong or missing ``APIKey``/``APIPassword`` → ``1`` (checked first, for every action).
    * ``Action`` absent or empty → send; ``balance``; ``query``; anything else → ``4``.
    * Send: no ``Message``, no ``SenderID``, or an ``MSISDN`` that is not 11 digits starting with 7 → ``4``.
      A sender not in ``senders`` → ``7``; when ``senders`` is None any sender of 1–11 characters from
      latin letters, digits, space and ``.-_`` (not only spaces) is accepted — the usual alphanumeric
      originator rule. Then the magic numbers below, then ``5`` when the balance does not cover
      ``price_per_part × parts`` (parts by GSM-7 160/153, UCS-2 70/67, from ``bot.sms.parts``).
      An accepted send lowers the balance and gets a fresh 17-character lowercase alphanumeric id.
    * Query: ``BatchId`` missing or unknown → ``4``. (The real gateway's reply to an unknown id is not
      documented; ``4`` is this emulator's choice.) The status is ``3|ACCEPTD`` and becomes ``4|DELIVRD``
      ``delivery_delay`` seconds after the send, measured on ``clock`` (inject a fast clock to compress
      time). ``force_status()`` pins a status by hand. The document's example id ``ah1acugxz98a27t9z`` is
      known as ``4|DELIVRD``, so the document's example query URL answers its example reply.

Magic recipient numbers (valid Russian mobiles, so they pass the bot's own number check)
    ============  ===================================================================
    79000000003   send answers ``3|Sent Error``
    79000000005   send answers ``5|Insufficient Credits...`` (whatever the balance)
    79000000006   send answers ``6|Invalid MSISDN...``
    79000000031   accepted, stays ``3|ACCEPTD`` forever
    79000000051   accepted, ``3|ACCEPTD`` then ``5|REJECTD`` after ``delivery_delay``
    79000000061   accepted, ``3|ACCEPTD`` then ``6|REJECTD`` after ``delivery_delay``
    79000000071   accepted, ``3|ACCEPTD`` then ``7|EXPIRED`` after ``delivery_delay``
    79000000081   accepted, ``3|ACCEPTD`` then ``8|DELETED`` after ``delivery_delay``
    79000000091   accepted, undocumented ``9|UNKNOWN`` then ``4|DELIVRD`` after ``delivery_delay``
    ============  ===================================================================

    Any other valid number: ``3|ACCEPTD`` then ``4|DELIVRD`` after ``delivery_delay``. The table is also
    :data:`MAGIC_NUMBERS`.

Fault injection (tests)
    ``gw.inject(Fault.X, action=None, times=1, delay=..., code=..., body=...)`` makes the next ``times``
    matching requests (``action`` "send"/"balance"/"query", None for any; ``times=None`` until
    ``clear_faults()``) misbehave:

    ============== ==============================================================================
    HTTP_500       ``500`` with an HTML error page (or ``body``); the request is not processed
    HTML           ``200`` with an HTML page (or ``body``); not processed
    EMPTY          ``200`` with an empty body; not processed
    GARBAGE        ``200`` with a body that is not a reply (``body`` to choose it); not processed
    HANG           never answers (until ``stop()``, which it does not hold up); not processed
    DROP           closes the connection without a reply, before processing
    DROP_AFTER_SEND processes the request (a send counts and is charged), then closes the connection
    SLOW           processes the request, answers after ``delay`` seconds
    ERROR          answers ``<code>|<documented text>`` (``body`` to choose the text); not processed
    ============== ==============================================================================

Records
    ``gw.requests``: every request received, as :class:`ReceivedRequest` (the password field removed);
    ``gw.sent``: every accepted send, as :class:`SentMessage`; ``await gw.wait_requests(n, timeout=5)``
    waits for the n-th request without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import re
import secrets
import signal
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Final

from aiohttp import web

from bot.gateway.errors import DOCUMENTED_ERROR_TEXTS
from bot.sms.parts import count_parts

__all__ = [
    "DOCUMENT_EXAMPLE_ID",
    "MAGIC_NUMBERS",
    "Fault",
    "MagicNumber",
    "ReceivedRequest",
    "SandboxGateway",
    "SentMessage",
    "credentials_from_env",
    "serve_forever",
]

log = logging.getLogger(__name__)

PATHS: Final = ("/api/httppost.php", "/api/httppostapi2.php")
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8090
CONTENT_TYPE: Final = "text/html"
ID_ALPHABET: Final = string.ascii_lowercase + string.digits
ID_LENGTH: Final = 17
#: The message id of the document's examples; the sandbox knows it as delivered.
DOCUMENT_EXAMPLE_ID: Final = "ah1acugxz98a27t9z"

_MSISDN = re.compile(r"7\d{10}")
_SENDER = re.compile(r"[A-Za-z0-9 ._-]{1,11}")


class Fault(enum.Enum):
    HTTP_500 = "http_500"
    HTML = "html"
    EMPTY = "empty"
    GARBAGE = "garbage"
    HANG = "hang"
    DROP = "drop"
    DROP_AFTER_SEND = "drop_after_send"
    SLOW = "slow"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class MagicNumber:
    """What the sandbox does with a recipient number.

    ``error``: the send is answered with this error code. Otherwise the send is accepted and ``statuses``
    is its timeline: ``(after, code, name)``, ``after`` in units of ``delivery_delay``.
    """

    msisdn: str
    description: str
    error: int | None = None
    statuses: tuple[tuple[float, int, str], ...] = ()


def _final(msisdn: str, code: int, name: str, words: str) -> MagicNumber:
    return MagicNumber(
        msisdn,
        f"accepted, {code}|{name} ({words}) after the delivery delay",
        None,
        ((0, 3, "ACCEPTD"), (1, code, name)),
    )


MAGIC_NUMBERS: Final[dict[str, MagicNumber]] = {
    m.msisdn: m
    for m in (
        MagicNumber("79000000003", "send fails: error 3 (Sent Error)", error=3),
        MagicNumber("79000000005", "send fails: error 5 (Insufficient Credits)", error=5),
        MagicNumber("79000000006", "send fails: error 6 (Invalid MSISDN)", error=6),
        MagicNumber("79000000031", "accepted, stays 3|ACCEPTD forever", statuses=((0, 3, "ACCEPTD"),)),
        _final("79000000051", 5, "REJECTD", "rejected"),
        _final("79000000061", 6, "REJECTD", "rejected"),
        _final("79000000071", 7, "EXPIRED", "expired"),
        _final("79000000081", 8, "DELETED", "deleted"),
        MagicNumber(
            "79000000091",
            "accepted, undocumented 9|UNKNOWN, then 4|DELIVRD after the delivery delay",
            statuses=((0, 9, "UNKNOWN"), (1, 4, "DELIVRD")),
        ),
    )
}

_DEFAULT_TIMELINE: Final = ((0.0, 3, "ACCEPTD"), (1.0, 4, "DELIVRD"))

_HTML_PAGE: Final = (
    "<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
    "<body><h1>{title}</h1><hr><address>nginx</address></body></html>\n"
)


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the sandbox saw it. ``fields`` never holds ``APIPassword``."""

    action: str  # "send", "balance", "query", or the raw unknown Action value
    fields: dict[str, str]
    at: float  # time.monotonic() when received
    method: str
    authenticated: bool
    fault: Fault | None = None
    content_type: str = ""  # of the request body ("" for a GET)
    query_keys: tuple[str, ...] = ()  # names of the fields that came in the URL's query string


@dataclass(frozen=True, slots=True)
class SentMessage:
    id: str
    msisdn: str
    text: str
    sender: str
    parts: int
    cost: Decimal
    at: float  # on the sandbox's clock


@dataclass(slots=True)
class _Injection:
    fault: Fault
    action: str | None
    remaining: int | None
    delay: float
    code: int
    body: str | None


@dataclass(slots=True)
class _Outcome:
    """The reply of a processed request."""

    status: int = 200
    body: str = ""
    processed_send: SentMessage | None = None


class SandboxGateway:
    """The smska gateway emulator. See the module docstring."""

    def __init__(
        self,
        api_key: str = "test",
        api_password: str = "test",  # noqa: S107 — the document's example credentials, for the emulator only
        balance: Decimal = Decimal("1000"),
        price_per_part: Decimal = Decimal("1"),
        delivery_delay: float = 5.0,
        senders: Iterable[str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self._api_password = api_password
        self.balance = Decimal(balance)
        self.price_per_part = Decimal(price_per_part)
        self.delivery_delay = delivery_delay
        self.senders: frozenset[str] | None = None if senders is None else frozenset(senders)
        self.clock = clock
        self.requests: list[ReceivedRequest] = []
        self.sent: list[SentMessage] = []
        self._messages: dict[str, SentMessage] = {}
        self._forced: dict[str, tuple[int, str]] = {}
        self._injections: list[_Injection] = []
        self._changed = asyncio.Condition()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        # The document's own example query (BatchId=ah1acugxz98a27t9z) answers its example reply.
        self.force_status(DOCUMENT_EXAMPLE_ID, 4, "DELIVRD")

    def __repr__(self) -> str:
        return f"SandboxGateway(url={self._url!r}, api_key={self.api_key!r}, balance={self.balance})"

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the sandbox is not started")
        return self._url

    async def start(self, host: str = DEFAULT_HOST, port: int = 0) -> str:
        """Listen on host:port (0 = a free port); returns the gateway URL."""
        if self._runner is not None:
            raise RuntimeError("the sandbox is already started")
        self._stopping = asyncio.Event()
        app = web.Application()
        for path in PATHS:
            app.router.add_route("GET", path, self._handle)
            app.router.add_route("POST", path, self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        self._url = f"http://{shown}:{bound_port}{PATHS[0]}"
        log.info("smska sandbox listening on %s", self._url)
        return self._url

    async def stop(self) -> None:
        """Stop listening; hanging and slow requests are cut off at once."""
        self._stopping.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> SandboxGateway:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test controls

    def inject(
        self,
        fault: Fault,
        action: str | None = None,
        times: int | None = 1,
        *,
        delay: float = 1.0,
        code: int = 3,
        body: str | None = None,
    ) -> None:
        """Make the next ``times`` requests of ``action`` (any when None) misbehave; see the module docstring."""
        if action not in (None, "send", "balance", "query"):
            raise ValueError(f"unknown action {action!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        self._injections.append(_Injection(fault, action, times, delay, code, body))

    def clear_faults(self) -> None:
        self._injections.clear()

    def force_status(self, message_id: str, code: int, name: str) -> None:
        """Pin the status a query of this id answers (the id need not have been sent)."""
        self._forced[message_id] = (code, name)
        if message_id not in self._messages:
            self._messages[message_id] = SentMessage(message_id, "", "", "", 0, Decimal(0), self.clock())

    def status_of(self, message_id: str) -> tuple[int, str] | None:
        """The status a query would answer now, or None for an unknown id."""
        if message_id in self._forced:
            return self._forced[message_id]
        message = self._messages.get(message_id)
        if message is None:
            return None
        magic = MAGIC_NUMBERS.get(message.msisdn)
        timeline = magic.statuses if magic is not None and magic.statuses else _DEFAULT_TIMELINE
        elapsed = self.clock() - message.at
        current = timeline[0]
        for step in timeline:
            if elapsed >= step[0] * self.delivery_delay:
                current = step
        return current[1], current[2]

    async def wait_requests(
        self,
        n: int,
        timeout: float = 5.0,
        action: str | None = None,
    ) -> list[ReceivedRequest]:
        """Wait until at least ``n`` requests (of ``action``, when given) arrived; returns them.

        Raises TimeoutError after ``timeout`` seconds.
        """

        def matching() -> list[ReceivedRequest]:
            return [r for r in self.requests if action is None or r.action == action]

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= n)
        return matching()

    async def wait_sent(self, n: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until at least ``n`` sends were accepted; returns them."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.sent) >= n)
        return list(self.sent)

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fields: dict[str, str] = {}
        for key, value in request.query.items():
            fields[key] = value
        if request.method == "POST":
            form = await request.post()
            for key, form_value in form.items():
                if isinstance(form_value, str):
                    fields[key] = form_value
        authenticated = secrets.compare_digest(
            fields.get("APIKey", "").encode(), self.api_key.encode()
        ) and secrets.compare_digest(fields.get("APIPassword", "").encode(), self._api_password.encode())
        raw_action = fields.get("Action", "")
        action = raw_action if raw_action else "send"
        injection = self._take_injection(action)
        fault = injection.fault if injection is not None else None
        public = {k: v for k, v in fields.items() if k != "APIPassword"}
        await self._record(
            ReceivedRequest(
                action=action,
                fields=public,
                at=time.monotonic(),
                method=request.method,
                authenticated=authenticated,
                fault=fault,
                content_type=request.content_type if request.body_exists else "",
                query_keys=tuple(request.query.keys()),
            )
        )
        log.debug("sandbox: %s %s%s", request.method, action, f" fault={fault.value}" if fault else "")

        if injection is None:
            return self._reply(await self._process(action, fields, authenticated))
        if injection.fault is Fault.HTTP_500:
            page = (
                injection.body if injection.body is not None else _HTML_PAGE.format(title="500 Internal Server Error")
            )
            return web.Response(status=500, text=page, content_type=CONTENT_TYPE)
        if injection.fault is Fault.HTML:
            page = injection.body if injection.body is not None else _HTML_PAGE.format(title="Service Unavailable")
            return web.Response(text=page, content_type=CONTENT_TYPE)
        if injection.fault is Fault.EMPTY:
            return web.Response(text="", content_type=CONTENT_TYPE)
        if injection.fault is Fault.GARBAGE:
            garbage = injection.body if injection.body is not None else "Service temporarily overloaded"
            return web.Response(text=garbage, content_type=CONTENT_TYPE)
        if injection.fault is Fault.ERROR:
            text = injection.body if injection.body is not None else DOCUMENTED_ERROR_TEXTS.get(injection.code, "Error")
            return self._reply(_Outcome(body=f"{injection.code}|{text}"))
        if injection.fault is Fault.HANG:
            await self._stopping.wait()
            return self._drop(request)
        if injection.fault is Fault.DROP:
            return self._drop(request)
        outcome = await self._process(action, fields, authenticated)
        if injection.fault is Fault.DROP_AFTER_SEND:
            return self._drop(request)
        # Fault.SLOW
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), injection.delay)
        if self._stopping.is_set():
            return self._drop(request)
        return self._reply(outcome)

    @staticmethod
    def _reply(outcome: _Outcome) -> web.Response:
        return web.Response(status=outcome.status, text=outcome.body, content_type=CONTENT_TYPE, charset="utf-8")

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        """Close the connection without an answer (the returned response is never written)."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)

    def _take_injection(self, action: str) -> _Injection | None:
        for injection in self._injections:
            if injection.action is None or injection.action == action:
                if injection.remaining is not None:
                    injection.remaining -= 1
                    if injection.remaining <= 0:
                        self._injections.remove(injection)
                return injection
        return None

    async def _record(self, item: ReceivedRequest) -> None:
        async with self._changed:
            self.requests.append(item)
            self._changed.notify_all()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ protocol

    async def _process(self, action: str, fields: dict[str, str], authenticated: bool) -> _Outcome:
        outcome = self._answer(action, fields, authenticated)
        if outcome.processed_send is not None:
            await self._notify()
        return outcome

    def _answer(self, action: str, fields: dict[str, str], authenticated: bool) -> _Outcome:
        if not authenticated:
            return _error(1)
        if action == "balance":
            return _Outcome(body=f" 0|Balance status|{_money(self.balance)}")
        if action == "query":
            return self._query(fields)
        if action == "send":
            return self._send(fields)
        return _error(4)

    def _query(self, fields: dict[str, str]) -> _Outcome:
        message_id = fields.get("BatchId", "").strip()
        status = self.status_of(message_id) if message_id else None
        if status is None:
            return _error(4)
        return _Outcome(body=f"0|Status|{status[0]}|{status[1]}")

    def _send(self, fields: dict[str, str]) -> _Outcome:
        text = fields.get("Message", "")
        msisdn = fields.get("MSISDN", "").strip()
        sender = fields.get("SenderID", "")
        if not text or not sender or not _MSISDN.fullmatch(msisdn):
            return _error(4)
        if self.senders is not None:
            if sender not in self.senders:
                return _error(7)
        elif not _SENDER.fullmatch(sender) or not sender.strip():
            return _error(7)
        magic = MAGIC_NUMBERS.get(msisdn)
        if magic is not None and magic.error is not None:
            return _error(magic.error)
        parts = count_parts(text).parts
        cost = self.price_per_part * parts
        if cost > self.balance:
            return _error(5)
        message = SentMessage(self._new_id(), msisdn, text, sender, parts, cost, self.clock())
        self.balance -= cost
        self._messages[message.id] = message
        self.sent.append(message)
        return _Outcome(
            body=f"0|Message sent|{message.id}|Balance status|{_money(self.balance)}", processed_send=message
        )

    def _new_id(self) -> str:
        while True:
            candidate = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
            if candidate not in self._messages:
                return candidate


def _error(code: int) -> _Outcome:
    return _Outcome(body=f"{code}|{DOCUMENTED_ERROR_TEXTS[code]}")


def _money(amount: Decimal) -> str:
    return f"{amount:f}"


def credentials_from_env() -> tuple[str, str]:
    """``SMSKA_API_KEY``/``SMSKA_API_PASSWORD`` when set (and not blank), else ``test``/``test``."""
    key = os.environ.get("SMSKA_API_KEY", "").strip() or "test"
    password = os.environ.get("SMSKA_API_PASSWORD", "").strip() or "test"
    return key, password


async def serve_forever(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    api_password: str | None = None,
    *,
    stop: asyncio.Event | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Run a sandbox until SIGINT/SIGTERM (or ``stop`` is set), announcing its URL first.

    ``api_key``/``api_password`` default to :func:`credentials_from_env`. The password is never printed.
    """
    env_key, env_password = credentials_from_env()
    gateway = SandboxGateway(
        api_key=api_key if api_key is not None else env_key,
        api_password=api_password if api_password is not None else env_password,
    )
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    url = await gateway.start(host, port)
    try:
        announce(f"smska sandbox gateway listening on {url}")
        announce(f"  SMSKA_URL={url}  SMSKA_API_KEY={gateway.api_key}  (password as configured)")
        announce("  magic recipient numbers:")
        for magic in MAGIC_NUMBERS.values():
            announce(f"    {magic.msisdn}  {magic.description}")
        announce("  stop with Ctrl+C")
        await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await gateway.stop()
        announce("smska sandbox gateway stopped")
