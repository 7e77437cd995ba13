"""Issue 28: a `python -m bot` killed (SIGKILL) at each moment of an escalation step, then started again.

The ladder sends two auto-SMS as soon as a critical group fires (steps at 0 minutes, to two numbers). Each trial
kills the bot at one moment — before the step is recorded (a random instant right after the alert came in), with
the gateway holding the send's answer (recorded, in flight), right as the gateway accepted it (its answer maybe not
stored), after the acceptance and tracking were stored — then starts it again and lets it settle. Whatever the
moment: no number gets the step twice, and nobody is silently skipped: every (group, step, number) has its auto-SMS,
and one cut short in flight is `unknown` and its note was given (to the first admin: no team chat here).

Each bot is forked from a process that imported it once (tests/support/forkserver.py): a process of its own,
killed by SIGKILL like any other, without ~3 s of imports per start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.devkit.telegram import FakeTelegram
from bot.middlewares.telegram import tls_context
from bot.storage.db import Database
from tests.support.alert_payloads import TOKEN, alert, alertmanager
from tests.support.chaos_support import eventually
from tests.support.forkserver import ForkServer, fork_server
from tests.support.gateway_fixtures import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
BOT_TOKEN = "777002:ESC-token-Zq9tok"
API_KEY = "esc-login"
PASSWORD = "Esc-Pw-Zq9pass"
ADMIN = 1001
NUMBERS = ("79041764995", "79161234567")
MOMENTS = ("before_record", "in_flight", "accepted", "tracked")
TRIALS = int(os.environ.get("CRASH_ESCALATION_TRIALS", "2"))  # per moment
pytestmark = pytest.mark.timeout(240)  # two bot processes per trial


def bot_env(telegram: FakeTelegram, gateway: SandboxGateway, db_path: Path, port: int) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env | {
        "BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "SMSKA_URL": gateway.url,
        "SMSKA_API_KEY": API_KEY,
        "SMSKA_API_PASSWORD": PASSWORD,
        "SMSKA_SENDER_IDS": "OnCall",
        "SMSKA_TIMEOUT": "3",
        "DATABASE_PATH": str(db_path),
        "ADMIN_IDS": str(ADMIN),
        "DEFAULT_LOCALE": "en",
        "DELIVERY_POLL_INITIAL": "0.2",
        "DELIVERY_POLL_MAX": "1",
        "ALERT_TOKEN": TOKEN,
        "HEALTH_PORT": str(port),
        "HEALTH_HOST": "127.0.0.1",
        "ESCALATION_BUNDLE_MINUTES": "0",
        "LOG_FORMAT": "json",
    }


async def start(server: ForkServer, env: dict[str, str], cwd: Path) -> int:
    """`python -m bot`, forked from the process that imported it once (tests/support/forkserver.py); its pid."""
    return await server.spawn(env, cwd, cwd / "bot.log")


async def serving(port: int) -> None:
    async def up() -> None:
        async with httpx.AsyncClient(verify=tls_context()) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/readyz", timeout=1)).status_code == 200:
                        return
                await asyncio.sleep(0.05)

    await asyncio.wait_for(up(), 60)


def rows(db_path: Path, sql: str) -> list[sqlite3.Row]:
    with contextlib.closing(sqlite3.connect(db_path, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql).fetchall()


def auto_sends(db_path: Path) -> list[sqlite3.Row]:
    return rows(
        db_path,
        """SELECT e.msisdn, e.step, s.state, s.outcome_owed_at, s.final FROM escalation_sends AS e
           JOIN sends AS s ON s.id = e.send_id ORDER BY e.step""",
    )


async def kill_at(moment: str, gateway: SandboxGateway, db_path: Path, rng: random.Random) -> None:
    if moment == "before_record":
        await asyncio.sleep(rng.uniform(0.0, 0.4))  # a random instant of the round's start (no state to wait on)
    elif moment == "in_flight":
        await gateway.wait_requests(1, action="send", timeout=15)
    elif moment == "accepted":
        await gateway.wait_sent(1, timeout=15)
    else:
        await eventually(
            lambda: True if any(r["state"] == "accepted" for r in auto_sends(db_path)) else None, 15, "an accepted one"
        )


@pytest.mark.parametrize("moment", MOMENTS)
async def test_sigkill_at_each_moment_of_a_step_sends_no_one_twice_and_skips_nobody(
    tmp_path: Path, moment: str
) -> None:
    rng = random.Random(f"escalation-{moment}")
    server = await asyncio.to_thread(fork_server)
    for trial in range(TRIALS):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        db_path = folder / "bot.sqlite3"
        db = await Database.connect(db_path, None)
        await db.escalation.set_steps([(0, "+7 904 176-49-95"), (0, "+7 916 123-45-67")], ADMIN)
        await db.close()
        telegram = FakeTelegram(token=BOT_TOKEN)
        gateway = SandboxGateway(
            api_key=API_KEY, api_password=PASSWORD, balance=Decimal(1000), delivery_delay=0.3, senders=("OnCall",)
        )
        await telegram.start()
        await gateway.start()
        telegram.user(ADMIN, first_name="Alice", language_code="en")
        if moment == "in_flight":
            gateway.inject(Fault.SLOW, "send", 1, delay=5.0)  # the first send is held: the kill finds it in flight
        port = free_port()
        env = bot_env(telegram, gateway, db_path, port)
        try:
            pid = await start(server, env, folder)
            await serving(port)
            body = alertmanager([alert("DiskFull")])
            async with httpx.AsyncClient(verify=tls_context()) as client:
                answer = await client.post(
                    f"http://127.0.0.1:{port}/alerts", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
                )
            assert answer.status_code == 200
            await kill_at(moment, gateway, db_path, rng)
            os.kill(pid, signal.SIGKILL)
            assert await server.wait_exit(pid) == -signal.SIGKILL
            held = len(gateway.sent)
            pid = await start(server, env, folder)
            await serving(port)

            def settled(db_path: Path = db_path) -> bool | None:
                found = auto_sends(db_path)
                done = len(found) == len(NUMBERS) and all(
                    (r["state"] == "unknown" and r["outcome_owed_at"] is None)
                    or (r["state"] == "accepted" and r["final"])
                    for r in found
                )
                return True if done else None

            await eventually(settled, 60, "both auto-SMS recorded, delivered or unknown and told")
            found = auto_sends(db_path)
            by_number = Counter(m.msisdn for m in gateway.sent)
            print(f"\n{moment} #{trial}: {[(r['msisdn'][-4:], r['state']) for r in found]}, gateway {dict(by_number)}")
            assert all(count <= 1 for count in by_number.values()), (moment, trial, by_number)  # nobody twice
            assert sorted(r["msisdn"] for r in found) == sorted(NUMBERS), (moment, trial)  # nobody skipped
            for r in found:
                if r["state"] == "unknown":  # cut short in flight: shown, never resent
                    assert by_number[r["msisdn"]] <= 1
                else:
                    assert by_number[r["msisdn"]] == 1
            if moment != "before_record":
                assert held >= 0 and any(r["state"] in ("unknown", "accepted") for r in found)
            os.kill(pid, signal.SIGTERM)
            assert await server.wait_exit(pid, 30) == 0
        finally:
            server.kill_children()
            await gateway.stop()
            await telegram.stop()
