"""Secrets, end to end: after a run full of failures, neither the bot token nor the gateway password is in any
log record of any logger (captured at DEBUG, before any formatter could mask it) or in anything the bot sent
to Telegram.

The run: gateway faults on send, balance and query — among them error pages and error replies that ECHO the
password back (a careless gateway does that; the client must scrub it), timeouts and dropped connections;
Telegram failures — 429, 5xx, a dropped getUpdates, a 502 page on getUpdates, a blocked user at a delivery
notice; an exception raised inside a handler; a stranger's access request; and ordinary sends with delivery
notices in between. The harness's token and password are distinctive (bot/devkit/harness.py).

Records are rendered whole: message, arguments, extras, exception text, traceback and repr of the exception.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from bot.devkit.harness import API_PASSWORD, TOKEN, Harness
from bot.devkit.sandbox import Fault
from bot.devkit.telegram import FakeUser
from tests.support.fault_support import LogTrap, assert_serving, eventually, trap_logs

ADMIN = 1001
STRANGER = 3003
TOKEN_SECRET = TOKEN.split(":", 1)[1]
NEEDLES = sorted(
    {
        TOKEN,
        TOKEN_SECRET,
        quote(TOKEN, safe=""),
        API_PASSWORD,
        quote_plus(API_PASSWORD),
        quote(API_PASSWORD, safe=""),
        "Zq9secret",  # the distinctive tail both share: catches a partial leak
    }
)
ECHO = f"Error: bad request APIKey=test&APIPassword={API_PASSWORD} at /api/httppost.php"


def leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


async def press_send(user: FakeUser, command: str) -> None:
    await user.send(command)
    preview = await user.wait_for(lambda m: "Check before sending" in m.plain)
    await user.press(preview, "✅ Send")
    await user.wait_for(
        lambda m: m.message_id >= preview.message_id and "Check before sending" not in m.plain, timeout=30
    )


@contextlib.asynccontextmanager
async def watched(tmp_path: Path, failures: int) -> AsyncIterator[tuple[Harness, LogTrap]]:
    """The bot with short gateway timeouts, every log record of every logger trapped at DEBUG; on the way out,
    failures were logged (a record at level `failures` or above), and no secret is in any record, in any call
    the bot made to Telegram or in any message it sent."""
    with trap_logs(logging.DEBUG) as trap:
        async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"smska_timeout": 0.3}) as h:
            assert h.app is not None
            h.app.gateway.budget = 0.6
            yield h, trap
            sent = "\n".join(repr(call) for call in h.telegram.calls)
            texts = "\n".join(m.text for m in h.telegram.sent_messages)

    assert len(trap.records) > 500  # DEBUG from every logger really was captured
    assert any(r.levelno >= failures for r in trap.records)  # and failures really happened
    leaked = [(r.name, leaks(trap.render(r))) for r in trap.records if leaks(trap.render(r))]
    assert not leaked, leaked[:5]
    assert not leaks(sent), leaks(sent)
    assert not leaks(texts)


# The run is two tests, each a run of its own, so that neither is the tail of the suite (they took 14 s as one).


async def test_no_secret_after_gateway_faults_that_echo_the_password(tmp_path: Path) -> None:
    async with watched(tmp_path, logging.WARNING) as (h, _):  # what the gateway client logs of each fault
        gw = h.gateway
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        for fault, kwargs in [
            (Fault.HTTP_500, {"body": f"<html><body>{ECHO}</body></html>"}),
            (Fault.GARBAGE, {"body": ECHO}),
            (Fault.HTML, {"body": f"<html>{ECHO}</html>"}),
            (Fault.ERROR, {"code": 1, "body": f"Authentication failed for password {API_PASSWORD}"}),
            (Fault.ERROR, {"code": 4, "body": ECHO}),
            (Fault.HANG, {}),
            (Fault.DROP, {}),
        ]:
            gw.inject(fault, action="balance", times=None, **kwargs)  # type: ignore[arg-type]
            await admin.send("/balance")
            await admin.next_message(timeout=30)
            gw.clear_faults()
            gw.inject(fault, action="query", times=None, **kwargs)  # type: ignore[arg-type]
            await admin.send("/status secretcheck0000001")
            await admin.next_message(timeout=30)
            gw.clear_faults()
            gw.inject(fault, action="send", times=None, **kwargs)  # type: ignore[arg-type]
            await press_send(admin, f"/send 79041764995 under {fault.name}")
            gw.clear_faults()
        gw.inject(Fault.DROP_AFTER_SEND, action="send")
        await press_send(admin, "/send 79041764995 dropped after send")


async def test_no_secret_after_telegram_failures_a_blocked_chat_and_a_broken_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with watched(tmp_path, logging.ERROR) as (h, _):  # the broken handler's
        assert h.app is not None
        gw, tg = h.gateway, h.telegram
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")

        # Telegram failures.
        tg.fail_next("sendMessage", error_code=429, retry_after=1)
        await assert_serving(admin)
        tg.fail_next("sendMessage", error_code=500, description="Internal Server Error")
        await admin.send("/balance")
        await admin.next_message(timeout=30)
        tg.fail_next("editMessageText", error_code=502, description="Bad Gateway")
        await press_send(admin, "/send 79041764995 edit fails")
        await tg.wait_for_poll()
        tg.fail_next("getUpdates", drop=True)
        await assert_serving(admin)
        await assert_serving(admin)
        await tg.wait_for_poll()
        tg.fail_next("getUpdates", error_code=502, raw_body="<html><body><h1>502 Bad Gateway</h1>nginx</body></html>")
        await assert_serving(admin)
        await assert_serving(admin)

        # A delivery notice to someone who blocked the bot.
        gw.delivery_delay = 0.8
        await press_send(admin, "/send 79041764995 to a blocked chat")
        await admin.block_bot()
        await admin.wait_for(lambda m: "delivered" in m.plain, timeout=30)  # the edit still lands
        await eventually(lambda: any(e.error_code == 403 for e in tg.errors), 30)  # the reply is refused
        await admin.unblock_bot()
        gw.delivery_delay = 0.3

        # An exception inside a handler.
        async def broken(*args: object, **kwargs: object) -> int:
            raise RuntimeError("history is broken today")

        monkeypatch.setattr(h.app.db.sends, "history_count", broken)
        await admin.send("/history")
        await admin.wait_for(lambda m: "went wrong" in m.plain)
        monkeypatch.undo()

        # A stranger, and an ordinary delivered send.
        stranger = h.telegram.user(STRANGER, first_name="Eve", language_code="en")
        await stranger.send("/send 79041764995 hi")
        await stranger.next_message()
        await press_send(admin, "/send 79041764995 all good")
        await admin.wait_for(lambda m: "delivered" in m.plain and "“all good”" in m.plain, timeout=30)  # names its SMS
        await assert_serving(admin)
