"""Sends left in `sending` by a replica that died (PostgreSQL, several replicas).

One process finds them at start-up (`SendingService.recover`). With replicas, the leader cannot tell at
take-over whether a `sending` row belongs to a dead replica or to a live one whose gateway call is still running,
so it waits until the row is older than any gateway call can last (`SEND_DEADLINE` after the press): then its
replica certainly died, and the send becomes `unknown` — never resent — and its operator is told. A replica that
dies while another leads is covered the same way: the leader looks every `every` seconds.
"""

from __future__ import annotations

import asyncio
import logging

from bot.services.sending import SendingService
from bot.tasks import cancelled
from bot.times import now

log = logging.getLogger(__name__)

MARGIN = 5.0  # seconds beyond the gateway client's whole budget


class Orphans:
    def __init__(self, sending: SendingService, deadline: float, every: float) -> None:
        self.sending = sending
        self.deadline = deadline
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def sweep(self) -> int:
        rows = await self.sending.recover(claimed_before=now() - self.deadline)
        if rows:
            log.warning("%d send(s) of a replica that died are now unknown", len(rows))
            self.sending.start_telling()
        return len(rows)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="orphan-sends")

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("sends of dead replicas not checked (%s); trying again later", type(exc).__name__)
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancelled(task)
