"""The watchdog (issue 17): one ringing notice when an accepted SMS is still not final DELIVERY_ALERT_MINUTES
after it was accepted, with 🔍 Check now and 📨 Send again. Tracking goes on: a final status later gets its usual
notice. Once per SMS, across restarts (`delivery_alerts`, see bot.storage.results). Sends of a batch are left to
the batch's own watchdog.

It sleeps until the earliest SMS that can be due is due: an SMS accepted after it looked is due no earlier than
DELIVERY_ALERT_MINUTES from then, so it never needs waking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.services.tracker import DeliveryTracker
from bot.storage.db import Database
from bot.storage.models import SendRow
from bot.tasks import cancelled
from bot.times import seconds

if TYPE_CHECKING:
    from bot.services.notices import Notices

log = logging.getLogger(__name__)

BATCH = 50  # SMS alerted in one round
FLOOR = 0.05  # seconds: the shortest sleep between rounds
RETRY = 5.0  # seconds after a failed round (the database or Telegram hiccuped) before the next


class Watchdog:
    def __init__(
        self,
        *,
        db: Database,
        tracker: DeliveryTracker,
        notices: Notices,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.tracker = tracker
        self.notices = notices
        self.settings = settings
        self.clock = clock
        self.retry = RETRY  # tests set it small
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.alerts = 0  # notices given (tests read it)

    @property
    def window(self) -> float:
        """DELIVERY_ALERT_MINUTES in seconds."""
        return self.settings.delivery_alert_minutes * 60

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="delivery-watchdog")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            await cancelled(task)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                # Owed first: decided before a crash or a stop, or when Telegram could not be reached last round.
                await self.give_owed()
                await self.run_due()
                wait = await self.seconds_to_next()
            except Exception:  # the database or Telegram hiccuped: try again shortly, never die
                log.exception("watchdog round failed")
                wait = self.retry
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, FLOOR)):
                    await self._stopping.wait()

    async def seconds_to_next(self) -> float:
        earliest = await self.db.results.next_overdue()
        if earliest is None:
            return self.window
        due = seconds(earliest) + self.window
        return min(self.window, max(0.0, due - self.clock()))

    async def run_due(self) -> int:
        """Alert every SMS that is due; returns how many notices were given."""
        given = 0
        while not self._stopping.is_set():
            cutoff = int(self.clock() - self.window)
            due = await self.db.results.overdue(cutoff, limit=BATCH)
            if not due:
                break
            for send in due:
                # Decided and recorded as given before it is told: one notice per SMS even when two rounds (or a
                # restart) overlap, and a database that cannot write afterwards never makes it ring again; an SMS
                # that became final meanwhile is no longer tracked and is not decided.
                if await self.db.results.decide_alert(send.id):
                    await self._alert(send)
                    given += 1
        return given

    async def give_owed(self) -> int:
        """Notices owed (one a stop cut short) go now, unless the SMS became final (its delivery notice says the
        rest); each is taken (recorded as given) before it is sent."""
        given = 0
        for send in await self.db.results.owed_alerts():
            if not await self.db.results.take_owed(send.id) or send.final_at is not None:
                continue
            await self._alert(send)
            given += 1
        return given

    async def _alert(self, send: SendRow) -> None:
        """Tell the operator; the notice is already recorded as given."""
        locale = await self.tracker.locale_for(send)
        notice = self.notices.watchdog(locale, send)
        reply_to = send.result_message_id or send.preview_message_id
        try:
            # A new message, not an edit: it makes the phone ring.
            sent = await self.tracker.notifier.send(send.chat_id, notice.text, reply_to=reply_to, markup=notice.markup)
        except BaseException:
            with contextlib.suppress(Exception):  # cut short (a stop): owed again, if the database still writes
                await self.db.results.alert_owed(send.id)
            raise
        self.alerts += 1
        log.info(
            "watchdog: SMS not final after %g min", self.settings.delivery_alert_minutes, extra={"send_id": send.id}
        )
        try:
            await self.db.results.alert_sent(send.id, sent)
        except Exception:  # the notice went out and is recorded as given: only its message id is not kept
            log.exception("watchdog: could not record the notice's message", extra={"send_id": send.id})
