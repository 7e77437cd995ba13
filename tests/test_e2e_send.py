"""Sending as an on-call operator meets it: compose, preview, exactly-once Send, outcome, delivery notice."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from bot.devkit.harness import Harness
from bot.devkit.sandbox import Fault
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN, OPERATOR


async def preview_for(user: FakeUser, command: str) -> BotMessage:
    await user.send(command)
    return await user.wait_for(lambda m: "Check before sending" in m.plain)


def sends(rig: Harness) -> list[dict[str, object]]:
    with sqlite3.connect(rig.db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sends ORDER BY id")]


async def test_one_shot_send_preview_and_delivery_notice(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    preview = await preview_for(admin, "/send +7 904 176-49-95 Server db1 is down")
    assert "To: +7 904 176-49-95" in preview.plain
    assert "From: OnCall" in preview.plain
    assert "18 characters, 1 SMS (GSM-7)" in preview.plain
    assert "Server db1 is down" in preview.plain
    assert rig.gateway.sent == []  # nothing leaves before the Send press
    await admin.press(preview, "✅ Send")
    accepted = await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    gateway_id = rig.gateway.sent[0].id
    assert gateway_id in accepted.plain and "balance left: 999" in accepted.plain
    notice = await admin.wait_for(lambda m: "delivered" in m.plain and m.message_id != preview.message_id)
    assert "+7 904 176-49-95" in notice.plain and gateway_id in notice.plain
    assert len(rig.gateway.sent) == 1
    assert rig.gateway.sent[0].msisdn == "79041764995" and rig.gateway.sent[0].text == "Server db1 is down"
    [row] = sends(rig)
    assert row["state"] == "accepted" and row["status_code"] == 4 and row["final"] == 1


async def test_guided_send_with_contact_and_hints(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send")
    assert "Who gets the SMS" in (await admin.next_message()).plain
    await admin.send_sticker()
    assert "I need a phone number" in (await admin.next_message()).plain
    await admin.send("+44 20 7946 0958")
    assert "Only Russian mobile numbers" in (await admin.next_message()).plain
    await admin.send_contact("+79041764995", first_name="Duty")
    assert "To +7 904 176-49-95" in (await admin.next_message()).plain
    await admin.send_photo()
    assert "I need the text" in (await admin.next_message()).plain
    await admin.send("Привет, это дежурный")
    preview = await admin.next_message()
    assert "UCS-2" in preview.plain and "Привет, это дежурный" in preview.plain


async def test_cancel_at_each_step_sends_nothing(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send")
    await admin.next_message()
    await admin.send("/cancel")
    assert "Cancelled" in (await admin.next_message()).plain
    await admin.send("/send 89041764995")
    ask = await admin.next_message()
    await admin.press(ask, "Cancel")
    await admin.wait_for(lambda m: m.message_id == ask.message_id and "Cancelled" in m.plain)
    preview = await preview_for(admin, "/send 89041764995 text")
    await admin.press(preview, "Cancel")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Cancelled" in m.plain)
    # The old preview's Send button, pressed after Cancel (a forged press with its real data), sends nothing.
    send_data = preview.versions[0].buttons[0][0].data
    cq = await admin.press_data(preview.message_id, send_data)
    answer = await rig.telegram.callback_answer(cq)
    assert "cancelled" in (answer.text or "")
    assert rig.gateway.sent == []


async def test_five_concurrent_presses_send_once(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.gateway.inject(Fault.SLOW, action="send", delay=0.5)
    preview = await preview_for(admin, "/send 79041764995 once")
    data = preview.buttons[0][0].data
    ids = await asyncio.gather(*(admin.press_data(preview.message_id, data) for _ in range(5)))
    answers = [await rig.telegram.callback_answer(cq, timeout=10) for cq in ids]
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain, timeout=10)
    assert len(rig.gateway.sent) == 1
    assert sum(1 for a in answers if a.text and ("being sent" in a.text or "already sent" in a.text)) == 4


async def test_sender_switch(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    preview = await preview_for(admin, "/send 79041764995 from backup")
    await admin.press(preview, "✉️ Sender: OnCall")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Backup" in m.button_texts)
    await admin.press(preview, "Backup")
    updated = await admin.wait_for(lambda m: m.message_id == preview.message_id and "From: Backup" in m.plain)
    await admin.press(updated, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert rig.gateway.sent[0].sender == "Backup"


async def test_bad_inputs_get_reasons(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send 8 495 123-45-67 landline")
    assert "not a mobile number" in (await admin.next_message()).plain
    await admin.send("/send 12345 short")
    reply = await admin.next_message()
    assert "Too few digits" in reply.plain and "+7 904 176-49-95" in reply.plain
    await admin.send("/send 79041764995 " + "x" * 1600)
    assert "too long: 11 SMS" in (await admin.next_message()).plain
    await admin.send("/send 79041764995 <b>not bold</b> & <script>")
    preview = await admin.next_message()
    assert "<b>not bold</b> & <script>" in preview.plain
    assert rig.gateway.sent == []


async def test_each_final_status_ends_in_the_right_notice(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    for msisdn, words in [
        ("79000000051", "rejected by the network"),
        ("79000000071", "expired"),
        ("79000000081", "deleted by the network"),
        ("79000000091", "delivered"),
    ]:
        preview = await preview_for(admin, f"/send {msisdn} test")
        await admin.press(preview, "✅ Send")
        notice = await admin.wait_for(
            lambda m, p=preview, w=words: m.message_id != p.message_id and w in m.plain and "SMS to" in m.plain,
            timeout=15,
        )
        assert notice.reply_to == preview.message_id or notice.plain


async def test_never_final_is_reported_unknown_after_the_window(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with Harness(tmp_path, settings_overrides={"delivery_track_hours": 2 / 3600}) as rig:
        admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
        preview = await preview_for(admin, "/send 79000000031 never final")
        await admin.press(preview, "✅ Send")
        notice = await admin.wait_for(lambda m: "No final status" in m.plain, timeout=15)
        assert "unknown" in notice.plain
        assert await rig.app.db.tracking.depth() == 0 if rig.app else False


async def test_gateway_errors_on_send_are_answered_and_logged(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    for msisdn, words in [
        ("79000000003", "could not send"),
        ("79000000005", "Not enough money"),
        ("79000000006", "does not accept this number"),
    ]:
        preview = await preview_for(admin, f"/send {msisdn} x")
        await admin.press(preview, "✅ Send")
        failed = await admin.wait_for(lambda m, p=preview, w=words: m.message_id == p.message_id and w in m.plain)
        assert "Nothing was sent" in failed.plain
    rows = sends(rig)
    assert [r["state"] for r in rows] == ["failed", "failed", "failed"]
    assert [r["error_code"] for r in rows] == [3, 5, 6]


async def test_send_timeout_is_unknown_and_never_resent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with Harness(tmp_path, settings_overrides={"smska_timeout": 0.5}) as rig:
        admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
        rig.gateway.inject(Fault.DROP_AFTER_SEND, action="send")
        preview = await preview_for(admin, "/send 79041764995 maybe")
        await admin.press(preview, "✅ Send")
        shown = await admin.wait_for(lambda m: m.message_id == preview.message_id and "may or may not" in m.plain)
        assert "/status" in shown.plain
        assert len(rig.gateway.sent) == 1
        sends_seen = [r for r in rig.gateway.requests if r.action == "send"]
        assert len(sends_seen) == 1
        # Pressing Send again on the same preview does not send again.
        cq = await admin.press_data(preview.message_id, preview.versions[0].buttons[0][0].data)
        assert "may or may not" in ((await rig.telegram.callback_answer(cq)).text or "")
        assert len([r for r in rig.gateway.requests if r.action == "send"]) == 1
        assert sends(rig)[0]["state"] == "unknown"


async def test_tracking_continues_across_restart_and_operators_get_only_their_own(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = rig.telegram.user(OPERATOR, first_name="Oleg", language_code="ru")
    await admin.send(f"/allow {OPERATOR}")
    await operator.next_message()
    rig.gateway.delivery_delay = 3.0
    p1 = await preview_for(admin, "/send 79041764995 from admin")
    await admin.press(p1, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == p1.message_id and "Sent to" in m.plain)
    await operator.send("/send 79041764996 от оператора")
    p2 = await operator.wait_for(
        lambda m: "Проверьте" in m.plain or "79041764996" in m.plain or "904 176-49-96" in m.plain
    )
    await operator.press(p2, 1)
    await operator.wait_for(lambda m: m.message_id == p2.message_id and "id" in m.plain and m.edited)
    await rig.restart()
    a_notice = await admin.wait_for(lambda m: "delivered" in m.plain and "SMS to" in m.plain, timeout=20)
    o_notice = await operator.wait_for(lambda m: "доставлено" in m.plain, timeout=20)
    assert "+7 904 176-49-95" in a_notice.plain and "+7 904 176-49-96" in o_notice.plain
    assert all("49-96" not in m.plain for m in admin.messages if "SMS to" in m.plain)
    # /history: the operator sees only their own; the admin sees both, with who sent.
    await operator.send("/history")
    own = await operator.wait_for(lambda m: "49-96" in m.plain and "49-95" not in m.plain)
    assert own
    await admin.send("/history")
    both = await admin.wait_for(lambda m: "49-96" in m.plain and "49-95" in m.plain)
    assert "Oleg" in both.plain


async def test_history_pages_with_buttons_that_edit_in_place(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    for i in range(7):
        preview = await preview_for(admin, f"/send 7904176490{i} page test {i}")
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m, p=preview: m.message_id == p.message_id and "Sent to" in m.plain)
    await admin.send("/history")
    first = await admin.wait_for(lambda m: "page 1 of 2" in m.plain)
    assert "page test 6" in first.plain and "page test 1" not in first.plain
    assert first.button_texts == ["▶"]
    await admin.press(first, "▶")
    second = await admin.wait_for(lambda m: m.message_id == first.message_id and "page 2 of 2" in m.plain)
    assert "page test 0" in second.plain and "page test 6" not in second.plain
    assert second.button_texts == ["◀"]


async def test_low_balance_warns_admins_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with Harness(tmp_path, settings_overrides={"low_balance_threshold": "998.5"}) as rig:
        admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
        for i in range(3):
            preview = await preview_for(admin, f"/send 79041764995 low {i}")
            await admin.press(preview, "✅ Send")
            await admin.wait_for(lambda m, p=preview: m.message_id == p.message_id and "Sent to" in m.plain)
        await admin.send("/help")
        await admin.wait_for(lambda m: "/send" in m.plain and "Low balance" not in m.plain)
        warnings = [m for m in admin.messages if "Low balance" in m.plain]
        assert len(warnings) == 1 and "998" in warnings[0].plain


async def test_insufficient_credits_shows_the_balance(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    preview = await preview_for(admin, "/send 79000000005 no money")
    await admin.press(preview, "✅ Send")
    failed = await admin.wait_for(lambda m: m.message_id == preview.message_id and "Not enough money" in m.plain)
    assert "Balance: 1 000" in failed.plain


async def test_text_outside_a_flow_gets_a_hint(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("hello?")
    assert "/send" in (await admin.next_message()).plain
    await admin.send_sticker()
    assert "/help" in (await admin.next_message()).plain


async def test_contact_shared_outside_the_flow_starts_a_send(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send_contact("79041764995", first_name="Duty")
    assert "To +7 904 176-49-95" in (await admin.next_message()).plain
    await admin.send("contact text")
    preview = await admin.next_message()
    assert "Check before sending" in preview.plain and "contact text" in preview.plain


async def test_a_send_costs_few_trips_to_the_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each statement is one trip to aiosqlite's thread, waiting for the GIL under load: a state change returns
    the row it wrote instead of a write and a read back. Counted: each update's update_id remembered (handled
    once), the draft (row, the parts spent within the spend limits, preview id) and the press
    (claim, accepted + tracking row in one transaction, result message id); the tracker's look at its queue,
    which the accepted SMS wakes, is left out."""
    async with Harness(tmp_path, settings_overrides={"delivery_poll_initial": 3600.0}) as rig:
        assert rig.app is not None
        conn: Any = rig.app.db._conn
        trips: list[str] = []
        original = conn._execute

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            sql = args[0] if args and isinstance(args[0], str) else getattr(fn, "__name__", "?")
            if "FROM tracking" not in sql:
                trips.append(" ".join(sql.split()[:3]))
            return await original(fn, *args, **kwargs)

        conn._execute = counted
        admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
        for _ in range(2):  # who Alice is: written at the first update, read back (and cached) at the next
            await admin.send("/help")
            await admin.next_message()
        trips.clear()
        preview = await preview_for(admin, "/send 79041764995 counted")
        await asyncio.sleep(0.2)  # the preview id is written after Telegram answered
        assert len(trips) == 4, trips
        trips.clear()
        await admin.press(preview, "✅ Send")
        await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
        for _ in range(50):
            if sends(rig)[0]["result_message_id"] is not None:
                break
            await asyncio.sleep(0.05)
        assert len(trips) == 7, trips
        conn._execute = original
