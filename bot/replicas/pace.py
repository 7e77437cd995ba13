"""Telegram's limits for the bot as a whole, when several replicas talk to Telegram (PostgreSQL; issue 27 point 4).

- **Overall** (about 30 messages a second for the bot): each replica's `RateLimiter` takes `overall / N`, N the
  replicas alive by their own leases (`leases`, `replica:<holder>`), re-read by the leadership loop every
  `FAILOVER_SECONDS`/6. A replica that joins counts itself at once; the others learn of it within that period
  (the 25 a second the limiter aims at leaves Telegram's 30 as the margin for it).
- **One chat** (about one message a second): a chat's next moment is shared in the `kv` table under
  `pace:<chat>`, by the database's clock: one statement reserves the chat's next slot, at least `per_chat` +
  `MARGIN` after the slot before it whichever replica took that one, and says how long to wait for it. Within
  one replica the limiter also spaces each call from the end of the previous one.
  When the database does not answer (a second at most), the call goes by the replica's own spacing alone.
SQLite (one process) has none of this.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bot.storage.store import Statements

log = logging.getLogger(__name__)

MARGIN = 0.2  # seconds added to a chat's spacing across replicas: slots are starts, and a call takes its time
TIMEOUT = 1.0  # seconds a reservation may take before the call goes by this replica's spacing alone
PRUNE_EVERY = 500  # reservations between two prunings of chats quiet for a minute
QUIET_AFTER = 60.0

RESERVE = """INSERT INTO kv (key, value) VALUES (?, CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS TEXT))
  ON CONFLICT (key) DO UPDATE SET value = CAST(GREATEST(
      CAST(kv.value AS DOUBLE PRECISION) + CAST(? AS DOUBLE PRECISION),
      CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)) AS TEXT)
  RETURNING CAST(value AS DOUBLE PRECISION) - CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"""


class SharedPace:
    """A chat's slots shared by the replicas, on a connection of its own (`statements`)."""

    def __init__(self, statements: Statements, per_chat: float) -> None:
        self.statements = statements
        self.spacing = per_chat + MARGIN
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._since_prune = 0
        self._quiet_until = 0.0

    async def delay(self, chat_id: int) -> float:
        """Reserve this chat's next slot; the seconds to wait for it (0 when the database does not answer)."""
        if time.monotonic() < self._quiet_until:
            return 0.0
        try:
            async with asyncio.timeout(TIMEOUT), self._lock:
                wait = await self.statements.scalar(RESERVE, (f"pace:{chat_id}", self.spacing))
                self._since_prune += 1
                if self._since_prune >= PRUNE_EVERY:
                    self._since_prune = 0
                    await self.statements.rows(
                        "DELETE FROM kv WHERE key LIKE 'pace:%' AND CAST(value AS DOUBLE PRECISION)"
                        " < EXTRACT(EPOCH FROM clock_timestamp()) - CAST(? AS DOUBLE PRECISION)",
                        (QUIET_AFTER,),
                    )
        except Exception as exc:  # the limits are kept by this replica's own spacing meanwhile
            self._quiet_until = time.monotonic() + 5.0
            log.warning("could not share a chat's pace with the other replicas: %s", type(exc).__name__)
            if isinstance(exc, TimeoutError):
                await self.reset()
            return 0.0
        return max(0.0, float(wait or 0.0))

    async def reset(self) -> None:
        drop = getattr(self.statements, "_drop", None)
        if drop is not None:
            await drop()

    async def close(self) -> None:
        await self.statements.close()
