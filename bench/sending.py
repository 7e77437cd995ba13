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
from bench.stats import limit_violations, max_in_window, percentile
from bot.devkit.sandbox import Fault
from bot.devkit.telegram import MESSAGE_METHODS, BotMessage, FakeUser


def gateway_concurrency() -> int:
    """httpx's default connection limit (bot.app builds `httpx.AsyncClient(timeout=...)` without limits)."""
    limits = getattr(httpx, "_config", None)
    default = getattr(limits, "DEFAULT_LIMITS", None)
    value = getattr(default, "max_connections", None)
    return int(value) if isinstance(value, int) else 100


async def prepare_previews(users: list[FakeUser], per_user: int, number: str, tag: str) -> list[BotMessage]:
    """Each user asks for `per_user` previews at once, each to its own number from `number` on (a newer draft to
    the same number replaces the older one); returns them all."""
    for user in users:
        user.mark_seen()
        for k in range(per_user):
            await user.send(f"/send {int(number) + k} {tag} {user.user_id}-{k}")
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


def breakdown(
    servers: Servers, mark: int, queued: float, latency: float, sent_before: int, requests_before: int
) -> dict[str, float]:
    """Where each send's time went: from the press to its request reaching the gateway, and from the gateway's
    answer (arrival + latency) to the "Sent to" edit; p50/p99 in ms."""
    gateway = servers.gateway
    arrived = {r.fields.get("Message"): r.at for r in gateway.requests[requests_before:] if r.action == "send"}
    by_id = {m.id: arrived.get(m.text) for m in gateway.sent[sent_before:]}
    before: list[float] = []
    after: list[float] = []
    for call in servers.telegram.calls[mark:]:
        if not is_sent_edit(call):
            continue
        text = str(call.params.get("text", ""))
        at = next((t for gid, t in by_id.items() if t is not None and gid in text), None)
        if at is not None:
            before.append(at - queued)
            after.append(call.time - (at + latency))
    return {
        "to_gateway_p50_ms": percentile(before, 50) * 1000,
        "to_gateway_p99_ms": percentile(before, 99) * 1000,
        "after_gateway_p50_ms": percentile(after, 50) * 1000,
        "after_gateway_p99_ms": percentile(after, 99) * 1000,
    }


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most gateway requests in service at the same moment."""
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    best = current = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best


async def run(servers: Servers, sends: int, send_users: int, latency: float) -> dict[str, Any]:
    telegram, gateway = servers.telegram, servers.gateway
    per_user = max(1, sends // send_users)
    users = [telegram.user(SEND_BASE + i, f"S{i}", language_code="en") for i in range(send_users)]
    previews = await prepare_previews(users, per_user, DELIVERED, "Volume")
    total = len(previews)
    mark = len(telegram.calls)
    sent_before, requests_before, spans_before = len(gateway.sent), len(gateway.requests), len(gateway.service)
    gateway.inject(Fault.SLOW, times=None, delay=latency)
    try:
        queued, done = await press_all(servers, users, previews)
        wall = done - queued
        accepted = len(gateway.sent) - sent_before
        # Every SMS is delivered after the sandbox's delivery_delay: a notice per SMS, the edit of its "Sent to"
        # message first (when the bot had recorded that message's id by then), then the reply, which always comes.
        budget = 60 + 2 * total / 20
        await wait_calls(telegram, mark, lambda c: is_notice(c) and c.method == "sendMessage", total, timeout=budget)
        notices = [c for c in telegram.calls[mark:] if is_notice(c)]
    finally:
        gateway.clear_faults()
    concurrency = gateway_concurrency()
    stages = breakdown(servers, mark, queued, latency, sent_before, requests_before)
    busiest = max_overlap(gateway.service[spans_before:])
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
        "gateway_max_parallel": busiest,
        **stages,
        "notices": len(notices),
        "notice_edits": sum(1 for c in notices if c.method == "editMessageText"),
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
