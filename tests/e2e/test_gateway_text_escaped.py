"""Gateway text shown to a person is escaped (issue 19, finding 2): the default SMSKA_URL is plain http, so a
reply can be forged on the path; a hostile id or status name must neither break a message nor format it."""

from __future__ import annotations

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN

HOSTILE = "<b>x&y"


async def sent_with_hostile_id(rig: Harness) -> tuple[FakeUser, BotMessage]:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.gateway.force_next_id(HOSTILE)
    await admin.send("/send 79041764995 hostile reply")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    await admin.press(preview, "✅ Send")
    return admin, preview


async def test_the_send_outcome_shows_a_hostile_id_as_text(rig: Harness) -> None:
    admin, preview = await sent_with_hostile_id(rig)
    # Before the fix the edit was refused (can't parse entities) and the preview still said "Check before
    # sending" after the SMS was accepted.
    accepted = await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert f"id {HOSTILE}" in accepted.plain


async def test_the_delivery_notice_shows_a_hostile_id_as_text(rig: Harness) -> None:
    admin, _preview = await sent_with_hostile_id(rig)
    notice = await admin.wait_for(lambda m: "delivered" in m.plain, timeout=10)
    assert HOSTILE in notice.plain


async def test_history_shows_a_hostile_id_and_status_name_as_text(rig: Harness) -> None:
    rig.gateway.force_status(HOSTILE, 9, "<i>Q&A")  # an undocumented status with a hostile name
    admin, preview = await sent_with_hostile_id(rig)
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    # What the tracker writes once it asked (the same whether or not it asked yet).
    assert rig.app is not None
    await rig.app.db.sends._store.rows("UPDATE sends SET status_code = 9, status_name = '<i>Q&A'")
    await admin.send("/history")
    # Before the fix: "Something went wrong" (the page did not parse).
    page = await admin.wait_for(lambda m: "SMS sent, newest first" in m.plain or "went wrong" in m.plain)
    assert HOSTILE in page.plain and "<i>Q&A" in page.plain


async def test_status_shows_a_hostile_status_name_as_text(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.gateway.force_status("abc123", 9, "<b>x&y")
    await admin.send("/status abc123")
    # Before the fix the answer did not parse and the error router said "Something went wrong".
    report = await admin.wait_for(lambda m: "abc123" in m.plain or "went wrong" in m.plain)
    assert "unrecognised status 9 <b>x&y" in report.plain
