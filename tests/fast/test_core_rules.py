"""The bot core as a person meets it — access, /start, /help, /balance, /status, /language, errors — in the
fast tier (moved from ``tests/e2e/test_e2e_core.py``, which keeps the paths that need the HTTP rig)."""

from __future__ import annotations

from bot.devkit.sandbox import Fault
from tests.conftest import ADMIN, OPERATOR, STRANGER
from tests.support.fast_client import API_PASSWORD, FastBot


async def test_admin_start_and_help(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/start")
    reply = await admin.next_message()
    assert "You have access" in reply.plain
    assert "/allow" in reply.plain  # admins see the admin commands


async def test_balance_and_refresh(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/balance")
    reply = await admin.next_message()
    assert "Balance: 1\u00a0000" in reply.plain
    assert reply.button_texts == ["🔄 Refresh"]
    fb.gateway.balance -= 10
    toast = await admin.press("Refresh", on=reply)
    edited = await admin.wait_for(lambda m: m.message_id == reply.message_id and "990" in m.plain)
    assert "Balance: 990" in edited.plain
    assert toast.text == "Checking the balance…"  # the sign of work comes first (issue 14)


async def test_russian_by_telegram_language(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Алиса", language_code="ru")
    await admin.send("/balance")
    reply = await admin.next_message()
    assert "Баланс" in reply.plain


async def test_stranger_refused_once_and_admin_approves_by_button(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    stranger = fb.user(STRANGER, first_name="Eve", username="eve", language_code="en")
    await stranger.send("/balance")
    refusal = await stranger.next_message()
    assert str(STRANGER) in refusal.plain and "only for authorised" in refusal.plain
    request = await admin.next_message()
    assert "Eve" in request.plain and str(STRANGER) in request.plain
    assert request.button_texts == ["✅ Approve", "🚫 Deny"]
    # More messages from the stranger: no second refusal, no second request, nothing reaches the gateway.
    await stranger.send("hello?")
    await stranger.send("/send 79041764995 hi")
    await admin.send("/help")
    await admin.next_message()
    assert len([m for m in stranger.messages if "only for authorised" in m.plain]) == 1
    assert fb.gateway.requests == []
    await admin.press("Approve", on=request)
    decided = await admin.wait_for(lambda m: m.message_id == request.message_id and "given access by Alice" in m.plain)
    assert decided.button_texts == []
    welcome = await stranger.wait_for(lambda m: "You now have access" in m.plain)
    assert welcome
    await stranger.send("/balance")
    assert "Balance" in (await stranger.wait_for(lambda m: "Balance" in m.plain)).plain


async def test_allow_deny_users_by_command(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    operator = fb.user(OPERATOR, first_name="Oleg", language_code="en")
    await admin.send(f"/allow {OPERATOR}")
    assert "can now use the bot" in (await admin.next_message()).plain
    assert "You now have access" in (await operator.next_message()).plain
    await admin.send("/users")
    listing = await admin.next_message()
    assert str(OPERATOR) in listing.plain and str(ADMIN) in listing.plain
    # Operators cannot use admin commands.
    await operator.send(f"/deny {ADMIN}")
    await operator.send("/help")
    help_reply = await operator.wait_for(lambda m: "/balance" in m.plain)
    assert "/allow" not in help_reply.plain
    assert all("no longer has access" not in m.plain for m in operator.messages)
    await admin.send(f"/deny {OPERATOR}")
    assert "no longer has access" in (await admin.next_message()).plain
    await operator.send("/balance")
    await operator.wait_for(lambda m: "taken away your access" in m.plain)  # told, not asked to wait
    await admin.send("/allow nonsense")
    assert "/allow 123456789" in (await admin.next_message()).plain
    audit = [row["action"] for row in await fb.app.db.access.audit()] if fb.app else []
    assert audit[:2] == ["deny", "allow"]


async def test_status_of_each_documented_code(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    for code, name, words in [
        (3, "ACCEPTD", "with the carrier, not delivered yet (not final yet)"),
        (4, "DELIVRD", "delivered (final)"),
        (5, "REJECTD", "rejected by the carrier (final)"),
        (6, "REJECTD", "rejected by the carrier (final)"),
        (7, "EXPIRED", "expired: the phone was unreachable (final)"),
        (8, "DELETED", "deleted by the carrier (final)"),
        (9, "SOMETHING", "unrecognised status 9 SOMETHING (not final yet)"),
    ]:
        message_id = f"id{code}abcdefghijklmn"
        fb.gateway.force_status(message_id, code, name)
        await admin.send(f"/status {message_id}")
        reply = await admin.next_message()
        assert words in reply.plain, (code, reply.plain)
    await admin.send("/status")  # no id and nothing sent: says so, no made-up example
    assert "not sent any SMS yet" in (await admin.next_message()).plain


async def test_language_choice_is_stored_and_survives_restart(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/language")
    menu = await admin.next_message()
    await admin.press("Русский", on=menu)
    chosen = await admin.wait_for(lambda m: m.message_id == menu.message_id and "русский" in m.plain)
    assert "Язык" in chosen.plain
    await fb.restart()
    await admin.send("/balance")
    assert "Баланс" in (await admin.wait_for(lambda m: "Баланс" in m.plain)).plain


async def test_group_chat_is_ignored(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    group = fb.group(-100500, title="Ops")
    await admin.send("/send 79041764995 from a group", chat=group)
    await admin.send("/help")
    await admin.next_message()
    assert group.messages == []
    assert fb.gateway.requests == []


async def test_gateway_errors_and_faults_answered_in_words(fb: FastBot) -> None:
    admin = fb.user(ADMIN, first_name="Alice", language_code="en")
    # A persistent fault is retried until the client's budget is spent; how it retries is the client's own test
    # (tests/e2e/test_gateway_client.py). Here only the words matter, so the budget is short.
    assert fb.app is not None
    fb.app.gateway.budget = 1.0
    cases = [
        (Fault.HTTP_500, None, "cannot be reached"),
        (Fault.HTML, None, "cannot be reached"),
        (Fault.EMPTY, None, "cannot be reached"),
        (Fault.GARBAGE, None, "cannot be reached"),
        (Fault.ERROR, 1, "refused the login or password"),
        (Fault.ERROR, 4, "rejected the request"),
    ]
    for fault, code, words in cases:
        fb.gateway.inject(fault, action="balance", times=None, **({"code": code} if code else {}))
        await admin.send("/balance")
        reply = await admin.next_message(timeout=30)
        fb.gateway.clear_faults()
        assert words in reply.plain, (fault, reply.plain)
        assert API_PASSWORD not in reply.text
