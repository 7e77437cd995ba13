"""The sandbox gateway's HTTP server: :class:`SandboxGateway` (see the package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
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

from .model import (
    _DEFAULT_TIMELINE,
    DOCUMENT_EXAMPLE_ID,
    MAGIC_NUMBERS,
    Fault,
    ReceivedRequest,
    SentMessage,
    _Injection,
)

log = logging.getLogger(__name__)

PATHS: Final = ("/api/httppost.php", "/api/httppostapi2.php")
DEFAULT_HOST: Final = "127.0.0.1"
CONTENT_TYPE: Final = "text/html"
ID_ALPHABET: Final = string.ascii_lowercase + string.digits
ID_LENGTH: Final = 17

_MSISDN = re.compile(r"7\d{10}")
_SENDER = re.compile(r"[A-Za-z0-9 ._-]{1,11}")

_HTML_PAGE: Final = (
    "<!DOCTYPE html>\n<html><head><title>{title}</title></head>\n"
    "<body><h1>{title}</h1><hr><address>nginx</address></body></html>\n"
)


@dataclass(slots=True)
class _Outcome:
    """The reply of a processed request."""

    status: int = 200
    body: str = ""
    processed_send: SentMessage | None = None


class SandboxGateway:
    """The smska gateway emulator. See the package docstring (:mod:`bot.devkit.sandbox`)."""

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
        self._next_ids: list[str] = []
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

    def force_next_id(self, message_id: str) -> None:
        """The next accepted send gets this id (e.g. a hostile one, as a forged reply on plain http could carry)."""
        self._next_ids.append(message_id)

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
            outcome = await self._process(action, fields, authenticated)
            magic = MAGIC_NUMBERS.get(outcome.processed_send.msisdn) if outcome.processed_send is not None else None
            if magic is not None and magic.drop:
                return self._drop(request)  # sent, and the answer lost on the way
            return self._reply(outcome)
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
        if self._next_ids:
            return self._next_ids.pop(0)
        while True:
            candidate = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
            if candidate not in self._messages:
                return candidate


def _error(code: int) -> _Outcome:
    return _Outcome(body=f"{code}|{DOCUMENTED_ERROR_TEXTS[code]}")


def _money(amount: Decimal) -> str:
    return f"{amount:f}"
