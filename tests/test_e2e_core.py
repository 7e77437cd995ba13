"""The bot core as a person meets it: access, /start, /help, /balance, /status, /language, errors."""

from __future__ import annotations

from bot.devkit.harness import API_PASSWORD, Harness
from bot.devkit.sandbox import Fault
from tests.conftest import ADMIN, OPERATOR, STRANGER


async def test_admin_start_and_help(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/start")
    reply = await admin.next_message()
    assert "You have access" in reply.plain
    assert "/allow" in reply.plain  # admins see the admin commands


async def test_balance_and_refresh(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/balance")
    reply = await admin.next_message()
    assert "Balance: 1 000" in reply.plain
    assert reply.button_texts == ["🔄 Refresh"]
    rig.gateway.balance -= 10
    await admin.press(reply, "Refresh")
    edited = await admin.wait_for(lambda m: m.message_id == reply.message_id and "990" in m.plain)
    assert "Balance: 990" in edited.plain


async def test_russian_by_telegram_language(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Алиса", language_code="ru")
    await admin.send("/balance")
    reply = await admin.next_message()
    assert "Баланс" in reply.plain


async def test_stranger_refused_once_and_admin_approves_by_button(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    stranger = rig.telegram.user(STRANGER, first_name="Eve", username="eve", language_code="en")
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
    assert rig.gateway.requests == []
    await admin.press(request, "Approve")
    decided = await admin.wait_for(lambda m: m.message_id == request.message_id and "allowed by Alice" in m.plain)
    assert decided.button_texts == []
    welcome = await stranger.wait_for(lambda m: "You now have access" in m.plain)
    assert welcome
    await stranger.send("/balance")
    assert "Balance" in (await stranger.wait_for(lambda m: "Balance" in m.plain)).plain


async def test_allow_deny_users_by_command(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    operator = rig.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
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
    assert "access to this bot was withdrawn" in (await operator.wait_for(lambda m: "withdrawn" in m.plain)).plain
    await admin.send("/allow nonsense")
    assert "/allow 123456789" in (await admin.next_message()).plain
    audit = [row["action"] for row in await rig.app.db.access.audit()] if rig.app else []
    assert audit[:2] == ["deny", "allow"]


async def test_status_of_each_documented_code(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    for code, name, words in [
        (3, "ACCEPTD", "sent to the network, not delivered yet (not final yet)"),
        (4, "DELIVRD", "delivered (final)"),
        (5, "REJECTD", "rejected by the network (final)"),
        (6, "REJECTD", "rejected by the network (final)"),
        (7, "EXPIRED", "expired: the phone was unreachable (final)"),
        (8, "DELETED", "deleted by the network (final)"),
        (9, "SOMETHING", "unrecognised status 9 SOMETHING (not final yet)"),
    ]:
        message_id = f"id{code}abcdefghijklmn"
        rig.gateway.force_status(message_id, code, name)
        await admin.send(f"/status {message_id}")
        reply = await admin.next_message()
        assert words in reply.plain, (code, reply.plain)
    await admin.send("/status")
    assert "/status ah1acugxz98a27t9z" in (await admin.next_message()).plain


async def test_language_choice_is_stored_and_survives_restart(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send("/language")
    menu = await admin.next_message()
    await admin.press(menu, "Русский")
    chosen = await admin.wait_for(lambda m: m.message_id == menu.message_id and "русский" in m.plain)
    assert "Язык" in chosen.plain
    await rig.restart()
    await admin.send("/balance")
    assert "Баланс" in (await admin.wait_for(lambda m: "Баланс" in m.plain)).plain


async def test_group_chat_is_ignored(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    group = rig.telegram.group(-100500, title="Ops")
    await admin.send("/send 79041764995 from a group", chat=group)
    await admin.send("/help")
    await admin.next_message()
    assert group.messages == []
    assert rig.gateway.requests == []


async def test_gateway_errors_and_faults_answered_in_words(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    cases = [
        (Fault.HTTP_500, None, "cannot be reached"),
        (Fault.HTML, None, "cannot be reached"),
        (Fault.EMPTY, None, "cannot be reached"),
        (Fault.GARBAGE, None, "cannot be reached"),
        (Fault.ERROR, 1, "refused the login or password"),
        (Fault.ERROR, 4, "rejected the request"),
    ]
    for fault, code, words in cases:
        rig.gateway.inject(fault, action="balance", times=None, **({"code": code} if code else {}))
        await admin.send("/balance")
        reply = await admin.next_message(timeout=30)
        rig.gateway.clear_faults()
        assert words in reply.plain, (fault, reply.plain)
        assert API_PASSWORD not in reply.text


async def test_telegram_429_is_honoured(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    rig.telegram.fail_next("sendMessage", error_code=429, retry_after=1)
    await admin.send("/help")
    reply = await admin.next_message(timeout=10)
    assert "/send" in reply.plain
    assert rig.app is not None and rig.app.retry.retries == 1


async def test_command_menu_in_both_languages_and_admin_menu(rig: Harness) -> None:
    menus = rig.telegram.commands
    ru = [c["description"] for c in menus[("default", "ru")]]
    en = [c["description"] for c in menus[("default", "en")]]
    assert "Send an SMS" in en and "Send an SMS" not in ru and len(ru) == len(en)
    admin_menu = [c["command"] for c in menus[(f"chat:{ADMIN}", "en")]]
    assert {"allow", "deny", "users", "send"} <= set(admin_menu)
    assert "allow" not in [c["command"] for c in menus[("default", "en")]]
