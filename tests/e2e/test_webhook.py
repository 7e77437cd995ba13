"""Webhook mode end to end: the fake Bot API server POSTs updates to the real bot's aiohttp server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import ALLOWED_UPDATES
from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import FakeTelegram
from bot.web.http import MAX_BODY_BYTES, SECRET_HEADER
from tests.support.deploy_fixtures import (
    ADMIN,
    WEBHOOK_SECRET,
    BotProcess,
    WebhookBot,
    bot_env,
    eventually,
    free_port,
    gateway,
    http,
    preview,
    sends,
    settings_from,
    telegram,
)

__all__ = ["gateway", "http", "telegram"]  # fixtures

STRANGER = 5555
BALANCE = re.compile(r"Balance: 1\D?000")  # the sandbox's balance, as the operator reads it


def webhook_env(tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, **extra: str) -> dict[str, str]:
    port = free_port()
    return bot_env(
        tmp_path,
        telegram,
        gateway,
        WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/hook",
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
        **extra,
    )


@pytest.fixture
async def hooked(tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway) -> AsyncIterator[WebhookBot]:
    env = webhook_env(tmp_path, telegram, gateway, WEBHOOK_SECRET=WEBHOOK_SECRET)
    async with WebhookBot(settings_from(env)) as bot:
        yield bot


def stranger_update(update_id: int, text: str = "/start") -> dict[str, Any]:
    """A real-looking update from someone who has no access (a refusal and an access request if handled)."""
    person = {"id": STRANGER, "is_bot": False, "first_name": "Mallory", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 77,
            "date": 1_700_000_000,
            "chat": {"id": STRANGER, "type": "private", "first_name": "Mallory"},
            "from": person,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


def table_count(db_path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


async def test_telegram_delivers_updates_and_the_bot_answers(hooked: WebhookBot, telegram: FakeTelegram) -> None:
    [call] = telegram.calls_to("setWebhook")
    assert call.params["url"] == hooked.settings.webhook_url
    assert call.params["secret_token"] == WEBHOOK_SECRET
    assert call.params["allowed_updates"] == ALLOWED_UPDATES
    admin = telegram.user(ADMIN, "Alice", language_code="en")
    await admin.send("/balance")
    reply = await admin.next_message(timeout=10)
    assert BALANCE.search(reply.plain)
    assert telegram.webhook_deliveries[-1][2] == 200
    await hooked.__aexit__()
    assert telegram.calls_to("deleteWebhook") == []  # a restart must not lose updates queued meanwhile
    assert telegram.webhook_url == hooked.settings.webhook_url


async def test_requests_without_the_secret_get_401_and_change_nothing(
    hooked: WebhookBot, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    assert hooked.settings.webhook_url is not None
    url = hooked.settings.webhook_url
    stranger = telegram.user(STRANGER, "Mallory", language_code="en")
    body = stranger_update(900_001)
    for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: WEBHOOK_SECRET + "x"}):
        async with http.post(url, json=body, headers=headers) as response:
            assert response.status == 401
    async with http.post(url, data=b"x" * (MAX_BODY_BYTES + 10), headers={SECRET_HEADER: "nope"}) as response:
        assert response.status == 401  # the secret is checked before the body is read
    db = hooked.settings.database_path
    assert table_count(db, "access_requests") == 0
    assert table_count(db, "people") == 0
    assert telegram.calls_to("sendMessage") == []
    assert gateway.requests == []

    # The very same update with the right secret is handled: the stranger is refused, the admin asked.
    async with http.post(url, json=body, headers={SECRET_HEADER: WEBHOOK_SECRET}) as response:
        assert response.status == 200
    refusal = await stranger.next_message(timeout=10)
    assert str(STRANGER) in refusal.plain
    assert table_count(db, "access_requests") == 1


async def test_oversized_and_malformed_bodies_are_refused_and_the_bot_keeps_working(
    hooked: WebhookBot, telegram: FakeTelegram, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    assert hooked.settings.webhook_url is not None
    url = hooked.settings.webhook_url
    auth = {SECRET_HEADER: WEBHOOK_SECRET}
    huge = stranger_update(900_002, "/start " + "a" * MAX_BODY_BYTES)
    async with http.post(url, json=huge, headers=auth) as response:
        assert response.status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit must hold while reading
        for _ in range(20):
            yield b" " * 65536
        yield json.dumps(stranger_update(900_003)).encode()

    async with http.post(url, data=chunks(), headers=auth) as response:
        assert response.status == 413
    for raw in (b"{not json", b"[1, 2, 3]", b'{"no_update_id": true}', b"\xff\xfe\x00", b"", b'{"update_id": "x"}'):
        async with http.post(url, data=raw, headers={**auth, "Content-Type": "application/json"}) as response:
            assert response.status == 400, raw
    assert telegram.calls_to("sendMessage") == []
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]

    admin = telegram.user(ADMIN, "Alice", language_code="en")
    await admin.send("/balance")
    assert BALANCE.search((await admin.next_message(timeout=10)).plain)


async def test_without_a_secret_a_random_one_is_used_and_logged(
    tmp_path: Path,
    telegram: FakeTelegram,
    gateway: SandboxGateway,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    env = webhook_env(tmp_path, telegram, gateway)
    async with WebhookBot(settings_from(env)) as bot:
        generated = telegram.webhook_secret
        assert generated is not None and re.fullmatch(r"[A-Za-z0-9_-]{32,256}", generated)
        assert any("WEBHOOK_SECRET is not set" in r.getMessage() for r in caplog.records)
        assert all(generated not in r.getMessage() for r in caplog.records)
        assert bot.settings.webhook_url is not None
        async with http.post(bot.settings.webhook_url, json=stranger_update(900_004)) as response:
            assert response.status == 401  # not an open door
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        await admin.send("/balance")
        assert BALANCE.search((await admin.next_message(timeout=10)).plain)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "error: WEBHOOK_URL is required in webhook mode"),
        ({"WEBHOOK_URL": "not a url"}, "error: WEBHOOK_URL is malformed"),
        (
            {"WEBHOOK_URL": "https://bot.example.org/hook", "WEBHOOK_SECRET": "has spaces Zq9"},
            "WEBHOOK_SECRET is malformed",
        ),
    ],
)
async def test_bad_webhook_settings_stop_start_up_with_one_plain_line(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, extra: dict[str, str], expected: str
) -> None:
    env = bot_env(tmp_path, telegram, gateway, **extra)
    proc = await BotProcess(["--webhook"], env, tmp_path).start()
    code = await proc.wait(30)
    assert code == 2
    assert len(proc.lines) == 1 and expected in proc.lines[0], proc.output
    assert "Zq9" not in proc.output
    assert telegram.calls == []  # nothing was started


async def test_a_stop_during_a_send_finishes_it_and_turns_new_updates_away(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    env = webhook_env(tmp_path, telegram, gateway, WEBHOOK_SECRET=WEBHOOK_SECRET)
    bot = WebhookBot(settings_from(env))
    async with bot:
        assert bot.app is not None and bot.settings.webhook_url is not None
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        shown = await preview(admin, "/send 79041764995 Chiller 4 tripped")
        gateway.inject(Fault.SLOW, action="send", delay=2.0)
        await admin.press(shown, "✅ Send")
        await gateway.wait_requests(1, action="send", timeout=10)
        bot.stop.set()  # what SIGTERM does

        async def stopping() -> bool | None:
            assert bot.app is not None
            return True if bot.app.obs.stopping else None

        await eventually(stopping, what="the bot begins to drain")
        body = stranger_update(900_005)
        async with http.post(bot.settings.webhook_url, json=body, headers={SECRET_HEADER: WEBHOOK_SECRET}) as response:
            assert response.status == 503  # Telegram delivers it again later, to the next start
        assert bot.task is not None
        await asyncio.wait_for(asyncio.shield(bot.task), timeout=30)
    [row] = sends(Path(env["DATABASE_PATH"]))
    assert row["state"] == "accepted" and row["gateway_id"] == gateway.sent[0].id
    assert "Sent to" in admin.state.bot_messages[shown.message_id].plain
    assert table_count(Path(env["DATABASE_PATH"]), "access_requests") == 0  # the turned-away update did nothing
    assert telegram.calls_to("deleteWebhook") == []
