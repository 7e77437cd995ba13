"""Start-up settings of the deployment (issue 24 rows 16 and 20): TEAM_CHAT_ID must be a group or channel,
and HEALTH_HOST chooses the address the polling mode's health port listens on.

The real bot over loopback: `python -m bot` as its own process, or `build_app` + `serve_polling` in this process,
against the fake Bot API server and the sandbox gateway. Waits are on exit codes and HTTP answers.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.deploy_fixtures import BotProcess, PollingBot, bot_env, free_port, gateway, http, settings_from, telegram

__all__ = ["gateway", "http", "telegram"]  # fixtures


@pytest.mark.parametrize("team", ["424242", "0"])
async def test_a_person_as_team_chat_stops_start_up_with_one_line_and_exit_2(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, team: str
) -> None:
    # A person's id (positive) would get every SMS line and alert; an admin's own id would lose the buttons.
    bot = await BotProcess([], bot_env(tmp_path, telegram, gateway, TEAM_CHAT_ID=team), tmp_path).start()
    try:
        assert await bot.wait(60) == 2
    finally:
        await bot.kill()
    assert len(bot.lines) == 1, bot.output
    assert bot.lines[0].startswith("error: TEAM_CHAT_ID is malformed") and "group or channel" in bot.lines[0]
    assert not telegram.calls_to("getMe") and not telegram.calls_to("sendMessage")


async def _answers(http: aiohttp.ClientSession, url: str) -> int | None:
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return None


async def test_health_host_chooses_the_address_the_health_port_listens_on(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, http: aiohttp.ClientSession
) -> None:
    port = free_port()
    env = bot_env(tmp_path, telegram, gateway, HEALTH_PORT=str(port), HEALTH_HOST="127.0.0.2")
    async with PollingBot(settings_from(env)):
        assert await _answers(http, f"http://127.0.0.2:{port}/healthz") == 200
        assert await _answers(http, f"http://127.0.0.2:{port}/metrics") in (200, 404)
        # Nothing listens on any other address: /metrics and /alerts are not open to the machine's neighbours.
        assert await _answers(http, f"http://127.0.0.1:{port}/healthz") is None
        assert await _answers(http, f"http://127.0.0.1:{port}/metrics") is None
