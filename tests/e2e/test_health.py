"""/healthz and /readyz as a monitoring system or a container runtime sees them, in both modes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import (
    ADMIN,
    PollingBot,
    WebhookBot,
    bot_env,
    eventually,
    free_port,
    gateway,
    http,
    settings_from,
    telegram,
    webhook_settings,
)

__all__ = ["gateway", "http", "telegram"]  # fixtures


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def test_healthz_follows_the_database(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    async with WebhookBot(webhook_settings(tmp_path, telegram, gateway)) as bot:
        status, body = await get(http, bot.base + "/healthz")
        assert status == 200 and body["status"] == "ok" and body["database"] == "ok"
        status, body = await get(http, bot.base + "/readyz")
        assert status == 200 and body["status"] == "ready", body
        assert body["gateway"]["last_outcome"] is None  # no gateway call yet is not a failure
        assert body["telegram"]["last_success_ago_s"] is not None  # setWebhook went through

        assert bot.app is not None
        await bot.app.db.close()  # the database becomes unusable under a running bot
        status, body = await get(http, bot.base + "/healthz")
        assert status == 503 and body["database"] == "unreachable"
        status, body = await get(http, bot.base + "/readyz")
        assert status == 503 and body["status"] == "not ready"


async def test_readyz_reports_a_failing_gateway_until_it_answers_again(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    async with WebhookBot(webhook_settings(tmp_path, telegram, gateway)) as bot:
        assert bot.app is not None
        bot.app.gateway.budget = 1.0  # the operator's answer (and this test) should not wait 25 s
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        gateway.inject(Fault.HTTP_500, action="balance", times=None)
        await admin.send("/balance")
        await admin.next_message(timeout=15)  # the operator is told the gateway failed
        status, body = await get(http, bot.base + "/readyz")
        assert status == 503, body
        assert body["gateway"]["ok"] is False and body["gateway"]["last_outcome"] == "unavailable_http_5xx"
        assert body["telegram"]["ok"] is True

        gateway.clear_faults()
        await admin.send("/balance")
        assert re.search(r"Balance: 1\D?000", (await admin.next_message(timeout=10)).plain)
        status, body = await get(http, bot.base + "/readyz")
        assert status == 200 and body["gateway"]["last_outcome"] == "ok"
        assert body["gateway"]["last_success_ago_s"] is not None


async def test_readyz_reports_a_failing_bot_api_until_a_call_succeeds(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    async with WebhookBot(webhook_settings(tmp_path, telegram, gateway)) as bot:
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        # The answer fails, and so does the error handler's apology: two 502s from the Bot API.
        telegram.fail_next("sendMessage", error_code=502, times=2)
        await admin.send("/balance")

        async def unready() -> dict[str, Any] | None:
            status, body = await get(http, bot.base + "/readyz")
            return body if status == 503 and len(telegram.errors) >= 2 else None

        body = await eventually(unready, what="readyz turns 503 after Bot API failures")
        assert body["telegram"]["ok"] is False and body["telegram"]["last_error"] == "TelegramServerError"

        await admin.send("/balance")
        await admin.wait_for(lambda m: "Balance" in m.plain, timeout=10)
        status, body = await get(http, bot.base + "/readyz")
        assert status == 200 and body["telegram"]["ok"] is True


async def test_polling_mode_serves_health_on_health_port(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    port = free_port()
    settings = settings_from(bot_env(tmp_path, telegram, gateway, HEALTH_PORT=str(port)))
    async with PollingBot(settings):
        base = f"http://127.0.0.1:{port}"
        status, body = await get(http, base + "/healthz")
        assert status == 200 and body["status"] == "ok"
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        await admin.send("/balance")
        await admin.wait_for(lambda m: "Balance" in m.plain, timeout=10)
        status, body = await get(http, base + "/readyz")
        assert status == 200 and body["telegram"]["ok"] and body["gateway"]["last_outcome"] == "ok"
        assert body["tracking_queue"] == 0
    # After a stop nothing listens there any more (the port is free for the next start).
    try:
        await get(http, base + "/healthz")
    except aiohttp.ClientConnectionError:
        pass
    else:
        raise AssertionError("the health port still answers after the bot stopped")
