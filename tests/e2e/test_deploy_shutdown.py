"""SIGTERM while an SMS is on its way: `python -m bot` as its own process, as a container runtime stops it.

The gateway (sandbox, in this process) holds the send's answer back (Fault.SLOW); the bot gets SIGTERM while
it waits. The send must complete (or, if the process is killed, be `unknown` after the restart) — never
lost, never sent twice.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from pathlib import Path

import aiohttp

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import (
    ADMIN,
    BotProcess,
    bot_env,
    free_port,
    gateway,
    http,
    preview,
    sends,
    telegram,
)

__all__ = ["gateway", "http", "telegram"]  # fixtures


async def test_sigterm_during_a_send_lets_it_finish_and_exits_0(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    health = free_port()
    env = bot_env(tmp_path, telegram, gateway, HEALTH_PORT=str(health))
    db_path = Path(env["DATABASE_PATH"])
    bot = await BotProcess([], env, tmp_path).start()
    try:
        await bot.wait_line(r"health endpoints on")
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        shown = await preview(admin, "/send 79041764995 Generator 2 on fire")
        gateway.inject(Fault.SLOW, action="send", delay=3.0)
        await admin.press(shown, "✅ Send")
        await gateway.wait_requests(1, action="send", timeout=10)  # it reached the gateway; no answer yet
        assert [row["state"] for row in sends(db_path)] == ["sending"]

        bot.signal(signal.SIGTERM)
        await bot.wait_line(r"stopping: waiting for \d+ update\(s\) and 1 send\(s\) in flight")
        async with http.get(f"http://127.0.0.1:{health}/readyz") as response:
            assert response.status == 503 and (await response.json())["status"] == "stopping"
        assert await bot.wait(40) == 0
    finally:
        await bot.kill()

    [row] = sends(db_path)
    assert row["state"] == "accepted"
    assert row["gateway_id"] == gateway.sent[0].id
    assert len(gateway.sent) == 1
    # The operator saw the outcome before the process went away.
    done = admin.state.bot_messages[shown.message_id]
    assert "Sent to" in done.plain and row["gateway_id"] in done.plain
    assert "Traceback" not in bot.output

    # Tracking is in SQLite: after the restart the operator still hears about the delivery.
    again = await BotProcess([], env, tmp_path).start()
    try:
        await admin.wait_for(lambda m: "delivered" in m.plain and m.message_id != shown.message_id, timeout=20)
        again.signal(signal.SIGTERM)
        assert await again.wait(30) == 0
    finally:
        await again.kill()
    assert len(gateway.sent) == 1


async def test_a_second_sigterm_exits_at_once_and_the_send_is_unknown_not_lost(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    env = bot_env(tmp_path, telegram, gateway)
    db_path = Path(env["DATABASE_PATH"])
    bot = await BotProcess([], env, tmp_path).start()
    try:
        await bot.wait_line(r"Start polling|Run polling")
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        shown = await preview(admin, "/send 79041764995 Evacuate building B")
        gateway.inject(Fault.SLOW, action="send", delay=60.0)
        await admin.press(shown, "✅ Send")
        await gateway.wait_requests(1, action="send", timeout=10)
        bot.signal(signal.SIGTERM)
        await bot.wait_line(r"stopping: waiting for")
        bot.signal(signal.SIGTERM)
        code = await bot.wait(5)  # at once, not after the drain's 30 s
    finally:
        await bot.kill()
    assert code == -signal.SIGTERM

    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [row["state"] for row in sends(db_path)] == ["sending"]  # the attempt is on record

    again = await BotProcess([], env, tmp_path).start()
    try:
        notice = await admin.wait_for(lambda m: "restarted while sending" in m.plain, timeout=20)
        assert "+7\u00a0904\u00a0176\u201149\u201195" in notice.plain
        again.signal(signal.SIGTERM)
        assert await again.wait(30) == 0
    finally:
        await again.kill()
    [row] = sends(db_path)
    assert row["state"] == "unknown"
    assert len([r for r in gateway.requests if r.action == "send"]) == 1  # never resent by itself
