"""RETENTION_DAYS: the send log forgets texts and numbers after a while; who sent what when, and its outcome,
stay. Swept at start-up and then every hour."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from bot.storage.db import Database

log = logging.getLogger(__name__)

SWEEP_EVERY = 3600.0


class Retention:
    def __init__(self, *, db: Database, settings: Settings) -> None:
        self.db = db
        self.days = settings.retention_days
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> int:
        """Erase what is older than RETENTION_DAYS now; how many sends were erased (0 when it is unset)."""
        if self.days is None:
            return 0
        cutoff = (datetime.now(UTC) - timedelta(days=self.days)).isoformat(timespec="seconds")
        erased = await self.db.sends.erase_older_than(cutoff)
        await self.db.batches.erase_older_than(cutoff)  # sends to several recipients: their list and text too
        if erased:
            log.info("erased the text and number of %d sends older than RETENTION_DAYS", erased)
        return erased

    async def start(self) -> None:
        """The first sweep before the first update, then one an hour in the background."""
        if self.days is None:
            return
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
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
