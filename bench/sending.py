"""Section 2 — confirmed sends at volume, and Telegram's limits.

`sends` previews are prepared first (untimed) in `send_users` chats. Then every Send press is queued at once
with the gateway answering every request after `send_latency` seconds (Fault.SLOW, times=None). Wall time
runs from queueing the presses to the last "✅ Sent to" edit arriving at the fake server; the ideal is
ceil(sends / concurrency) × latency, where concurrency is how many gateway requests the bot lets run at once
(its httpx client's connection limit: it sets none, so httpx's default).

Then the delivery notices (the bot's own messages: an edit of the "Sent to" message and a reply, per SMS)
are awaited and counted at the fake server: at most 30 messages/s overall and 1/s per chat. Interactive
answers (the previews and their edits after a press) are reported too, apart: they answer a person's own
action, so Telegram's per-chat limit for notifications is not what governs them.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import httpx

from bench.rig import DELIVERED, SEND_BASE, Servers, is_notice, is_sent_edit, wait_calls
from bench.stats import limit_violations, max_in_window
from bot.gateway.sandbox import Fault
from bot.testing.fake_models import BotMessage
from bot.testing.fake_people import FakeUser
from bot.testing.fake_telegram import MESSAGE_METHODS


def gateway_concurrency() -> int:
    """httpx's default connection limit (bot.app builds `httpx.AsyncClient(timeout=...)` without limits)."""
    limits = getattr(httpx, "_config", None)
    default = getattr(limits, "DEFAULT_LIMITS", None)
    value = getattr(default, "max_connections", None)
    return int(value) if isinstance(value, int) else 100


async def prepare_previews(users: list[FakeUser], per_user: int, number: str, tag: str) -> list[BotMessage]:
    """Each user asks for `per_user` previews at once; returns them all."""
    for user in users:
        user.mark_seen()
        for k in range(per_user):
            await user.send(f"/send {number} {tag} {user.user_id}-{k}")
    previews: list[BotMessage] = []
    for user in users:
        for _ in range(per_user):
            previews.append(await user.wait_for(lambda m: "Check before sending" in m.plain, timeout=60))
    return previews


async def press_all(servers: Servers, users: list[FakeUser], previews: list[BotMessage]) -> tuple[float, float]:
    """Press Send under every preview at once; (queued at, last "Sent to" edit at)."""
    telegram = servers.telegram
    by_chat = {u.chat_id: u for u in users}
    mark = len(telegram.calls)
    queued = time.monotonic()
    for preview in previews:
        await by_chat[preview.chat_id].press(preview, 1)  # ✅ Send
    edits = await wait_calls(telegram, mark, is_sent_edit, len(previews), timeout=120 + len(previews) / 5)
    return queued, edits[-1].time


async def run(servers: Servers, sends: int, send_users: int, latency: float) -> dict[str, Any]:
    telegram, gateway = servers.telegram, servers.gateway
    per_user = max(1, sends // send_users)
    users = [telegram.user(SEND_BASE + i, f"S{i}", language_code="en") for i in range(send_users)]
    previews = await prepare_previews(users, per_user, DELIVERED, "Volume")
    total = len(previews)
    mark = len(telegram.calls)
    sent_before = len(gateway.sent)
    gateway.inject(Fault.SLOW, times=None, delay=latency)
    try:
        queued, done = await press_all(servers, users, previews)
        wall = done - queued
        accepted = len(gateway.sent) - sent_before
        # Every SMS is delivered after the sandbox's delivery_delay; wait for both notices of each.
        budget = 60 + 2 * total / 20
        notices = await wait_calls(telegram, mark, is_notice, 2 * total, timeout=budget)
    finally:
        gateway.clear_faults()
    concurrency = gateway_concurrency()
    ideal = math.ceil(total / concurrency) * latency
    window = [c for c in telegram.calls[mark:] if c.method in MESSAGE_METHODS]
    interactive = [c for c in window if not is_notice(c)]
    notice_span = notices[-1].time - notices[0].time if notices else 0.0
    by_chat: dict[object, list[float]] = {}
    for call in notices:
        by_chat.setdefault(call.params.get("chat_id"), []).append(call.time)
    gaps = [b - a for times in by_chat.values() for a, b in itertools.pairwise(times)]
    return {
        "sends": total,
        "accepted": accepted,
        "chats": send_users,
        "gateway_latency_s": latency,
        "concurrency": concurrency,
        "wall_s": wall,
        "ideal_s": ideal,
        "send_ideal_ratio": wall / ideal,
        "sends_per_s": total / wall,
        "notices": len(notices),
        "notices_seconds": notice_span,
        "notices_max_per_s": max_in_window(c.time for c in notices),
        "notices_max_per_chat_s": max(
            (max_in_window(times) for times in by_chat.values()),
            default=0,
        ),
        "notices_min_gap_in_chat_s": min(gaps) if gaps else None,
        "notice_violations": limit_violations(notices),
        "interactive_max_per_s": max_in_window(c.time for c in interactive),
        "interactive_max_per_chat_s": max(
            (max_in_window([c.time for c in interactive if c.params.get("chat_id") == u.chat_id]) for u in users),
            default=0,
        ),
        "all_max_per_s": max_in_window(c.time for c in window),
    }
