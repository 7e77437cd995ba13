"""Section 3 — the cost of delivery tracking: `tracking_sms` pending SMS over a simulated hour.

In this process, on a virtual clock shared by the DeliveryTracker and a SandboxGateway (both take `clock=`):
the SMS are sent through the real SendingService over HTTP to the sandbox, spread over the first 100
virtual seconds, with the production defaults (DELIVERY_POLL_INITIAL 10 s doubling up to DELIVERY_POLL_MAX
300 s). One in 20 is delivered after 10 virtual minutes (a notice to its chat, through the real Notifier);
the rest stay 3|ACCEPTD all hour. The clock then jumps from one due time to the next — what the tracker's own
loop would sleep — and `tracker.run_due()` runs at each, until the hour is over.

Reported: gateway queries (the tracker's counter, checked against the sandbox's request log) against the
minimum the back-off allows — per SMS, checks at +initial, then at gaps doubling from 2×initial up to the
maximum, counted up to the hour's end (or the first check after delivery) — CPU seconds of this process
(tracker, SQLite, HTTP client, and the sandbox it talks to), and queries per SMS per interval (target ≤ 1).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiogram import Bot
from aiogram.utils.i18n import I18n

from bench.rig import API_KEY, API_PASSWORD, DELIVERED, NEVER_FINAL, TOKEN, Servers
from bench.stats import limit_violations
from bot.app import make_bot
from bot.config import Settings
from bot.devkit.sandbox import SandboxGateway
from bot.gateway.client import SmskaClient
from bot.i18n import make_i18n
from bot.services.notifier import Notifier
from bot.services.sending import SendingService
from bot.services.tracker import DeliveryTracker
from bot.storage.db import Database
from bot.ui.notices import Notices

TRACK_BASE = 6000
CHATS = 50
DELIVERED_EVERY = 20
DELIVERY_DELAY = 600.0
SPREAD = 100.0
START = 1_800_000_000.0  # a fixed epoch second: the virtual clock's zero


class VirtualClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def minimum_checks(start: float, end: float, initial: float, maximum: float, final_at: float | None) -> int:
    """Checks the back-off allows for one SMS accepted at `start`, up to `end`: at start+initial, then gaps of
    2×initial, 4×initial ... capped at `maximum`; none after the first check at or after `final_at`."""
    count = 0
    at, gap = start + initial, initial
    while at <= end:
        count += 1
        if final_at is not None and at >= final_at:
            break
        gap = min(gap * 2, maximum)
        at += gap
    return count


@dataclass
class InProcess:
    """The bot's tracking and sending parts in this process, on a virtual clock shared with a sandbox gateway."""

    clock: VirtualClock
    sandbox: SandboxGateway
    settings: Settings
    db: Database
    bot: Bot
    http: httpx.AsyncClient
    i18n: I18n
    notifier: Notifier
    tracker: DeliveryTracker
    sending: SendingService

    async def close(self) -> None:
        await self.http.aclose()
        await self.bot.session.close()
        await self.db.close()
        await self.sandbox.stop()


async def in_process(
    telegram_url: str, db_path: Path, admin_ids: str, delivery_delay: float, hours: float, **overrides: Any
) -> InProcess:
    """Production defaults (polls, back-off), except a tracking window that outlasts the bench (no "unknown")."""
    clock = VirtualClock()
    sandbox = SandboxGateway(
        api_key=API_KEY, api_password=API_PASSWORD, delivery_delay=delivery_delay, senders=("OnCall",), clock=clock
    )
    sandbox.balance = sandbox.balance * 1000
    await sandbox.start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        telegram_api_url=telegram_url,
        smska_url=sandbox.url,
        smska_api_key=API_KEY,
        smska_api_password=API_PASSWORD,
        smska_sender_ids="OnCall",
        database_path=str(db_path),
        admin_ids=admin_ids,
        default_locale="en",
        delivery_track_hours=max(hours, 1.0) * 2,
        **overrides,
    )
    url = settings.database_url.get_secret_value() if settings.database_url else None
    db = await Database.connect(settings.database_path, url)
    bot, _ = make_bot(settings)
    http = httpx.AsyncClient(timeout=settings.smska_timeout)
    gateway = SmskaClient(
        http,
        url=settings.smska_url,
        api_key=settings.smska_api_key,
        api_password=settings.smska_api_password,
        timeout=settings.smska_timeout,
    )
    i18n = make_i18n("en")
    notices = Notices(i18n, settings)
    notifier = Notifier(bot)
    tracker = DeliveryTracker(
        db=db, bot=bot, gateway=gateway, notices=notices, settings=settings, notifier=notifier, clock=clock
    )
    sending = SendingService(db=db, bot=bot, gateway=gateway, notices=notices, settings=settings, tracker=tracker)
    return InProcess(clock, sandbox, settings, db, bot, http, i18n, notifier, tracker, sending)


async def run(servers: Servers, workdir: Path, n: int, hours: float, database_url: str | None = None) -> dict[str, Any]:
    telegram = servers.telegram
    users = [telegram.user(TRACK_BASE + i, f"T{i}", language_code="en") for i in range(CHATS)]
    engine = {"database_url": database_url} if database_url else {}
    rig = await in_process(telegram.url, workdir / "tracking" / "bot.sqlite3", "1001", DELIVERY_DELAY, hours, **engine)
    clock, sandbox, settings, db = rig.clock, rig.sandbox, rig.settings, rig.db
    tracker, sending = rig.tracker, rig.sending
    mark = len(telegram.calls)
    try:
        cpu0, wall0 = time.process_time(), time.monotonic()
        starts: list[tuple[float, bool]] = []
        for i in range(n):
            clock.now = START + SPREAD * i / n
            await tracker.run_due()  # what came due while the SMS were being sent
            user = users[i % CHATS]
            delivered = i % DELIVERED_EVERY == 0
            draft = await sending.create_draft(
                user_id=user.user_id,
                chat_id=user.chat_id,
                msisdn=DELIVERED if delivered else NEVER_FINAL,
                text=f"Tracking bench {i}",
                locale="en",
            )
            outcome = await sending.confirm(draft.id, user.user_id)
            if outcome.row.state != "accepted":
                raise RuntimeError(f"send {i} was not accepted: {outcome.row.state}")
            starts.append((clock.now, delivered))
        send_cpu = time.process_time() - cpu0
        q0, r0 = tracker.queries, len(sandbox.requests)
        cpu1 = time.process_time()
        horizon = START + hours * 3600
        rounds = 0
        while True:
            await tracker.run_due()
            rounds += 1
            upcoming = await db.tracking.next_time()
            if upcoming is None or upcoming > horizon:
                break
            clock.now = max(clock.now, upcoming)
        track_cpu = time.process_time() - cpu1
        wall = time.monotonic() - wall0
        queries = tracker.queries  # all of them, including those made during the sending phase
        seen = sum(1 for r in sandbox.requests if r.action == "query")
        pending = await db.tracking.depth()
        await tracker.stop()  # the notices it decided go out
    finally:
        await rig.close()
    initial, maximum = settings.delivery_poll_initial, settings.delivery_poll_max
    ideal = sum(
        minimum_checks(s, horizon, initial, maximum, s + DELIVERY_DELAY if delivered else None)
        for s, delivered in starts
    )
    notices = [c for c in telegram.calls[mark:] if c.method in ("sendMessage", "editMessageText")]
    return {
        "sms": n,
        "delivered": sum(1 for _, d in starts if d),
        "simulated_hours": hours,
        "poll_initial_s": initial,
        "poll_max_s": maximum,
        "queries": queries,
        "queries_seen_by_gateway": seen,
        "queries_after_sending": tracker.queries - q0,
        "requests_after_sending": len(sandbox.requests) - r0,
        "minimum_queries": ideal,
        "queries_per_sms_interval": queries / ideal if ideal else 0.0,
        "queries_per_sms": queries / n,
        "still_tracked": pending,
        "rounds": rounds,
        "cpu_s": track_cpu,
        "cpu_send_phase_s": send_cpu,
        "cpu_ms_per_query": 1000 * track_cpu / max(1, tracker.queries - q0),
        "wall_s": wall,
        "notices": len(notices),
        "notice_violations": limit_violations(notices),
    }
