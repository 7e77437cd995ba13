"""Composing and sending as an operator meets it — guided steps, hints, Cancel, the sender switch, bad input,
outcomes and notices in words, /history paging, the low-balance warning — in the fast tier (moved from
``tests/e2e/test_e2e_send.py``, which keeps the contract's paths over HTTP)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import ADMIN
from tests.support.fast_client import FastBot, FastUser, Sent


async def preview_for(user: FastUser, command: str) -> Sent:
    await user.send(command)
    return await user.wait_for(lambda m: "Check before sending" in m.plain)


def sends(fb: FastBot) -> list[dict[str, object]]:
    with sqlite3.connect(fb.db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sends ORDER BY id")]


async def test_guided_send_with_contact_and_hints(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send")
    assert "Who gets the SMS" in (await admin.next_message()).plain
    await admin.send_sticker()
    assert "I need a phone number" in (await admin.next_message()).plain
    await admin.send("+44 20 7946 0958")
    assert "Only Russian mobile numbers" in (await admin.next_message()).plain
    await admin.share_contact("+79041764995", first_name="Duty")
    assert "To +7\u00a0904\u00a0176\u201149\u201195" in (await admin.next_message()).plain
    await admin.send_photo()
    assert "I need the text" in (await admin.next_message()).plain
    await admin.send("Привет, это дежурный")
    preview = await admin.next_message()
    assert "UCS-2" not in preview.plain and "Привет, это дежурный" in preview.plain


async def test_cancel_at_each_step_sends_nothing(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send")
    await admin.next_message()
    await admin.send("/cancel")
    assert "Cancelled" in (await admin.next_message()).plain
    await admin.send("/send 89041764995")
    ask = await admin.next_message()
    await admin.press("Cancel", on=ask)
    await admin.wait_for(lambda m: m.message_id == ask.message_id and "Cancelled" in m.plain)
    preview = await preview_for(admin, "/send 89041764995 text")
    await admin.press("Cancel", on=preview)
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Cancelled" in m.plain)
    # The old preview's Send button, pressed after Cancel (a forged press with its real data), sends nothing.
    send_data = preview.versions[0].buttons[0][0].data
    assert send_data is not None
    cq = await admin.press_data(preview.message_id, send_data)
    answer = await fb.telegram.toast(cq)
    assert "cancelled" in (answer.text or "")
    assert fb.gateway.sent == []


async def test_sender_switch(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    preview = await preview_for(admin, "/send 79041764995 from backup")
    await admin.press("✉️ Sender: OnCall", on=preview)
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Backup" in m.button_texts)
    await admin.press("Backup", on=preview)
    updated = await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sender: Backup" in m.plain)
    await admin.press("✅ Send", on=updated)
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    assert fb.gateway.sent[0].sender == "Backup"


async def test_bad_inputs_get_reasons(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/send 8 495 123-45-67 landline")
    assert "not a mobile number" in (await admin.next_message()).plain
    await admin.send("/send 12345 short")
    reply = await admin.next_message()
    assert "Too few digits" in reply.plain and "+7\u00a0904\u00a0176\u201149\u201195" in reply.plain
    await admin.send("/send 79041764995 " + "x" * 1600)
    assert "too long: 11 SMS" in (await admin.next_message()).plain
    await admin.send("/send 79041764995 <b>not bold</b> & <script>")
    preview = await admin.next_message()
    assert "<b>not bold</b> & <script>" in preview.plain
    assert fb.gateway.sent == []
    assert fb.telegram.parse_errors() == []  # the text was escaped, so Telegram parsed the HTML around it


async def test_each_final_status_ends_in_the_right_notice(tmp_path: Path) -> None:
    # Four people, one SMS each, tracked side by side: one chat would take Telegram's second per message for its
    # four edits and four notices.
    finals = {
        "79000000051": "rejected by the carrier",
        "79000000071": "expired",
        "79000000081": "deleted by the carrier",
        "79000000091": "delivered",
    }
    people = [ADMIN + i for i in range(len(finals))]
    async with FastBot(tmp_path, admin_ids=tuple(people)) as fb:
        pressed = []
        for user_id, (msisdn, words) in zip(people, finals.items(), strict=True):
            user = fb.user(user_id, first_name=f"Op{user_id}", language_code="en")
            preview = await preview_for(user, f"/send {msisdn} test")
            await user.press("✅ Send", on=preview)
            pressed.append((user, preview, words))

        def notices() -> list[Sent] | None:
            found = [
                next((m for m in u.messages if m.reply_to == p.message_id and "SMS to" in m.plain), None)
                for u, p, _ in pressed
            ]
            return None if None in found else [m for m in found if m is not None]

        for notice, (_, preview, words) in zip(await fb.telegram.signal.wait_until(notices, 15), pressed, strict=True):
            assert notice.message_id != preview.message_id and words in notice.plain, (words, notice.plain)


async def test_never_final_is_reported_unknown_after_the_window(tmp_path: Path) -> None:
    async with FastBot(tmp_path, admin_ids=(ADMIN,), settings_overrides={"delivery_track_hours": 2 / 3600}) as fb:
        admin = fb.user(ADMIN, first_name="Alice", language_code="en")
        preview = await preview_for(admin, "/send 79000000031 never final")
        await admin.press("✅ Send", on=preview)
        notice = await admin.wait_for(lambda m: "No final status" in m.plain, timeout=15)
        assert "unknown" in notice.plain
        assert await fb.app.db.tracking.depth() == 0 if fb.app else False


async def test_gateway_errors_on_send_are_answered_and_logged(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    for msisdn, words in [
        ("79000000003", "could not send"),
        ("79000000005", "Not enough money"),
        ("79000000006", "does not accept this number"),
    ]:
        preview = await preview_for(admin, f"/send {msisdn} x")
        await admin.press("✅ Send", on=preview)
        failed = await admin.wait_for(lambda m, p=preview, w=words: m.message_id == p.message_id and w in m.plain)
        assert "Nothing was sent" in failed.plain
    rows = sends(fb)
    assert [r["state"] for r in rows] == ["failed", "failed", "failed"]
    assert [r["error_code"] for r in rows] == [3, 5, 6]


async def test_history_pages_with_buttons_that_edit_in_place(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    for i in range(7):
        preview = await preview_for(admin, f"/send 7904176490{i} page test {i}")
        await admin.press("✅ Send", on=preview)
        await admin.wait_for(lambda m, p=preview: m.message_id == p.message_id and "Sent to" in m.plain)
    await admin.send("/history")
    first = await admin.wait_for(lambda m: "page 1 of 2" in m.plain)
    assert "page test 6" in first.plain and "page test 1" not in first.plain
    assert first.button_texts == ["▶"]
    await admin.press("▶", on=first)
    second = await admin.wait_for(lambda m: m.message_id == first.message_id and "page 2 of 2" in m.plain)
    assert "page test 0" in second.plain and "page test 6" not in second.plain
    assert second.button_texts == ["◀"]


async def test_low_balance_warns_admins_once(tmp_path: Path) -> None:
    async with FastBot(tmp_path, admin_ids=(ADMIN,), settings_overrides={"low_balance_threshold": "998.5"}) as fb:
        admin = fb.user(ADMIN, first_name="Alice", language_code="en")
        for i in range(3):
            preview = await preview_for(admin, f"/send 79041764995 low {i}")
            await admin.press("✅ Send", on=preview)
            await admin.wait_for(lambda m, p=preview: m.message_id == p.message_id and "Sent to" in m.plain)
        await admin.send("/help")
        await admin.wait_for(lambda m: "/send" in m.plain and "Low balance" not in m.plain)
        warnings = [m for m in admin.messages if "Low balance" in m.plain]
        assert len(warnings) == 1 and "998" in warnings[0].plain


async def test_insufficient_credits_shows_the_balance(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    preview = await preview_for(admin, "/send 79000000005 no money")
    await admin.press("✅ Send", on=preview)
    failed = await admin.wait_for(lambda m: m.message_id == preview.message_id and "Not enough money" in m.plain)
    assert "Balance: 1\u00a0000" in failed.plain


async def test_text_outside_a_flow_gets_a_hint(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("hello?")
    assert "/send" in (await admin.next_message()).plain
    await admin.send_sticker()
    assert "/help" in (await admin.next_message()).plain


async def test_contact_shared_outside_the_flow_offers_a_send(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    await admin.share_contact("79041764995", first_name="Pavel")
    offer = await admin.next_message()
    assert "+7\u00a0904\u00a0176\u201149\u201195" in offer.plain and offer.button_texts == [
        "📨 Send SMS",
        "💾 Save contact",
    ]
    await admin.press("📨 Send SMS", on=offer)
    assert "To +7\u00a0904\u00a0176\u201149\u201195" in (await admin.next_message()).plain
    await admin.send("contact text")
    preview = await admin.next_message()
    assert "Check before sending" in preview.plain and "contact text" in preview.plain
