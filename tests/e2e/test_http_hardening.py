"""The bot's open port under a hostile client: odd secrets, half-sent requests, scrapes without the token.

Webhook mode in this process (`WebhookBot`) over loopback; raw sockets where a well-behaved HTTP client cannot
misbehave enough. (Issue 19, finding 8.)
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

import bot.web.http
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from bot.web.http import SECRET_HEADER
from tests.e2e.test_webhook import stranger_update, webhook_env
from tests.support.deploy_fixtures import WEBHOOK_SECRET, WebhookBot, gateway, http, settings_from, telegram

__all__ = ["gateway", "http", "telegram"]  # fixtures


async def test_a_non_ascii_secret_header_is_refused_with_401_not_a_server_error(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    env = webhook_env(tmp_path, telegram, gateway, WEBHOOK_SECRET=WEBHOOK_SECRET)
    async with WebhookBot(settings_from(env)) as hooked:
        assert hooked.settings.webhook_url is not None
        host, port = "127.0.0.1", hooked.port
        body = b'{"update_id": 1}'
        for secret in ("пароль".encode(), "é".encode("latin-1"), WEBHOOK_SECRET.encode() + "ё".encode()):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(
                b"POST /tg/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + SECRET_HEADER.encode()
                + b": "
                + secret
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 10)
            writer.close()
            assert status.split()[1] == b"401", status


async def test_half_sent_requests_are_closed_and_a_slow_body_gets_408(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.web.http, "IDLE_TIMEOUT", 1.0)
    monkeypatch.setattr(bot.web.http, "BODY_TIMEOUT", 1.0)
    env = webhook_env(tmp_path, telegram, gateway, WEBHOOK_SECRET=WEBHOOK_SECRET)
    async with WebhookBot(settings_from(env)) as hooked:
        # 50 connections that never finish their headers: all closed by the server, none held for long.
        began = time.monotonic()
        conns = [await asyncio.open_connection("127.0.0.1", hooked.port) for _ in range(50)]
        for _, writer in conns:
            writer.write(b"POST /tg/hook HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            await writer.drain()
        for reader, writer in conns:
            assert await asyncio.wait_for(reader.read(), 10) == b""  # the server hung up, answering nothing
            writer.close()
        assert time.monotonic() - began < 8

        # Headers complete, the body trickles: 408 once BODY_TIMEOUT ran out, and nothing was handled.
        reader, writer = await asyncio.open_connection("127.0.0.1", hooked.port)
        writer.write(
            b"POST /tg/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"{SECRET_HEADER}: {WEBHOOK_SECRET}\r\nContent-Length: 500\r\n\r\n".encode()
            + b'{"update_id": '
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status.split()[1] == b"408", status
        assert telegram.sent_messages == []


async def test_metrics_ask_for_the_token_when_one_is_set(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    env = webhook_env(tmp_path, telegram, gateway, WEBHOOK_SECRET=WEBHOOK_SECRET, METRICS_TOKEN="scrape-Zq9-token")
    async with WebhookBot(settings_from(env)) as hooked:
        url = f"{hooked.base}/metrics"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer scrape-Zq9-tokenx"}):
            async with http.get(url, headers=headers) as response:
                assert response.status == 401
                assert "smska_bot" not in await response.text()
        async with http.get(url, headers={"Authorization": "Bearer scrape-Zq9-token"}) as response:
            assert response.status == 200 and "smska_bot_ready" in await response.text()
        async with http.get(f"{hooked.base}/healthz") as response:
            assert response.status == 200  # liveness stays open for the container's probe
        # ...and the webhook itself still works.
        assert hooked.settings.webhook_url is not None
        async with http.post(
            hooked.settings.webhook_url, json=stranger_update(7001), headers={SECRET_HEADER: WEBHOOK_SECRET}
        ) as response:
            assert response.status == 200
