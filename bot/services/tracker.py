"""Delivery tracking: a background task driven by the `tracking` table.

Each accepted SMS is queried at `DELIVERY_POLL_INITIAL` after the send, then at intervals doubling up to
`DELIVERY_POLL_MAX`; never more than once per interval. On a final status the operator is told in the chat the
SMS was sent from; after `DELIVERY_TRACK_HOURS` without one, it is reported as unknown and dropped. The queue
lives in SQLite, so tracking resumes after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiogram import Bot

from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.gateway.errors import GatewayError
from bot.services.notifier import Notifier
from bot.sms.status import DeliveryStatus
from bot.storage.db import Database
from bot.storage.models import SendRow, TrackingRow
from bot.tasks import cancelled
from bot.times import Epoch, seconds

if TYPE_CHECKING:
    from bot.services.notices import Notices

log = logging.getLogger(__name__)


class DeliveryTracker:
    def __init__(
        self,
        *,
        db: Database,
        bot: Bot,
        gateway: SmskaClient,
        notices: Notices,
        settings: Settings,
        notifier: Notifier | None = None,
        concurrency: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.notices = notices
        self.settings = settings
        self.notifier = notifier or Notifier(bot)
        self.clock = clock
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._notices: set[asyncio.Task[None]] = set()  # notices waiting for their turn under Telegram's limits
        self.queries = 0  # gateway queries made (benchmarks and tests read it)
        # Called with a send's id when it got a result (sent, failed, unknown, final): the team feed (issue 18).
        self.watchers: list[Callable[[int], None]] = []
        # A batch's recipient is told in its batch's summary, not one notice each: True when it was
        # (bot/services/batch.py sets it).
        self.member_final: Callable[[SendRow], Awaitable[bool]] | None = None
        # Called with (the final status's kind, seconds from "sent" to the final status) when tracking learns a
        # final status: the delivery-time histogram of /metrics (bot/app.py wires it).
        self.finals: list[Callable[[str, float], None]] = []

    def changed(self, send_id: int) -> None:
        for watcher in self.watchers:
            try:
                watcher(send_id)
            except Exception:
                log.exception("a send's watcher failed", extra={"send_id": send_id})

    # --- scheduling ------------------------------------------------------------------------------------
    def schedule_for_new(self) -> tuple[float, float, float]:
        """(first check time, interval, deadline) for an SMS accepted now."""
        now = self.clock()
        initial = self.settings.delivery_poll_initial
        return now + initial, initial, now + self.settings.delivery_track_hours * 3600

    def next_interval(self, interval: float) -> float:
        return min(interval * 2, self.settings.delivery_poll_max)

    def wake(self) -> None:
        self._wake.set()

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="delivery-tracker")

    async def stop(self) -> None:
        if self._task is None:
            await self.wait_notices()
            return
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            await cancelled(task)
        await self.wait_notices()

    async def wait_notices(self, timeout: float = 10.0) -> None:
        """Let notices already decided go out (bounded); the rest stay owed in the database and go out at the
        next start."""
        if not self._notices:
            return
        _, pending = await asyncio.wait(set(self._notices), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d delivery notices not sent before stopping; they go out at the next start", len(pending))

    async def _run(self) -> None:
        try:
            await self._give_owed_notices()
        except Exception:
            log.exception("owed delivery notices could not be read")
        while not self._stopping.is_set():
            # Cleared before the round, not after: a wake() or stop() during the round must not be lost.
            self._wake.clear()
            try:
                await self.run_due()
                wait = await self._seconds_to_next()
            except Exception:  # the database or Telegram hiccuped: try again shortly, never die
                log.exception("delivery tracker round failed")
                wait = 5.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def _seconds_to_next(self) -> float:
        upcoming = await self.db.tracking.next_time()
        if upcoming is None:
            return 3600.0
        return max(0.0, min(3600.0, upcoming - self.clock()))

    async def run_due(self) -> int:
        """Check every SMS whose time has come, a bounded number at a time; returns how many were checked."""
        checked = 0
        while not self._stopping.is_set():
            due = await self.db.tracking.due(self.clock(), limit=self.concurrency)
            if not due:
                break
            await asyncio.gather(*(self._check(row, send) for row, send in due))
            checked += len(due)
        return checked

    # --- one SMS ---------------------------------------------------------------------------------------
    async def _check(self, row: TrackingRow, send: SendRow) -> None:
        if send.gateway_id is None:
            await self.db.tracking.finish(row.send_id, status=None, final=False)
            return
        status: DeliveryStatus | None = None
        self.queries += 1
        try:
            status = await self.gateway.query(send.gateway_id, background=True)
        except GatewayError as exc:
            log.info("delivery query failed: %s", type(exc).__name__, extra={"send_id": send.id})
        now = self.clock()
        pair = None if status is None else (status.code, status.name)
        if status is not None and status.final:
            await self.db.tracking.finish(send.id, status=pair, final=True, notice_owed=True)
            self._notify_later(send, status)
            self.changed(send.id)
            self._observe_final(send, status, now)
        elif now >= row.deadline_at:
            await self.db.tracking.finish(send.id, status=pair, final=False, notice_owed=True)
            self._notify_later(send, None)
            self.changed(send.id)
        else:
            # The gap doubles at every check: +initial, then +2×initial, +4×initial ... up to the maximum.
            interval = self.next_interval(row.interval)
            await self.db.tracking.reschedule(
                send, next_check_at=min(now + interval, row.deadline_at), interval=interval, status=pair
            )

    def _observe_final(self, send: SendRow, status: DeliveryStatus, now: float) -> None:
        if send.sent_at is None:
            return
        taken = max(0.0, now - seconds(send.sent_at))
        for observe in self.finals:
            observe(status.kind.value, taken)

    def _notify_later(self, send: SendRow, status: DeliveryStatus | None) -> None:
        """The notice goes out in its own task: the notifier spaces notices to Telegram's limits (1/s per chat),
        and the round of checks — other operators' SMS — must not wait for that."""
        task = asyncio.create_task(self._notice(send, status), name=f"notice-{send.id}")
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def _notice(self, send: SendRow, status: DeliveryStatus | None) -> None:
        try:
            if self.member_final is None or not await self.member_final(send):
                await self.notify(send, status)
            await self.db.tracking.notice_given(send.id)
        except Exception:
            log.exception("delivery notice failed", extra={"send_id": send.id})

    async def _give_owed_notices(self) -> None:
        """Notices decided before a crash or a stop that never went out: they go now (a second time at worst —
        better than an operator never learning that the SMS was rejected)."""
        for send in await self.db.tracking.owed_notices():
            final = send.final == 1 and send.status_code is not None
            self._notify_later(send, DeliveryStatus(send.status_code or 0, send.status_name or "") if final else None)

    async def locale_for(self, send: SendRow) -> str:
        return await self.db.people.locale_for(send.user_id) or send.locale or self.settings.default_locale

    async def notify(self, send: SendRow, status: DeliveryStatus | None) -> None:
        """Tell the operator: the 'accepted' message is edited to the outcome, and a short reply makes the
        phone ring (an edit alone is silent)."""
        locale = await self.locale_for(send)
        text = self.notices.delivery(locale, send, status, self._now())
        markup = self.notices.delivery_actions(locale, send, status)  # what to do next (issue 17)
        # The message that shows the outcome; the pressed preview when the press has not stored it yet (it will
        # show the outcome there: `settle` puts the final word back if the press's "Sent to" came after this).
        reply_to = send.result_message_id or send.preview_message_id
        if reply_to is not None:
            await self.notifier.edit(send.chat_id, reply_to, text, markup)
        await self.notifier.send(send.chat_id, text, reply_to=reply_to, markup=markup)

    async def settle(self, send: SendRow, message_id: int) -> None:
        """After the press showed "Sent to" on `message_id`: when tracking already ended (the tracker may finish
        before the press's handler does), the message shows the final word again, never "Sent to" after
        "delivered". Tracking that ends later edits the message itself (`notify`). `send`: the row as written
        after "Sent to" was shown."""
        if send.state != "accepted" or send.final_at is None:
            return
        final = send.final == 1 and send.status_code is not None
        status = DeliveryStatus(send.status_code or 0, send.status_name or "") if final else None
        locale = await self.locale_for(send)
        text = self.notices.delivery(locale, send, status, send.final_at)
        await self.notifier.edit(send.chat_id, message_id, text, self.notices.delivery_actions(locale, send, status))

    def _now(self) -> Epoch:
        return int(self.clock())
