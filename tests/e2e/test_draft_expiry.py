"""Old drafts expire (DRAFT_TTL_HOURS, default 24): a press on an older preview sends nothing, says so and
offers a fresh preview of the same SMS; drafts never pressed become expired and /history shows nothing of them."""

from __future__ import annotations

import sqlite3

from bot.devkit.harness import Harness
from bot.times import now
from tests.conftest import ADMIN
from tests.support.chaos_support import eventually

PATIENCE = 15.0


def age(rig: Harness, text: str, hours: float) -> None:
    """Make the draft of `text` `hours` old."""
    then = now() - int(hours * 3600)
    with sqlite3.connect(rig.db_path) as conn:
        assert conn.execute("UPDATE sends SET created_at = ? WHERE text = ?", (then, text)).rowcount == 1


def rows(rig: Harness, text: str) -> list[dict[str, object]]:
    with sqlite3.connect(rig.db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sends WHERE text = ? ORDER BY id", (text,))]


async def test_a_press_on_an_old_preview_offers_a_fresh_one(rig: Harness) -> None:
    assert rig.app is not None and rig.app.settings.draft_ttl_hours == 24
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    text = "Boiler 2 check at dawn"
    await admin.send(f"/send 79041764995 {text}")
    old = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    await admin.press(old, "Sender")  # the sender chosen is kept in the fresh preview
    choosing = await admin.wait_for(lambda m: m.message_id == old.message_id and "Backup" in str(m.buttons))
    await admin.press(choosing, "Backup")
    old = await admin.wait_for(lambda m: m.message_id == old.message_id and "Sender: Backup" in m.plain)
    age(rig, text, 25)

    cq = await admin.press(old, "✅ Send")
    answer = await rig.telegram.callback_answer(cq, timeout=PATIENCE)
    assert answer.text and "older than 24 h" in answer.text
    fresh = await admin.wait_for(
        lambda m: m.message_id != old.message_id and "Check before sending" in m.plain, timeout=PATIENCE
    )
    assert text in fresh.plain and "Sender: Backup" in fresh.plain
    expired = rig.telegram.message(ADMIN, old.message_id)
    assert "Expired" in expired.plain and not expired.buttons
    assert rig.gateway.sent == []
    first, second = rows(rig, text)
    assert first["state"] == "draft" and first["expired_at"] is not None and second["expired_at"] is None

    # The old preview's button (a second press) still sends nothing; the fresh one sends once.
    send_data = old.versions[0].buttons[0][0].data
    assert send_data is not None
    again = await admin.press_data(old.message_id, send_data)
    await rig.telegram.callback_answer(again, timeout=PATIENCE)
    await admin.press(fresh, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == fresh.message_id and "Sent to" in m.plain, timeout=PATIENCE)
    assert [(s.text, s.sender) for s in rig.gateway.sent] == [(text, "Backup")]


async def test_drafts_never_pressed_expire_and_history_shows_nothing(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send 79161234567 never pressed")
    await admin.wait_for(lambda m: "Check before sending" in m.plain)
    await admin.send("/send 79041764995 still fresh")
    await admin.wait_for(lambda m: "still fresh" in m.plain)
    age(rig, "never pressed", 24.5)
    await rig.restart()  # the sweep runs at start-up (and every 10 minutes)
    await eventually(
        lambda: True if rows(rig, "never pressed")[0]["expired_at"] is not None else None, PATIENCE, "the sweep"
    )
    assert rows(rig, "still fresh")[0]["expired_at"] is None
    admin.mark_seen()
    await admin.send("/history")
    history = await admin.next_message(timeout=PATIENCE)
    assert "916" not in history.plain and "904" not in history.plain, history.plain
