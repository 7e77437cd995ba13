"""Log lines as an operator's log collector gets them from `python -m bot` with LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from bot.logs import QUIET_LOGGERS, log_context, mask_also, setup_logging
from tests.support.deploy_fixtures import (
    ADMIN,
    PASSWORD,
    SECRETS,
    WEBHOOK_SECRET,
    BotProcess,
    bot_env,
    free_port,
    gateway,
    preview,
    telegram,
)

__all__ = ["gateway", "telegram"]  # fixtures

PRIVATE_TEXT = "Patient Petrov, ward 7, call Dr. Zq9"  # never in a log line


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """setup_logging changes process-wide loggers: put them back for the tests that follow."""
    root = logging.getLogger()
    names = ["httpx", "httpcore", "aiogram.event", *QUIET_LOGGERS]
    saved = (list(root.handlers), root.level, {name: logging.getLogger(name).level for name in names})
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def records(output: str) -> list[dict[str, Any]]:
    """Every line must be one JSON object with the standard fields."""
    parsed = []
    for line in output.splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict)
        assert {"time", "level", "logger", "message"} <= entry.keys(), line
        parsed.append(entry)
    return parsed


async def test_json_lines_carry_update_and_operator_and_no_secret_or_text(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    env = bot_env(tmp_path, telegram, gateway, LOG_FORMAT="json", LOG_LEVEL="INFO")
    bot = await BotProcess([], env, tmp_path).start()
    try:
        await bot.wait_line(r"Start polling")
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        shown = await preview(admin, f"/send 79041764995 {PRIVATE_TEXT}")
        await admin.press(shown, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == shown.message_id and "Sent to" in m.plain, timeout=10)
        await bot.wait_line(r'"SMS accepted"')
        bot.signal(signal.SIGTERM)
        assert await bot.wait(30) == 0
    finally:
        await bot.kill()

    entries = records(bot.output)
    [sending] = [e for e in entries if e["message"] == "sending an SMS"]
    [accepted] = [e for e in entries if e["message"] == "SMS accepted"]
    press_update = telegram.updates[-1]["update_id"]
    for entry in (sending, accepted):  # the send task inherits the update's context
        assert entry["update_id"] == press_update
        assert entry["user_id"] == ADMIN
        assert entry["send_id"] == 1
    assert accepted["outcome"] == "accepted"
    for secret in SECRETS:
        assert secret not in bot.output
    assert PRIVATE_TEXT not in bot.output and "Zq9" not in bot.output


async def test_webhook_debug_logs_never_show_the_generated_secret(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    port = free_port()
    env = bot_env(
        tmp_path,
        telegram,
        gateway,
        LOG_FORMAT="json",
        LOG_LEVEL="DEBUG",
        WEBHOOK_URL=f"http://127.0.0.1:{port}/hook",
        WEBHOOK_HOST="127.0.0.1",
        WEBHOOK_PORT=str(port),
    )
    bot = await BotProcess(["--webhook"], env, tmp_path).start()
    try:
        await bot.wait_line(r"webhook mode: listening")
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        await admin.send("/balance")
        assert "Balance" in (await admin.next_message(timeout=10)).plain
        bot.signal(signal.SIGTERM)
        assert await bot.wait(30) == 0
    finally:
        await bot.kill()

    generated = telegram.webhook_secret
    assert generated
    entries = records(bot.output)
    assert any("WEBHOOK_SECRET is not set" in e["message"] for e in entries)
    assert generated not in bot.output
    for secret in SECRETS:
        assert secret not in bot.output


def test_a_secret_chosen_at_run_time_is_masked_too(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("INFO", "json", secrets=[PASSWORD])
        mask_also(WEBHOOK_SECRET)  # what webhook mode does with a generated secret
        with log_context(update_id=7, user_id=ADMIN):
            logging.getLogger("bot.test").warning(
                "setWebhook failed: secret_token=%s password=%s", WEBHOOK_SECRET, PASSWORD
            )
        [line] = capsys.readouterr().err.splitlines()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    entry = json.loads(line)
    assert entry["message"] == "setWebhook failed: secret_token=*** password=***"
    assert entry["update_id"] == 7 and entry["user_id"] == ADMIN


async def test_at_debug_no_line_carries_the_sms_text_or_the_whole_number(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway
) -> None:
    env = bot_env(tmp_path, telegram, gateway, LOG_LEVEL="DEBUG")
    bot = await BotProcess([], env, tmp_path).start()
    try:
        await bot.wait_line(r"Start polling")
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        shown = await preview(admin, f"/send 79041764995 {PRIVATE_TEXT}")
        await admin.press(shown, "✅ Send")
        await admin.wait_for(lambda m: "delivered" in m.plain, timeout=20)
        bot.signal(signal.SIGTERM)
        assert await bot.wait(30) == 0
    finally:
        await bot.kill()
    assert "DEBUG bot.gateway.client" in bot.output  # DEBUG really was on
    assert PRIVATE_TEXT not in bot.output
    assert "79041764995" not in bot.output and "176-49-95" not in bot.output


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_with_quotes_and_numbers_are_masked_before_the_line_is_written(
    capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    odd_secret = 'pa"ss\\word'
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("INFO", fmt, secrets=[odd_secret])
        logging.getLogger("bot.test").warning(
            "gateway said %s about 79041764995 and 8 (904) 176 49 95", odd_secret, extra={"action": odd_secret}
        )
        [line] = capsys.readouterr().err.splitlines()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    message = json.loads(line)["message"] if fmt == "json" else line
    assert odd_secret not in line and json.dumps(odd_secret)[1:-1] not in line
    assert message.count("+7 904 ***-**-95") == 2 and "176" not in line
