"""A named lease in the database: one holder at a time, until an expiry kept by the database's clock.

Why a row and not a session advisory lock: an advisory lock lives as long as its connection does in the
server's eyes. When the holder's machine or network goes away without closing it, the server may hold the lock
for minutes (until TCP gives up), and nobody takes over; when the server restarts, the lock is free at once
while the old holder still believes it has it. A row with an expiry bounds both: the others take it once it
expired (within `FAILOVER_SECONDS`), and the holder knows, on its own clock, the last moment it may act
(bot/replicas/leadership.py). The row is written on a connection of the lease's own, so a busy store (its one
connection and lock) never delays a renewal.

Moments are epoch seconds (INTEGER, bot.times) of the database server's clock: replicas whose clocks differ
still agree on when a lease expired. The expiry is rounded up, which only makes the holder's own deadline
(measured from before the statement was sent) come earlier than the one the others see.
"""

from __future__ import annotations

import os
import secrets
import socket

from bot.storage.store import Statements

TAKE = """INSERT INTO leases (name, holder, expires_at, taken_at)
     VALUES (?, ?, CAST(CEIL(EXTRACT(EPOCH FROM clock_timestamp()) + CAST(? AS DOUBLE PRECISION)) AS BIGINT),
             CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp())) AS BIGINT))
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
       taken_at = CASE WHEN leases.holder = excluded.holder THEN leases.taken_at ELSE excluded.taken_at END
     WHERE leases.holder = excluded.holder OR leases.expires_at < EXTRACT(EPOCH FROM clock_timestamp())
     RETURNING holder"""


def replica_id() -> str:
    """This process among the replicas: host, pid and a random part (a pid is reused across containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


#: The holders of this process's leaderships that are running (bot/replicas/leadership.py adds and removes).
LIVE_HERE: set[str] = set()


def dead_here(holder: str) -> bool:
    """A holder on this very host whose process is gone (a crash, then a restart of the same container or
    machine): its lease need not be waited out. Its pid is ours (a container's bot restarted as the same pid)
    or no longer running."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():  # this process: dead unless one of its leaderships holds it (tests run several)
        return holder not in LIVE_HERE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists (another user's): alive
        return False
    return False


class Leases:
    """Take, renew and release named leases; `statements` is a connection of the leases' own (PostgreSQL)."""

    def __init__(self, statements: Statements) -> None:
        self.statements = statements

    async def take(self, name: str, holder: str, seconds: float) -> bool:
        """Take the lease (free or expired) or renew it (ours) for `seconds`; False while another holds it."""
        row = await self.statements.row(TAKE, (name, holder, seconds))
        return row is not None

    async def take_from(self, name: str, dead: str, holder: str, seconds: float) -> bool:
        """Take the lease from `dead` (a holder known to be gone), only if it still holds it."""
        row = await self.statements.row(
            """UPDATE leases SET holder = ?, expires_at = CAST(CEIL(EXTRACT(EPOCH FROM clock_timestamp())
                 + CAST(? AS DOUBLE PRECISION)) AS BIGINT), taken_at = CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp())) AS BIGINT)
               WHERE name = ? AND holder = ? RETURNING holder""",
            (holder, seconds, name, dead),
        )
        return row is not None

    async def holders(self, prefix: str) -> list[str]:
        """Holders of the unexpired leases whose name starts with `prefix`."""
        rows = await self.statements.rows(
            "SELECT holder FROM leases WHERE name LIKE ? AND expires_at >= EXTRACT(EPOCH FROM clock_timestamp())",
            (prefix + "%",),
        )
        return [str(r[0]) for r in rows]

    async def forget_expired(self, prefix: str, older_than: float) -> None:
        """Leases of `prefix` expired more than `older_than` seconds ago (replicas long gone) are deleted."""
        await self.statements.rows(
            "DELETE FROM leases WHERE name LIKE ? AND expires_at < EXTRACT(EPOCH FROM clock_timestamp()) - CAST(? AS DOUBLE PRECISION)",
            (prefix + "%", older_than),
        )

    async def release(self, name: str, holder: str) -> None:
        """Give it up at once (a clean stop): another replica takes it at its next try."""
        await self.statements.rows("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def holder(self, name: str) -> str | None:
        """Who holds it now (None when free or expired)."""
        holder = await self.statements.scalar(
            "SELECT holder FROM leases WHERE name = ? AND expires_at >= EXTRACT(EPOCH FROM clock_timestamp())", (name,)
        )
        return None if holder is None else str(holder)

    async def close(self) -> None:
        await self.statements.close()

    async def reset(self) -> None:
        """Drop the connection (after a statement was cut short); the next statement connects again."""
        drop = getattr(self.statements, "_drop", None)
        if drop is not None:
            await drop()
