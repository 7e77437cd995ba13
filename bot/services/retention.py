"""Retention: nothing the bot keeps grows without bound. Swept at start-up and then every hour.

- RETENTION_DAYS set: after it, a send's text and number are erased everywhere they were kept — the send log
  (who sent it, when and its outcome stay), sends to several recipients, the team feed's lines, guided steps
  left untouched — and the rest that grows (alert groups, feed lines, audit rows, decided access requests,
  batches, the watchdog's notices, resend links, remembered update ids) is deleted at
  the same age.
- RETENTION_DAYS unset: the send log is kept; what holds no send of the log is deleted after 90 days
  (`KEEP_DAYS`). Resolved alert groups go after 7 days either way (`RESOLVED_ALERT_DAYS`).

Nothing is deleted while it can still change or is owed to someone (bot/storage/retention.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from bot.storage.db import Database
from bot.tasks import cancelled
from bot.times import Epoch, epoch

log = logging.getLogger(__name__)

SWEEP_EVERY = 3600.0
KEEP_DAYS = 90.0  # RETENTION_DAYS unset: rows that hold no send of the log go after this many days
RESOLVED_ALERT_DAYS = 7.0
UPDATE_IDS_DAYS = 2.0  # remembered update ids are kept at least this long, whatever RETENTION_DAYS says


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Swept:
    """What one sweep did: sends whose text and number were erased, and rows deleted per table."""

    erased: int = 0
    deleted: dict[str, int] = field(default_factory=dict)


def iso(moment: datetime) -> Epoch:
    """As every `*_at` column is written (bot.storage.store.utcnow): epoch seconds, compared as numbers."""
    return epoch(moment)


class Retention:
    def __init__(self, *, db: Database, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self.db = db
        self.days = settings.retention_days
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> Swept:
        """Erase and delete what is too old now (by `clock`)."""
        now = self.clock()
        keep = iso(now - timedelta(days=self.days if self.days is not None else KEEP_DAYS))
        erased = 0
        if self.days is not None:
            erased = await self.db.sends.erase_older_than(keep)
            await self.db.batches.erase_older_than(keep)  # sends to several recipients: their list and text too
        gone = self.db.retention
        deleted = {
            # Guided steps keep the text typed so far: with RETENTION_DAYS it goes with the send log's.
            "fsm_states": await self.db.fsm.forget_older_than(keep),
            "feed_lines": await gone.feed_lines(keep),
            "alert_groups": await gone.alert_groups(
                resolved_before=iso(now - timedelta(days=RESOLVED_ALERT_DAYS)), received_before=keep
            ),
            "alert_messages": await gone.alert_messages(),
            "audit_log": await gone.audit_log(keep),
            "access_requests": await gone.access_requests(keep),
            # A pressed batch is part of the send log: kept unless RETENTION_DAYS says otherwise.
            "batches": await gone.batches(keep, sent_too=self.days is not None),
            "delivery_alerts": await gone.delivery_alerts(keep),
            "resends": await gone.resends(keep),
            # Never fewer than two days: Telegram redelivers an update for up to a day.
            "seen_updates": await gone.seen_updates(min(keep, iso(now - timedelta(days=UPDATE_IDS_DAYS)))),
        }
        if erased:
            log.info("erased the text and number of %d sends older than RETENTION_DAYS", erased)
        if any(deleted.values()):
            log.info("retention: deleted %s", ", ".join(f"{n} {table}" for table, n in deleted.items() if n))
        return Swept(erased=erased, deleted=deleted)

    async def start(self) -> None:
        """The first sweep before the first update, then one an hour in the background."""
        await self.sweep()
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                await self.sweep()
            except Exception:
                log.exception("the retention sweep failed; trying again in an hour")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancelled(task)
