"""/metrics as Prometheus scrapes it: the series move when an operator sends an SMS."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import (
    ADMIN,
    WebhookBot,
    gateway,
    http,
    preview,
    telegram,
    webhook_settings,
)

__all__ = ["gateway", "http", "telegram"]  # fixtures

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(http: aiohttp.ClientSession, base: str) -> Samples:
    async with http.get(base + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def bot(tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway) -> AsyncIterator[WebhookBot]:
    async with WebhookBot(webhook_settings(tmp_path, telegram, gateway)) as running:
        yield running


async def test_a_send_moves_the_counters(bot: WebhookBot, telegram: FakeTelegram, http: aiohttp.ClientSession) -> None:
    before = await scrape(http, bot.base)
    assert value(before, "smska_bot_sms", state="accepted") == 0
    assert value(before, "smska_bot_ready") == 1

    admin = telegram.user(ADMIN, "Alice", language_code="en")
    shown = await preview(admin, "/send 79041764995 Pump 3 pressure low")
    await admin.press(shown, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == shown.message_id and "Sent to" in m.plain, timeout=10)
    await admin.wait_for(lambda m: "delivered" in m.plain and m.message_id != shown.message_id, timeout=15)

    after = await scrape(http, bot.base)
    assert value(after, "smska_bot_sms", state="accepted") == 1
    assert value(after, "smska_bot_sms", state="failed") == 0
    assert value(after, "smska_bot_sms_final_status", status="DELIVRD") == 1
    assert value(after, "smska_bot_tracking_queue_depth") == 0
    assert value(after, "smska_bot_gateway_request_seconds_count", action="send") == 1
    assert value(after, "smska_bot_gateway_request_seconds_count", action="query") >= 1
    assert value(after, "smska_bot_gateway_request_seconds_sum", action="send") > 0
    assert value(after, "smska_bot_updates_total", type="message") >= 1
    assert value(after, "smska_bot_updates_total", type="callback_query") == 1
    assert value(after, "smska_bot_telegram_retries_total") == 0


async def test_gateway_errors_by_code_and_telegram_retries(
    bot: WebhookBot, telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    admin = telegram.user(ADMIN, "Alice", language_code="en")
    shown = await preview(admin, "/send 79000000005 Backup job failed")  # the sandbox's "insufficient credits"
    await admin.press(shown, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == shown.message_id and "Not enough money" in m.plain, timeout=10)
    telegram.fail_next("sendMessage", error_code=429, retry_after=1)
    await admin.send("/balance")
    assert re.search(r"Balance: 1\D?000", (await admin.next_message(timeout=10)).plain)

    samples = await scrape(http, bot.base)
    assert value(samples, "smska_bot_gateway_errors_total", action="send", code="5") == 1
    assert value(samples, "smska_bot_sms", state="failed") == 1
    assert value(samples, "smska_bot_sms", state="accepted") == 0
    assert value(samples, "smska_bot_telegram_retries_total") == 1


async def test_without_prometheus_client_metrics_404_and_the_rest_works(
    tmp_path: Path,
    telegram: FakeTelegram,
    gateway: SandboxGateway,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # `import prometheus_client` fails
    async with WebhookBot(webhook_settings(tmp_path, telegram, gateway)) as running:
        async with http.get(running.base + "/metrics") as response:
            assert response.status == 404
        async with http.get(running.base + "/healthz") as response:
            assert response.status == 200
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        await admin.send("/balance")
        assert re.search(r"Balance: 1\D?000", (await admin.next_message(timeout=10)).plain)
        async with http.get(running.base + "/readyz") as response:
            assert response.status == 200 and (await response.json())["gateway"]["last_outcome"] == "ok"
