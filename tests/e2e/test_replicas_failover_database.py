"""Issue 27, point 5: the database goes away under two replicas (a PostgreSQL restart in the middle). The leader
stops its work once it cannot renew its lease (never two leaders); every message sent meanwhile is answered in
words (it polls on only for that) and not handled later as well; when the server is back one replica leads again
and serves without a restart."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram, FakeUser
from tests.support import engines, pgserver
from tests.support.deploy_fixtures import ADMIN, eventually, gateway, telegram
from tests.support.engines import select
from tests.support.replicas import FAILOVER, replicas, server_down, server_up

__all__ = ["gateway", "telegram"]


def previews(user: FakeUser, i: int) -> int:
    return sum(1 for m in user.messages if f"note {i} " in m.plain + " ")


async def test_a_postgresql_restart_in_the_middle(tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway):
    if pgserver.find_bin() is None:
        pytest.skip("no PostgreSQL server binaries to start a private server")
    base = Path(tempfile.mkdtemp(prefix="smska-pg-"))  # the server's user must reach it (not pytest's 0700 folder)
    server_url = await asyncio.to_thread(pgserver.start, base)
    try:
        url = await asyncio.to_thread(engines.create_database, server_url)
        async with replicas(tmp_path, telegram, gateway, url) as group:
            await group.start(2)
            first = await group.leader()
            admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
            await admin.send("/send 79041764995 note 1")
            await admin.wait_for(lambda m: "note 1" in m.plain, timeout=15)

            await asyncio.to_thread(server_down, base)

            async def nobody_leads() -> bool | None:
                roles = await group.roles()
                assert list(roles.values()).count("leader") <= 1
                return True if "leader" not in roles.values() else None

            await eventually(nobody_leads, FAILOVER + 5, "the leader stops once it cannot renew its lease")
            for i in range(2, 5):  # sent while the database is down: answered in words (the poller polls on for
                told = sum(1 for m in admin.messages if "not answering" in m.plain)  # that), never handled later
                await admin.send(f"/send 79041764995 note {i}")
                await admin.wait_for(
                    lambda _, told=told: sum(1 for m in admin.messages if "not answering" in m.plain) > told, timeout=15
                )
            await asyncio.to_thread(server_up, base, server_url)

            await group.leader(timeout=FAILOVER + 15)
            await first.process.wait_line("outage polling stopped", timeout=FAILOVER + 5)  # until then: words
            await admin.send("/send 79041764995 note 5")  # served again, without a restart

            async def all_answered() -> bool | None:
                return True if previews(admin, 5) >= 1 else None

            await eventually(all_answered, 30, "a message answered after the restart")
            assert {i: previews(admin, i) for i in range(1, 6)} == {1: 1, 2: 0, 3: 0, 4: 0, 5: 1}
            preview = await admin.wait_for(lambda m: "note 5" in m.plain and "Check before sending" in m.plain)
            await admin.press(preview, "✅ Send")
            await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=15)
            assert [r["state"] for r in select(url, "SELECT state FROM sends WHERE text = 'note 5'")] == ["accepted"]
            assert select(url, "SELECT text FROM sends WHERE text IN ('note 2', 'note 3', 'note 4')") == []
            assert first.alive  # the process kept running through the outage
    finally:
        await asyncio.to_thread(pgserver.stop, base)
        shutil.rmtree(base, ignore_errors=True)
