"""Alerts in (issue 18): POST /alerts with real Alertmanager (and Grafana) bodies over loopback — what operators
and the team chat see, the repeat window, the resolved edit, the refusals, and 📨 SMS to duty, which never
sends anything by itself."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devkit.harness import Harness
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import BotMessage, FakeTelegram, FakeUser
from bot.sms.parts import count_parts
from bot.sms.recipients import Recipient
from tests.conftest import ADMIN, OPERATOR, STRANGER
from tests.support import deploy_fixtures as deploy
from tests.support.alert_payloads import TOKEN, alert, alertmanager, grafana, post

TEAM = -1009876543210


def alert_rig(tmp_path: Path, **overrides: Any) -> Harness:
    settings = {"alert_token": TOKEN, "team_chat_id": TEAM, **overrides}
    h = Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=settings, http=True)
    h.telegram.group(TEAM, "On-call team")
    return h


async def people(h: Harness) -> tuple[FakeUser, FakeUser]:
    admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = h.telegram.user(OPERATOR, first_name="Oleg", language_code="ru")
    await admin.send(f"/allow {OPERATOR}")
    await admin.next_message()
    await operator.next_message()  # "You now have access" (before he wrote: in the default language)
    await operator.send("/start")  # his language is known from here on
    await operator.next_message()  # its answer: from here on his copies of alerts are in Russian
    return admin, operator


def firing(text: str) -> bool:
    return "FIRING" in text or "ТРЕВОГА" in text


async def test_a_firing_group_reaches_every_operator_and_the_team_feed_then_resolves(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, operator = await people(h)
        two = [alert(instance="db1:9100"), alert(instance="db2:9100", summary="Disk /var on db2 is 96% full")]
        answer = await post(h.http_url, alertmanager(two))
        assert answer.status_code == 200
        mine = await admin.wait_for(lambda m: firing(m.plain), timeout=10)
        assert "DiskFull" in mine.plain and "Severity: critical" in mine.plain and "2 of 2" in mine.plain
        assert "Disk /var on db1 is 95% full" in mine.plain  # the first firing alert's summary
        assert mine.button_texts == ["📨 SMS to duty", "✋ I'm on it"]
        theirs = await operator.wait_for(lambda m: firing(m.plain), timeout=10)
        assert "Важность: critical" in theirs.plain and theirs.button_texts == ["📨 СМС дежурному", "✋ Беру"]
        line = await h.telegram.group(TEAM).wait_for(lambda m: firing(m.plain), timeout=10)
        assert "DiskFull" in line.plain and not line.buttons

        resolved = [dict(a, status="resolved") for a in two]
        assert (await post(h.http_url, alertmanager(resolved))).status_code == 200
        done = await admin.wait_for(lambda m: m.message_id == mine.message_id and "RESOLVED" in m.plain, timeout=10)
        assert not done.buttons  # nothing to send about any more
        await operator.wait_for(lambda m: m.message_id == theirs.message_id and "ОТБОЙ" in m.plain, timeout=10)
        await h.telegram.group(TEAM).wait_for(lambda m: m.message_id == line.message_id and "RESOLVED" in m.plain)
        assert len(admin.messages) == 2 and len(h.telegram.group(TEAM).messages) == 1  # edits, no new posts
        assert h.gateway.sent == []  # an alert never sends an SMS on its own


async def test_a_group_is_posted_once_per_repeat_window_and_edited_within_it(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        body = alertmanager([alert(instance="db1:9100")])
        assert (await post(h.http_url, body)).status_code == 200
        first = await admin.wait_for(lambda m: firing(m.plain), timeout=10)
        assert "1 of 1" in first.plain
        # Alertmanager's group_interval: the same key again, now with a second alert — the message is edited.
        grown = alertmanager([alert(instance="db1:9100"), alert(instance="db3:9100")])
        for _ in range(3):
            assert (await post(h.http_url, grown)).status_code == 200
        await admin.wait_for(lambda m: m.message_id == first.message_id and "2 of 2" in m.plain, timeout=10)
        await h.telegram.wait_idle(quiet=0.5)
        assert len([m for m in admin.messages if firing(m.plain)]) == 1
        # After ALERT_REPEAT_MINUTES (the last post made 31 minutes old), a group still firing is posted again.
        with sqlite3.connect(h.db_path) as conn:
            conn.execute("UPDATE alert_groups SET posted_at = CAST(strftime('%s', 'now', '-31 minutes') AS INTEGER)")
        assert (await post(h.http_url, grown)).status_code == 200
        again = await admin.wait_for(lambda m: firing(m.plain) and m.message_id != first.message_id, timeout=10)
        assert "2 of 2" in again.plain and again.button_texts == ["📨 SMS to duty", "✋ I'm on it"]


async def test_grouped_alerts_and_grafanas_body(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        mixed = [alert(instance="a"), alert(instance="b"), alert(instance="c", status="resolved")]
        assert (await post(h.http_url, alertmanager(mixed))).status_code == 200
        shown = await admin.wait_for(lambda m: firing(m.plain), timeout=10)
        assert "2 of 3" in shown.plain
        assert (await post(h.http_url, grafana())).status_code == 200
        memory = await admin.wait_for(lambda m: "High memory usage" in m.plain, timeout=10)
        assert "Memory on web1 is at 97%" in memory.plain and "Severity: warning" in memory.plain


async def test_refusals_have_no_effect(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        body = alertmanager([alert()])
        assert (await post(h.http_url, body, token=None)).status_code == 401
        assert (await post(h.http_url, body, token="alert-token-Zq9secret-0123456788")).status_code == 401
        basic = {"Authorization": "Basic dXNlcjpwYXNz"}
        assert (await post(h.http_url, body, token=None, headers=basic)).status_code == 401
        utf8 = {"Authorization": "Bearer пароль-пароль".encode()}  # not ASCII: just "wrong"
        assert (await post(h.http_url, body, token=None, headers=utf8)).status_code == 401
        huge = json.dumps({**body, "padding": "x" * (1024 * 1024)}).encode()
        assert (await post(h.http_url, None, raw=huge, headers={"Content-Type": "application/json"})).status_code == 413

        async def chunks() -> Any:
            for _ in range(20):
                yield b"x" * 65536

        async with httpx.AsyncClient(timeout=10) as client:  # no Content-Length: counted while reading
            chunked = await client.post(
                f"{h.http_url}/alerts", content=chunks(), headers={"Authorization": f"Bearer {TOKEN}"}
            )
        assert chunked.status_code == 413
        assert (await post(h.http_url, None, raw=b"{not json")).status_code == 400
        assert (await post(h.http_url, None, raw=b"\xff\xfe")).status_code == 400
        assert (await post(h.http_url, {"hello": "world"})).status_code == 400
        assert (await post(h.http_url, [1, 2, 3])).status_code == 400
        assert (await post(h.http_url, {**body, "status": "burning"})).status_code == 400
        await admin.send("/help")  # a round trip: anything the refused bodies caused would have come first
        await admin.next_message()
        await h.telegram.wait_idle(quiet=0.5)
        assert not any(firing(m.plain) for m in admin.messages)
        assert h.telegram.group(TEAM).messages == []
        with sqlite3.connect(h.db_path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM alert_groups").fetchone()[0] == 0
    assert TOKEN not in caplog.text


async def test_without_alert_token_there_is_no_endpoint(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), http=True) as h:
        assert (await post(h.http_url, alertmanager([alert()]))).status_code == 404


class OnDuty:
    """A stand-in for issue 16's Directory (another branch): who is on duty."""

    def __init__(self, recipients: list[Recipient]) -> None:
        self.recipients = recipients

    async def duty_recipients(self) -> list[Recipient]:
        return self.recipients


async def alert_message(h: Harness, user: FakeUser, summary: str) -> BotMessage:
    body = alertmanager([alert(summary=summary)])
    assert (await post(h.http_url, body)).status_code == 200
    return await user.wait_for(lambda m: firing(m.plain), timeout=10)


async def test_sms_to_duty_opens_a_preview_that_needs_its_own_press(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        assert h.app is not None
        h.app.dp.workflow_data["directory"] = OnDuty([Recipient("79041764995", "Ivan")])
        admin, operator = await people(h)
        long_summary = "Disk /var on db1 is 95% full and growing; " * 10
        shown = await alert_message(h, admin, long_summary)
        await admin.press(shown, "📨 SMS to duty")
        preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=10)
        assert (
            "+7\u00a0904\u00a0176\u201149\u201195" in preview.plain
            and "[FIRING] DiskFull: Disk /var on db1" in preview.plain
        )
        row = sqlite3.connect(h.db_path).execute("SELECT text, parts FROM sends").fetchone()
        assert row[0].startswith("[FIRING] DiskFull: ") and row[1] == 2 and count_parts(row[0]).parts == 2
        await h.telegram.wait_idle(quiet=0.5)
        assert h.gateway.sent == []  # the preview alone sends nothing
        # A forged press — someone else's alert message, an unknown group — does nothing.
        theirs = await operator.wait_for(lambda m: firing(m.plain), timeout=10)
        forged = await admin.press_data(theirs.message_id, "al:1")
        assert "no longer valid" in ((await h.telegram.callback_answer(forged)).text or "")
        unknown = await admin.press_data(shown.message_id, "al:999")
        assert "no longer valid" in ((await h.telegram.callback_answer(unknown)).text or "")
        stranger = h.telegram.user(STRANGER, first_name="Sam", language_code="en")
        await stranger.press_data(shown.message_id, "al:1")
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=10)
        await asyncio.sleep(0)
        assert [s.msisdn for s in h.gateway.sent] == ["79041764995"]  # one press, one SMS


def within(times: list[float], window: float) -> int:
    """The most moments inside any `window` seconds."""
    times = sorted(times)
    best = start = 0
    for index, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, index - start + 1)
    return best


async def test_an_alert_storm_neither_floods_telegram_nor_slows_an_operators_answers(tmp_path: Path) -> None:
    groups, notifications, per_notification = 40, 250, 4  # 1,000 alerts in about ten seconds
    async with alert_rig(tmp_path) as h:
        admin, operator = await people(h)
        posted: list[float] = []

        async def storm() -> None:
            loop = asyncio.get_running_loop()
            async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                for i in range(notifications):
                    key = f"g{i % groups}"
                    alerts = [alert(f"Storm{i % groups}", instance=f"node{i}-{j}") for j in range(per_notification)]
                    started = loop.time()
                    answer = await client.post(f"{h.http_url}/alerts", json=alertmanager(alerts, name=f"Storm{key}"))
                    posted.append(loop.time() - started)
                    assert answer.status_code == 200
                    await asyncio.sleep(0.04)  # pacing of the storm itself, not a synchronisation

        answers: list[float] = []

        async def ask_balance() -> None:
            loop = asyncio.get_running_loop()
            while len(posted) < notifications:
                seen = {m.message_id for m in admin.messages}
                started = loop.time()
                await admin.send("/balance")
                await admin.wait_for(lambda m, seen=seen: "Balance" in m.plain and m.message_id not in seen, timeout=30)
                answers.append(loop.time() - started)
                await asyncio.sleep(0.3)  # an operator asking again and again, not a synchronisation

        started = asyncio.get_running_loop().time()
        await asyncio.gather(storm(), ask_balance())
        took = asyncio.get_running_loop().time() - started
        answers.sort()
        posted.sort()
        p99 = answers[math.ceil(0.99 * len(answers)) - 1]  # nearest rank
        print(
            f"\nstorm: {notifications * per_notification} alerts in {notifications} notifications over {took:.1f} s; "
            f"/balance answered {len(answers)} times, p50 {answers[len(answers) // 2]:.3f} s, p99 {p99:.3f} s, "
            f"max {answers[-1]:.3f} s; POST /alerts p99 {posted[math.ceil(0.99 * len(posted)) - 1]:.3f} s"
        )
        assert answers[-1] < 15  # the contract's bound for an operator's answer, with room
        assert posted[-1] < 5
        # Telegram's limits: 30 messages a second in all; alerts one a second per chat; 20 a minute to the group.
        assert h.telegram.max_rate(1.0) <= 30
        alert_calls = [
            c
            for c in h.telegram.calls
            if c.method in ("sendMessage", "editMessageText") and firing(str(c.params.get("text", "")))
        ]
        by_chat: dict[Any, list[float]] = {}
        for call in alert_calls:
            by_chat.setdefault(call.params.get("chat_id"), []).append(call.time)
        assert all(within(times, 1.0) <= 1 for times in by_chat.values())
        assert within(by_chat.get(TEAM, []), 60.0) <= 20
        # Coalesced: one message per group key and chat, however many notifications came for it.
        for user in (admin, operator):
            assert len([m for m in user.messages if firing(m.plain)]) <= groups
        assert h.gateway.sent == []


async def test_a_restart_keeps_the_messages_a_resolution_edits(tmp_path: Path) -> None:
    async with alert_rig(tmp_path) as h:
        admin, _ = await people(h)
        body = alertmanager([alert()])
        assert (await post(h.http_url, body)).status_code == 200
        shown = await admin.wait_for(lambda m: firing(m.plain), timeout=10)
        line = await h.telegram.group(TEAM).wait_for(lambda m: firing(m.plain), timeout=10)
        await h.restart()
        assert (await post(h.http_url, alertmanager([dict(alert(), status="resolved")]))).status_code == 200
        await admin.wait_for(lambda m: m.message_id == shown.message_id and "RESOLVED" in m.plain, timeout=10)
        await h.telegram.group(TEAM).wait_for(lambda m: m.message_id == line.message_id and "RESOLVED" in m.plain)
        assert len([m for m in admin.messages if "DiskFull" in m.plain]) == 1


def test_the_sms_to_duty_is_cut_to_two_parts() -> None:
    from bot.ui.alert_texts import sms_to_duty

    assert sms_to_duty("DiskFull", "Disk /var on db1 is 95% full") == "[FIRING] DiskFull: Disk /var on db1 is 95% full"
    latin = sms_to_duty("DiskFull", "word " * 200)
    assert count_parts(latin).parts == 2 and latin.endswith("...") and latin.startswith("[FIRING] DiskFull: word")
    cyrillic = sms_to_duty("ДискПолон", "Диск /var на db1 заполнен на 95% " * 20)
    assert count_parts(cyrillic).parts == 2 and count_parts(cyrillic).encoding == "UCS-2"
    assert len(cyrillic) > 120  # cut near the limit, not far before it


def test_a_short_alert_token_stops_start_up_with_one_line_without_its_value() -> None:
    from bot.config import SettingsError, load_settings

    base = {
        "bot_token": "1:x",
        "smska_api_key": "k",
        "smska_api_password": "p",
        "smska_sender_ids": "A",
        "admin_ids": "1",
        "_env_file": None,
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(**base, alert_token="short-Zq9")
    assert "ALERT_TOKEN" in str(caught.value) and "short-Zq9" not in str(caught.value)
    assert load_settings(**base, alert_token="  ").alert_token is None  # blank: unset


async def test_alerts_on_the_webhook_port_and_on_health_port_in_polling_mode(tmp_path: Path) -> None:
    async with FakeTelegram(token=deploy.TOKEN) as telegram:
        gateway = SandboxGateway(api_key=deploy.API_KEY, api_password=deploy.PASSWORD, senders=("OnCall",))
        await gateway.start()
        try:
            admin = telegram.user(deploy.ADMIN, first_name="Alice", language_code="en")
            port = deploy.free_port()
            hook = deploy.bot_env(
                tmp_path / "hook",
                telegram,
                gateway,
                WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/hook",
                WEBHOOK_HOST="127.0.0.1",
                WEBHOOK_PORT=str(port),
                WEBHOOK_SECRET=deploy.WEBHOOK_SECRET,
                ALERT_TOKEN=TOKEN,
            )
            async with deploy.WebhookBot(deploy.settings_from(hook)) as bot:
                assert (
                    await post(bot.base, alertmanager([alert("WebhookMode")], name="WebhookMode"))
                ).status_code == 200
                await admin.wait_for(lambda m: "WebhookMode" in m.plain and firing(m.plain), timeout=10)
                assert (
                    await post(bot.base, alertmanager([alert()]), token="wrong-token-0123456789")
                ).status_code == 401
            health = deploy.free_port()
            polling = deploy.bot_env(tmp_path / "poll", telegram, gateway, HEALTH_PORT=str(health), ALERT_TOKEN=TOKEN)
            async with deploy.PollingBot(deploy.settings_from(polling)):
                base = f"http://127.0.0.1:{health}"
                assert (await post(base, alertmanager([alert("PollingMode")], name="PollingMode"))).status_code == 200
                await admin.wait_for(lambda m: "PollingMode" in m.plain and firing(m.plain), timeout=10)
        finally:
            await gateway.stop()
