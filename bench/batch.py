"""Section 5 — one send to several recipients (issue 17).

5a. Against the running `python -m bot` (SEND_CONCURRENCY 4, its default): one operator sends
`/send <50 numbers> <text>` and presses Send to 50 with the gateway answering every send after 200 ms
(Fault.SLOW, times=None). Wall time runs from queueing the press to the end of the last gateway send (the
sandbox's own record of its service); the ideal is 50 / 4 × 0.2 s = 2.5 s (ceil: 13 rounds, 2.6 s). The
baseline, measured in the same run against the same sandbox: the bare gateway client (`SmskaClient`) making
the same 50 sends 4 at a time, nothing else. Then the batch's message: how often it was edited (at most one a
second), and every message of the bot's own in that chat (edits, the ringing notice) against Telegram's
limits.

5b. In this process, on the virtual clock of section 3: `batches` sends of `size` recipients each pressed
through the real BatchService (all pending all hour: the sandbox delivers after two hours), then the tracker
runs from due time to due time for an hour; its gateway queries against the minimum the back-off allows (per
SMS per interval ≤ 1, as for single sends).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from pathlib import Path
from typing import Any

import httpx

from bench.rig import ADMIN, API_KEY, API_PASSWORD, Servers, wait_calls
from bench.sending import max_overlap
from bench.stats import limit_violations, max_in_window
from bench.tracking import START, in_process, minimum_checks
from bot.devkit.sandbox import Fault
from bot.devkit.telegram import MESSAGE_METHODS
from bot.gateway.client import SmskaClient
from bot.services.batch import BatchService, new_batch
from bot.sms.recipients import Recipient
from bot.ui.batch_texts import BatchNotices

CONCURRENCY = 4  # SEND_CONCURRENCY's default
BATCH_BASE = 7000  # the 5b chats


def numbers(n: int, first: int) -> list[str]:
    return [str(first + i) for i in range(n)]


async def bare_sends(url: str, msisdns: list[str], concurrency: int) -> float:
    """The baseline: the gateway client alone, `concurrency` sends at a time; seconds for all of them."""
    async with httpx.AsyncClient(timeout=10) as http:
        client = SmskaClient(http, url=url, api_key=API_KEY, api_password=API_PASSWORD, timeout=10)
        gate = asyncio.Semaphore(concurrency)

        async def one(msisdn: str) -> None:
            async with gate:
                await client.send(msisdn, "Bench bare batch", "OnCall")

        started = time.monotonic()
        await asyncio.gather(*(one(m) for m in msisdns))
        return time.monotonic() - started


async def run_send(servers: Servers, n: int, latency: float) -> dict[str, Any]:
    telegram, gateway = servers.telegram, servers.gateway
    admin = telegram.user(ADMIN, "Alex", language_code="en")
    targets = numbers(n, 79041770000)
    admin.mark_seen()
    await admin.send("/send " + ", ".join(targets) + " Bench batch: db1 down")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=60)
    if f"✅ Send to {n}" not in preview.button_texts:
        raise RuntimeError(f"the batch preview cannot send: {preview.plain}")
    mark = len(telegram.calls)
    requests = sum(1 for r in gateway.requests if r.action == "send")
    gateway.inject(Fault.SLOW, action="send", times=None, delay=latency)
    try:
        queued = time.monotonic()
        await admin.press(preview, f"✅ Send to {n}")
        await gateway.wait_requests(requests + n, action="send", timeout=60 + n)

        def summary_edit(c: Any) -> bool:
            text = str(c.params.get("text", ""))
            return (
                c.method == "editMessageText"
                and c.params.get("message_id") == preview.message_id
                and ("Sender:" in text)
            )

        [shown] = await wait_calls(telegram, mark, summary_edit, 1, timeout=60)
        arrivals = sorted(r.at for r in gateway.requests if r.action == "send" and r.at >= queued)[:n]
        own_spans = [(at, at + latency) for at in arrivals]  # each send is answered `latency` after it arrived
        last_end, first_start = max(b for _, b in own_spans), min(a for a, _ in own_spans)
        # Every SMS is delivered after the sandbox's delay: the summary keeps itself current, then one notice.
        ring = await wait_calls(
            telegram,
            mark,
            lambda c: c.method == "sendMessage" and str(c.params.get("text", "")).startswith("🔔"),
            1,
            timeout=60 + n,
        )
        # No edit is still on its way: the service edits the batch's message to its final state before it rings
        # (BatchService._board shows each view, then rings when it is all final), and waits for that edit.
        bare = await bare_sends(gateway.url, numbers(n, 79041780000), CONCURRENCY)
    finally:
        gateway.clear_faults()
    window = [c for c in telegram.calls[mark:] if c.method in MESSAGE_METHODS and c.params.get("chat_id") == ADMIN]
    edits = [
        c.time for c in window if c.method == "editMessageText" and c.params.get("message_id") == preview.message_id
    ]
    gaps = [b - a for a, b in itertools.pairwise(edits)]
    wall = last_end - queued
    ideal = n / CONCURRENCY * latency
    return {
        "recipients": n,
        "gateway_latency_s": latency,
        "concurrency": CONCURRENCY,
        "wall_s": wall,
        "press_to_first_send_ms": (first_start - queued) * 1000,
        "ideal_s": ideal,
        "ideal_rounds_s": math.ceil(n / CONCURRENCY) * latency,
        "batch_ideal_ratio": wall / ideal,
        "bare_s": bare,
        "ratio_to_bare": wall / bare,
        "gateway_max_parallel": max_overlap(own_spans),
        "summary_after_s": shown.time - queued,
        "ring_after_s": ring[0].time - queued,
        "edits": len(edits),
        "edits_max_per_s": max_in_window(edits),
        "edits_min_gap_s": min(gaps) if gaps else None,
        "own_messages": len(window),
        "limit_violations": limit_violations(window),
    }


async def run_tracking(servers: Servers, workdir: Path, batches: int, size: int, hours: float) -> dict[str, Any]:
    telegram = servers.telegram
    users = [telegram.user(BATCH_BASE + i, f"B{i}", language_code="en") for i in range(batches)]
    admins = ",".join(str(u.user_id) for u in users)
    rig = await in_process(
        telegram.url, workdir / "batches" / "bot.sqlite3", admins, hours * 7200, hours, operator_parts_per_hour=None
    )
    clock, settings, db, bot, tracker, sending = rig.clock, rig.settings, rig.db, rig.bot, rig.tracker, rig.sending
    notifier, i18n = rig.notifier, rig.i18n
    service = BatchService(
        sending=sending, settings=settings, notifier=notifier, texts=BatchNotices(i18n, settings.delivery_alert_minutes)
    )
    tracker.member_final = service.member_final
    try:
        wall0 = time.monotonic()
        for i, user in enumerate(users):
            recipients = [Recipient(m) for m in numbers(size, 79041800000 + i * 1000)]
            batch = await new_batch(
                db,
                settings,
                user_id=user.user_id,
                chat_id=user.chat_id,
                recipients=recipients,
                text=f"B{i}",
                locale="en",
            )
            assert batch is not None  # no origin: always made
            shown = await bot.send_message(user.chat_id, "preview")
            await db.batches.set_preview(batch.id, shown.message_id)
            press = await service.press(batch.id, user.user_id, shown.message_id)
            if not press.pressed:
                raise RuntimeError(f"batch {i} was not pressed")
        while service._runs:
            await asyncio.gather(*list(service._runs.values()))
        send_wall = time.monotonic() - wall0
        accepted = sum(1 for r in await db.sends.history(user_id=None, limit=batches * size) if r.state == "accepted")
        horizon = START + hours * 3600
        while True:
            await tracker.run_due()
            upcoming = await db.tracking.next_time()
            if upcoming is None or upcoming > horizon:
                break
            clock.now = max(clock.now, upcoming)
        pending = await db.tracking.depth()
        await service.stop()
        await tracker.stop()
    finally:
        await rig.close()
    sms = batches * size
    ideal = sms * minimum_checks(START, horizon, settings.delivery_poll_initial, settings.delivery_poll_max, None)
    return {
        "batches": batches,
        "size": size,
        "sms": sms,
        "accepted": accepted,
        "send_wall_s": send_wall,
        "queries": tracker.queries,
        "minimum_queries": ideal,
        "queries_per_sms_interval": tracker.queries / ideal if ideal else 0.0,
        "still_tracked": pending,
        "board_edits": service.edits,
    }
