"""The preview ends on the final word: whatever order the press's handler and the tracker finish in (tiny poll
intervals, an SMS delivered at once), no preview is left showing "Sent to" after its SMS was delivered."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.support.chaos_support import eventually

OPERATORS = 10
EACH = 4
PATIENCE = 15.0


async def one_send(user: FakeUser, n: int) -> BotMessage:
    await user.send(f"/send 79041764995 race {user.user_id} {n}")
    preview = await user.wait_for(
        lambda m: "Check before sending" in m.plain and f"race {user.user_id} {n}" in m.plain, timeout=PATIENCE
    )
    await user.press(preview, "✅ Send")
    return preview


def settled(db_path: Path) -> bool:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT final, notice_owed_at, result_message_id FROM sends WHERE state = 'accepted'"
        ).fetchall()
    # Final, the notice given, and the press's handler done with it (it stores the message it showed it in).
    return len(rows) == OPERATORS * EACH and all(f == 1 and owed is None and shown for f, owed, shown in rows)


async def test_no_preview_left_behind_its_final_state(tmp_path: Path) -> None:
    admins = tuple(1001 + i for i in range(OPERATORS))
    overrides = {"delivery_poll_initial": 0.005, "delivery_poll_max": 0.01}
    async with Harness(tmp_path, admin_ids=admins, delivery_delay=0.0, settings_overrides=overrides) as h:
        users = [h.telegram.user(a, first_name=f"Op{a}", language_code="en") for a in admins]

        async def operator(user: FakeUser) -> list[BotMessage]:
            return [await one_send(user, n) for n in range(EACH)]

        previews = [p for batch in await asyncio.gather(*(operator(u) for u in users)) for p in batch]
        await eventually(lambda: True if settled(h.db_path) else None, 120, "every SMS final and its notice given")
        await h.telegram.wait_idle(quiet=0.5, timeout=60)  # the last edits (settle, notices) have landed

        behind = []
        for preview in previews:
            now = h.telegram.message(preview.chat["id"], preview.message_id)
            if "delivered" not in now.plain or "Sent to" in now.plain:
                behind.append(now.plain)
        print(f"\n{len(previews)} sends: {len(behind)} previews left behind their SMS's final state")
        assert behind == []
        assert len(h.gateway.sent) == OPERATORS * EACH
