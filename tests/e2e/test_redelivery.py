"""A redelivered update (the same update_id) is handled once (issue 19, finding 8), in polling mode across a
restart and in webhook mode alike: the ids are remembered in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.devkit.harness import Harness
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram, FakeUser
from bot.web.http import SECRET_HEADER
from tests.conftest import ADMIN
from tests.e2e.test_webhook import webhook_env
from tests.support.deploy_fixtures import WEBHOOK_SECRET, WebhookBot, gateway, http, settings_from, telegram

__all__ = ["gateway", "http", "telegram"]  # fixtures


def previews(user: FakeUser) -> int:
    return len([m for m in user.messages if "Check before sending" in m.plain])


async def round_trip(user: FakeUser) -> None:
    """A later update answered: anything the earlier one caused has been sent by then."""
    await user.send("/balance")
    await user.wait_for(lambda m: "Balance" in m.plain, timeout=10)


async def test_polling_after_a_restart_handles_a_redelivered_update_once(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send 79041764995 once only")
    await admin.wait_for(lambda m: "Check before sending" in m.plain)
    update_id = int(rig.telegram.updates[-1]["update_id"])
    await rig.stop_bot()
    rig.telegram.redeliver(update_id)  # not confirmed before the stop: Telegram gives it again
    await rig.start_bot()
    await round_trip(admin)
    # Before the fix: two previews for one message (assert 2 == 1).
    assert previews(admin) == 1


@pytest.fixture
async def hooked(tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway) -> AsyncIterator[WebhookBot]:
    env = webhook_env(tmp_path, telegram, gateway, WEBHOOK_SECRET=WEBHOOK_SECRET)
    async with WebhookBot(settings_from(env)) as bot:
        yield bot


async def test_a_webhook_update_posted_twice_is_handled_once(
    hooked: WebhookBot, telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    assert hooked.settings.webhook_url is not None
    admin = telegram.user(ADMIN, "Alice", language_code="en")
    await admin.send("/send 79041764995 once only")
    await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
    again = telegram.updates[-1]
    async with http.post(hooked.settings.webhook_url, json=again, headers={SECRET_HEADER: WEBHOOK_SECRET}) as r:
        assert r.status == 200  # acknowledged, so Telegram stops retrying
    await round_trip(admin)
    # Before the fix: two previews (assert 2 == 1).
    assert previews(admin) == 1


async def test_updates_arriving_together_are_each_handled_once_and_remembered_together(rig: Harness) -> None:
    """Group commit (issue 26 step 7): the ids of updates that arrive together are remembered by one write, not
    one each — and every one is still answered once, and none again when Telegram redelivers them all."""
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await rig.stop_bot()
    for k in range(30):
        await admin.send(f"/send 7904176{k:04d} burst {k}")  # queued while the bot is away: one getUpdates
    ids = [int(u["update_id"]) for u in rig.telegram.updates[-30:]]
    await rig.start_bot()
    await admin.wait_for(lambda m: previews(admin) >= 30, timeout=30)
    assert rig.app is not None
    writes = rig.app.db.updates.statements
    # Before: 30 writes (one per update).
    assert writes < 30, writes
    await rig.stop_bot()
    for update_id in ids:
        rig.telegram.redeliver(update_id)
    await rig.start_bot()
    await round_trip(admin)
    assert previews(admin) == 30
    texts = sorted(m.plain for m in admin.messages if "Check before sending" in m.plain)
    assert all(f"burst {k}" in " ".join(texts) for k in range(30))
