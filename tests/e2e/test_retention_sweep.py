"""Nothing grows without bound (issue 24 rows 9 and 10): the retention sweep over a real SQLite file written by
the real bot over loopback (fake Bot API, sandbox gateway, POST /alerts).

Rows are made in two rounds, the second in a later second than the first. The sweep takes its clock
(`Retention.clock`): set to that boundary plus 7 days, plus 90 days (RETENTION_DAYS unset) or plus
RETENTION_DAYS, everything of the first round that the contract lets go is gone, everything of the second
stays, and the bot goes on working: tracking, the duplicate guard, alerts posted anew.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.storage.store import utcnow
from bot.times import moment
from tests.conftest import ADMIN, OPERATOR
from tests.support.alert_payloads import TOKEN, alert, alertmanager, post

TEAM = -1009876543210
OLD_NUMBER, NEW_NUMBER = "79041764995", "79041764996"
SLOW, FAST = 2.0, 0.3  # seconds the sandbox takes to deliver: SLOW for the SMS the watchdog rings about
KEYS = {
    "audit_log": "id",
    "feed_lines": "id",
    "alert_groups": "id",
    "alert_messages": "group_id || ':' || chat_id",
    "delivery_alerts": "send_id",
    "resends": "draft_id",
    "seen_updates": "update_id",
    "fsm_states": "key",
    "batches": "id",
    "access_requests": "id",
    "access_request_messages": "request_id || ':' || chat_id",
}


def rig(tmp_path: Path, **overrides: Any) -> Harness:
    settings = {
        "team_chat_id": TEAM,
        "alert_token": TOKEN,
        "delivery_alert_minutes": 0.01,  # 0.6 s: the watchdog rings before a slow delivery (SLOW)
        **overrides,
    }
    h = Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides=settings, http=True)
    h.telegram.group(TEAM, "On-call team")
    return h


def unhurried(h: Harness) -> Harness:
    """Telegram's pace for what the bot says on its own lifted: a group's 20 calls a minute, a second between two
    messages to one chat, 3 s between two edits of one line (all kept, and proved in test_team_feed.py,
    test_alerts_in.py and test_recovery_background.py). Two rounds of everything post and edit more than 20
    lines in a minute; this test is about what the sweep keeps, not about that pace (it waited up to a minute)."""
    assert h.app is not None
    h.app.queue.group_per_minute = 1000
    h.app.queue.gap = 0.05
    h.app.tracker.notifier.limiter.per_chat = 0.05
    return h


def snapshot(h: Harness) -> dict[str, set[str]]:
    with sqlite3.connect(h.db_path) as conn:
        return {t: {str(r[0]) for r in conn.execute(f"SELECT {k} FROM {t}")} for t, k in KEYS.items()}


def dump(h: Harness) -> str:
    """Every value of every row of every table, as text."""
    with sqlite3.connect(h.db_path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(f"{t}: {row!r}" for t in tables for row in conn.execute(f"SELECT * FROM {t}"))


async def next_second() -> int:
    """The first moment of the next second (timestamps are stored to the second): rows written from now on
    are newer than every row written before."""
    before = utcnow()
    # Waiting for the wall clock itself (not for the bot): the rest of this second, then it has turned.
    await asyncio.sleep(1.001 - datetime.now(UTC).microsecond / 1e6)
    now = utcnow()
    assert now > before
    return now


async def sweep_at(h: Harness, moment: datetime) -> None:
    """One sweep, as the hourly one runs, with the clock at `moment`."""
    assert h.app is not None and h.app.retention is not None
    h.app.retention.clock = lambda: moment
    await h.app.retention.sweep()


async def sent(user: FakeUser, command: str, button: str = "✅ Send") -> BotMessage:
    await user.send(command)
    preview = await user.wait_for(lambda m: "Check before sending" in m.plain and not m.edited, timeout=10)
    await user.press(preview, button)
    return await user.wait_for(lambda m: m.message_id == preview.message_id and "Check before" not in m.plain)


async def abandoned_step(user: FakeUser, text: str) -> None:
    """A one-shot /send with a bad number: the bot keeps the text and asks for the number; nobody answers."""
    await user.send(f"/send 123 {text}")
    await user.wait_for(lambda m: "number" in m.plain.lower() and not m.edited, timeout=10)


async def alert_round(h: Harness, admin: FakeUser, name: str, *, resolve: bool) -> BotMessage:
    """An alert group named `name` fires (and resolves): what the admin was shown."""
    body = alertmanager([alert(name)], name=name)
    assert (await post(h.http_url, body)).status_code == 200
    shown = await admin.wait_for(lambda m: "FIRING" in m.plain and name in m.plain and not m.edited, timeout=10)
    # The team chat's line: its own message, or (past a few groups a minute) a line of the storm's digest.
    await h.telegram.group(TEAM).wait_for(lambda m: name in m.plain, timeout=10)
    if resolve:
        done = alertmanager([alert(name, status="resolved")], name=name)
        assert (await post(h.http_url, done)).status_code == 200
        await admin.wait_for(lambda m: m.message_id == shown.message_id and "RESOLVED" in m.plain, timeout=10)
    return shown


async def round_of_everything(
    h: Harness, admin: FakeUser, oleg: FakeUser, tag: str, number: str, idle: FakeUser
) -> None:
    """One of each row that grows: a send with its feed line and watchdog notice and a resend draft, a pressed
    batch and an abandoned one, an access change (audit), alert groups (one resolved), an abandoned step."""
    h.gateway.delivery_delay = SLOW
    await sent(oleg, f"/send {number} {tag} single")
    notice = await oleg.wait_for(lambda m: "Not delivered after" in m.plain and tag in m.plain, timeout=10)
    await oleg.wait_for(lambda m: "delivered" in m.plain.lower() and "SMS to" in m.plain and tag in m.plain, 15)
    h.gateway.delivery_delay = FAST
    await oleg.press(notice, "📨 Send again")  # a draft that repeats the send: a resends row
    await oleg.wait_for(lambda m: "Check before sending" in m.plain and tag in m.plain, timeout=10)
    await sent(admin, f"/send {number}, 79041764997 {tag} batch", "✅ Send to 2")
    await admin.wait_for(lambda m: m.plain.startswith("🔔") and tag in m.plain, timeout=20)
    team = h.telegram.group(TEAM)
    await team.wait_for(lambda m: "2 recipients" in m.plain and "2 delivered" in m.plain, timeout=15)
    await admin.send(f"/send 79041764998, 79041764999 {tag} never pressed")
    await admin.wait_for(lambda m: "Check before sending" in m.plain and "never pressed" in m.plain, timeout=10)
    await alert_round(h, admin, f"{tag}Resolved", resolve=True)
    await alert_round(h, admin, f"{tag}Firing", resolve=False)
    await admin.send(f"/allow {idle.chat_id}")  # an operator who starts a step and then does nothing more
    await admin.next_message()
    await abandoned_step(idle, f"{tag} secret step")
    stranger = h.telegram.user(3100 if tag == "Old" else 3200, first_name=f"{tag} stranger", language_code="en")
    await stranger.send("/start")
    await stranger.next_message()
    if tag == "Old":  # decided; the second round's stays pending
        request = await admin.wait_for(lambda m: "Access request" in m.plain and "3100" in m.plain, timeout=10)
        await admin.press(request, "🚫 Deny")
        await stranger.next_message()


async def test_the_sweep_prunes_what_grows_keeps_what_is_newer_and_the_bot_goes_on(tmp_path: Path) -> None:
    async with rig(tmp_path) as h:
        unhurried(h)
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        oleg = h.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
        await admin.send(f"/allow {OPERATOR}")
        await admin.next_message()
        petr = h.telegram.user(2003, first_name="Petr", language_code="en")
        await round_of_everything(h, admin, oleg, "Old", OLD_NUMBER, idle=petr)
        boundary = moment(await next_second())
        old = snapshot(h)
        ivan = h.telegram.user(2004, first_name="Ivan", language_code="en")
        await round_of_everything(h, admin, oleg, "New", NEW_NUMBER, idle=ivan)
        present = snapshot(h)
        old = {t: ids & present[t] for t, ids in old.items()}  # what the bot itself kept of the first round
        new = {t: ids - old[t] for t, ids in present.items()}
        # Every table had rows of both rounds (the second stranger's request may wait for the admins' digest).
        assert all(old[t] and (new[t] or t == "access_request_messages") for t in KEYS), (old, new)

        # 7 days on: the resolved alert group of the first round goes, with its messages; nothing else.
        await sweep_at(h, boundary + timedelta(days=7))
        left = snapshot(h)
        assert len(old["alert_groups"] - left["alert_groups"]) == 1
        assert old["alert_messages"] - left["alert_messages"]
        for table in set(KEYS) - {"alert_groups", "alert_messages"}:
            assert left[table] >= present[table], (table, present[table] - left[table])
        assert left["alert_groups"] >= new["alert_groups"]

        # 90 days on (RETENTION_DAYS unset): the first round's rows go, the second's stay (but its resolved
        # alert group, 90 days after it resolved). A pressed batch is part of the send log, kept while
        # RETENTION_DAYS is unset; the one never pressed goes.
        await sweep_at(h, boundary + timedelta(days=90))
        left = snapshot(h)
        with sqlite3.connect(h.db_path) as conn:
            assert [r[0] for r in conn.execute("SELECT alertname FROM alert_groups")] == ["NewFiring"]
        for table in set(KEYS) - {"alert_groups", "alert_messages"}:
            assert left[table] >= new[table], table
            kept = left[table] & old[table]
            assert len(kept) == (1 if table == "batches" else 0), (table, kept)  # the pressed batch stays
        with sqlite3.connect(h.db_path) as conn:  # the send log itself stays
            assert conn.execute("SELECT COUNT(*) FROM sends WHERE text LIKE 'Old%'").fetchone()[0] >= 3

        # The bot goes on: a new send is tracked to delivery and the duplicate guard still sees the second
        # round's SMS to that number; the resolved group's key fires again and is posted anew.
        await oleg.send(f"/send {NEW_NUMBER} After the sweep")
        preview = await oleg.wait_for(lambda m: "Check before sending" in m.plain and "After the" in m.plain)
        assert "sent an SMS to this number" in preview.plain
        await oleg.press(preview, "✅ Send")
        await oleg.wait_for(lambda m: "delivered" in m.plain.lower() and "After the" in m.plain, timeout=15)
        first = next(m for m in admin.messages if "OldResolved" in m.plain)
        again = await alert_round(h, admin, "OldResolved", resolve=False)
        assert again.message_id != first.message_id  # a new message, not an edit of a forgotten one


async def test_retention_days_erases_the_number_and_text_everywhere_they_were_kept(tmp_path: Path) -> None:
    async with rig(tmp_path, retention_days=30, team_feed_text=True) as h:
        unhurried(h)
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        oleg = h.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
        await admin.send(f"/allow {OPERATOR}")
        await admin.next_message()
        await admin.send(f"/contact Kuznetsov {OLD_NUMBER}")  # the feed line names the recipient
        await admin.next_message()
        await sent(oleg, "/send Kuznetsov Old secret Zq1")
        team = h.telegram.group(TEAM)
        await team.wait_for(lambda m: "Old secret Zq1" in m.plain and "✅ delivered" in m.plain, timeout=15)
        await abandoned_step(oleg, "Old step secret Zq3")
        boundary = moment(await next_second())
        await sent(admin, f"/send {NEW_NUMBER} New secret Zq2")
        await team.wait_for(lambda m: "New secret Zq2" in m.plain and "✅ delivered" in m.plain, timeout=15)
        await abandoned_step(admin, "New step secret Zq4")
        before = dump(h)
        assert "Old secret Zq1" in before and "Old step secret Zq3" in before  # the feed line and the step

        await sweep_at(h, boundary + timedelta(days=30))
        after = dump(h)
        # Nowhere in the database: not the send log, not the feed's stored line, not the abandoned step.
        for gone in ("Old secret Zq1", "Old step secret Zq3", "+7\u00a0904\u00a0176\u201149\u201195"):
            assert gone not in after, gone
        feed = [line for line in after.splitlines() if line.startswith("feed_lines:")]
        assert not [line for line in feed if "Kuznetsov" in line]
        # The contact itself is the address book, not a send: it stays.
        assert "contacts:" in after and OLD_NUMBER in after.split("contacts:", 1)[1].splitlines()[0]
        for kept in ("New secret Zq2", "New step secret Zq4"):
            assert kept in after, kept

        # The operator whose step was forgotten starts afresh; the bot answers as usual.
        await oleg.send("/send")
        await oleg.wait_for(lambda m: "number" in m.plain.lower() and not m.edited, timeout=10)
