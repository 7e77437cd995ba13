"""Shared fixtures of the gateway tests: a real sandbox on loopback and a real httpx client.

Import the fixtures into a test module (``from tests.support.gateway_fixtures import http_fixture, sandbox_fixture``);
they are registered under the names ``http``, ``sandbox``, ``client`` and ``clock``. Nothing of ours is mocked. ``PASSWORD`` is distinctive (and full of characters that need form encoding) so that a leak is
easy to find.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.devkit.sandbox import SandboxGateway
from bot.gateway.client import SmskaClient
from bot.middlewares.telegram import tls_context

API_KEY = "clinic-login"
PASSWORD = "Zq9&Secret=Pw+7731 %41/Щ"  # test-only; distinctive on purpose ("Zq9" marks a leak)


class FakeClock:
    """A clock the sandbox reads its delivery timeline from; tests move it by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, read, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def make_client(http: httpx.AsyncClient, url: str, **overrides: Any) -> SmskaClient:
    """A client with test-sized timings: short timeouts and back-off, so the suite stays fast."""
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "api_password": PASSWORD,
        "timeout": 1.0,
        "budget": 3.0,
        "backoff_base": 0.05,
        "backoff_max": 0.2,
    }
    options.update(overrides)
    return SmskaClient(http, url=url, **options)


@pytest.fixture(name="clock")
def clock_fixture() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="sandbox")
async def sandbox_fixture(clock: FakeClock) -> AsyncIterator[SandboxGateway]:
    gateway = SandboxGateway(
        api_key=API_KEY,
        api_password=PASSWORD,
        balance=Decimal("100"),
        price_per_part=Decimal("1.5"),
        delivery_delay=5.0,
        senders=None,
        clock=clock,
    )
    await gateway.start(host="127.0.0.1", port=0)
    try:
        yield gateway
    finally:
        await gateway.stop()


@pytest.fixture(name="http")
async def http_fixture() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, verify=tls_context()) as client:
        yield client


@pytest.fixture(name="client")
def client_fixture(http: httpx.AsyncClient, sandbox: SandboxGateway) -> SmskaClient:
    return make_client(http, sandbox.url)
