"""Start-up after a crash does not block: telling the operators of 200 interrupted sends runs in the
background at Telegram's pace, and a /balance sent meanwhile is answered within 2 s of polling."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import ChatView
from bot.storage.store import utcnow
from tests.support.chaos_support import eventually
from tests.support.engines import execute, select

ADMIN = 1001
INTERRUPTED = 200
OPERATORS = 20
SIGN = 2.0
MAYBE = "may or may not have gone out"


def interrupt_sends(h: Harness, users: list[int]) -> None:
    """What a crash in the middle of 200 sends leaves behind: rows in `sending`."""
    now = utcnow()
    execute(
        h,
        """INSERT INTO sends (user_id, chat_id, msisdn, sender, text, encoding, parts, state, locale,
                              created_at, updated_at)
           VALUES (?, ?, '79041764995', 'OnCall', ?, 'GSM-7', 1, 'sending', 'en', ?, ?)""",
        [(users[i % len(users)], users[i % len(users)], f"interrupted {i}", now, now) for i in range(INTERRUPTED)],
    )


def owed(h: Harness) -> int:
    return int(select(h, "SELECT COUNT(*) AS n FROM sends WHERE outcome_owed_at IS NOT NULL")[0]["n"])


async def test_balance_answered_while_200_interrupted_sends_are_told(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,)) as h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        users = [5000 + i for i in range(OPERATORS)]
        chats = [h.telegram.user(u, first_name=f"Op{u}", language_code="en") for u in users]
        await h.stop_bot()
        interrupt_sends(h, users)
        admin.mark_seen()
        await admin.send("/balance")  # waits for the bot to come back
        polls = len(h.telegram.calls_to("getUpdates"))
        restarted = time.monotonic()
        await h.start_bot()
        reply = await admin.next_message(timeout=30)
        answered = time.monotonic()
        still_owed = owed(h)
        first_poll = h.telegram.calls_to("getUpdates")[polls].time

        assert "Balance" in reply.plain
        print(
            f"\n/balance answered {answered - first_poll:.2f}s after polling began "
            f"({answered - restarted:.2f}s after the restart), {INTERRUPTED - still_owed} of {INTERRUPTED} told"
        )
        assert answered - first_poll < SIGN
        # The telling had not finished: the answer did not wait for it (200 notices take ~8 s at 25/s).
        assert still_owed > 0, "every operator was told before the answer: the start-up blocked on it"

        # ... and every operator is told, at Telegram's pace: their messages are waited for as they come (reading
        # the database every few ms instead costs a connection each time on PostgreSQL), then the log agrees.
        async with asyncio.timeout(90):
            for chat in chats:
                for _ in range(INTERRUPTED // OPERATORS):
                    await chat.wait_for(lambda m: MAYBE in m.plain, timeout=90)
        await eventually(lambda: True if owed(h) == 0 else None, 10, "every interrupted send to be marked told")
        for user, chat in zip(users, chats, strict=True):
            told = [m for m in ChatView(h.telegram, chat.state).messages if MAYBE in m.plain]
            assert len(told) == INTERRUPTED // OPERATORS, user
        states = {r["state"] for r in select(h, "SELECT state FROM sends WHERE text LIKE 'interrupted %'")}
        assert states == {"unknown"}
        assert h.telegram.max_rate() <= 30 and h.telegram.max_rate(per_chat=True) <= 1
