"""The gateway password never shows: not in a URL, a log record (ours, httpx's, httpcore's, aiohttp's), an
exception's message, detail, traceback or repr — through a run full of failures."""

from __future__ import annotations

import asyncio
import logging
import traceback
from decimal import Decimal
from urllib.parse import quote, quote_plus, urlencode

import httpx
import pytest

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.gateway.client import SmskaClient
from bot.gateway.errors import GatewayError
from tests.support.gateway_fixtures import (  # noqa: F401 — the *_fixture names register pytest fixtures
    API_KEY,
    PASSWORD,
    clock_fixture,
    free_port,
    http_fixture,
    make_client,
    sandbox_fixture,
)

NUMBER = "79041764995"
NEEDLES = {
    PASSWORD,
    quote_plus(PASSWORD),
    quote(PASSWORD),
    quote(PASSWORD, safe=""),
    urlencode({"APIPassword": PASSWORD}),
    "Zq9",  # the distinctive head of the password: catches a partial leak in any encoding
}
LOGGERS = ["", "bot", "bot.gateway", "httpx", "httpcore", "aiohttp", "aiohttp.access", "aiohttp.server", "asyncio"]


def assert_clean(text: str) -> None:
    for needle in NEEDLES:
        assert needle not in text, f"password leaked: {needle!r} in {text[:2000]!r}"


async def raw_get(sandbox: SandboxGateway, params: dict[str, str]) -> str:
    url = httpx.URL(sandbox.url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    target = f"{url.path}?{urlencode(params)}"
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {url.host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    return data.decode()


def describe(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, GatewayError):
        parts += [exc.text, getattr(exc, "detail", ""), str(exc.args)]
    return "\n".join(parts)


async def test_no_password_anywhere_in_a_run_full_of_failures(
    caplog: pytest.LogCaptureFixture, http: httpx.AsyncClient, sandbox: SandboxGateway
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    seen: list[str] = []

    def observer(action: str, seconds: float, outcome: str) -> None:
        if outcome == "error_7":
            raise RuntimeError("metrics backend down")  # logged with a traceback by the client

    client = make_client(http, sandbox.url, timeout=0.2, budget=0.6, observer=observer)
    seen.append(repr(client))
    seen.append(str(vars(client)))

    async def attempt(coro: object) -> None:
        try:
            await coro  # type: ignore[misc]
        except Exception as exc:
            seen.append(describe(exc))

    # successes
    result = await client.send(NUMBER, "hello", "Clinic")
    await client.balance()
    await client.query(result.message_id)
    # documented errors, one of them with an observer that blows up
    await attempt(client.send("79000000003", "x", "Clinic"))
    await attempt(client.send(NUMBER, "x", "Far Too Long Sender"))
    await attempt(client.query("nosuchid"))
    await attempt(make_client(http, sandbox.url, api_password=PASSWORD + "!").balance())
    # every fault, on the idempotent path (retried) and on send (unknown)
    for fault in (Fault.HTTP_500, Fault.HTML, Fault.EMPTY, Fault.GARBAGE, Fault.DROP, Fault.DROP_AFTER_SEND):
        sandbox.inject(fault, action="balance")
        await attempt(client.balance())
        sandbox.inject(fault, action="send")
        await attempt(client.send(NUMBER, "x", "Clinic"))
    sandbox.inject(Fault.HANG, action="send")
    await attempt(client.send(NUMBER, "x", "Clinic"))
    sandbox.inject(Fault.SLOW, action="query", delay=2.0)
    await attempt(client.query(result.message_id))
    sandbox.clear_faults()
    # a gateway (or a proxy's debug page) that echoes the request back, raw and form-encoded
    echo = f"debug: APIPassword={PASSWORD} body={urlencode({'APIPassword': PASSWORD})}"
    for fault in (Fault.HTTP_500, Fault.HTML, Fault.GARBAGE):
        sandbox.inject(fault, body=echo if fault is not Fault.HTML else f"<html>{echo}</html>")
        await attempt(client.send(NUMBER, "x", "Clinic"))
    sandbox.inject(Fault.HTTP_500, action="balance", times=None, body=echo)  # until the budget is spent
    await attempt(client.balance())
    sandbox.clear_faults()
    sandbox.inject(Fault.ERROR, code=4, body=echo)
    await attempt(client.balance())
    sandbox.inject(Fault.ERROR, code=77, body=echo)
    await attempt(client.balance())
    # no gateway at all, and a wrong path
    gone = make_client(http, f"http://127.0.0.1:{free_port()}/api/httppost.php", budget=0.4)
    await attempt(gone.send(NUMBER, "x", "Clinic"))
    await attempt(gone.balance())
    await attempt(make_client(http, sandbox.url.replace("httppost", "nope")).query("x"))
    # the document's GET form puts the password in the URL: the sandbox must not log it either. (Sent over a raw
    # socket: httpx itself would log such a URL at INFO — which is why the client only ever POSTs.)
    reply = await raw_get(sandbox, {"APIKey": API_KEY, "APIPassword": PASSWORD, "Action": "balance"})
    assert "\r\n\r\n 0|Balance status|" in reply

    seen.append(repr(sandbox))
    seen.extend(repr(r) for r in sandbox.requests)
    seen.extend(repr(s) for s in sandbox.sent)

    # the capture really saw the libraries' debug output, including the request lines
    names = {record.name for record in caplog.records}
    assert "httpx" in names
    assert any(name.startswith("httpcore") for name in names)
    assert any(name.startswith("bot.gateway") for name in names)
    assert any(record.exc_info for record in caplog.records)  # the observer's traceback
    assert len(seen) > 25

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        assert_clean(formatter.format(record))
        assert_clean(str(record.args))
        assert_clean(str(record.__dict__))
    assert_clean(caplog.text)
    for text in seen:
        assert_clean(text)


async def test_the_password_is_only_in_the_post_body(http: httpx.AsyncClient) -> None:
    """Look at the bytes on the wire: the URL and headers carry no password; the body carries it form-encoded."""
    captured: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(200, text=" 0|Balance status|5")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as wire:
        client = SmskaClient(wire, url="http://gw.example/api/httppost.php", api_key=API_KEY, api_password=PASSWORD)
        assert await client.balance() == Decimal(5)
    [request] = captured
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert request.headers["connection"] == "close"  # never a stale keep-alive connection for a send
    assert_clean(str(request.url))
    assert_clean(str(request.headers))
    assert urlencode({"APIPassword": PASSWORD}) in request.content.decode()
