"""Who is the leader: the one replica that polls Telegram and does the bot's own work.

Timing, with F = FAILOVER_SECONDS:
- every replica tries to take or renew the lease every F/6 seconds; the lease is written for F/2 seconds;
- the leader's own deadline is F/3 after the moment it *sent* its latest successful renewal, measured on its
  monotonic clock: past it, it stops polling and its own work, though nobody may have taken over yet. The
  others see the lease expire no earlier than F/2 after that moment, so the old leader has stopped (F/6
  earlier) before anyone can start: a replica that lost the database only for a moment never works beside
  its successor;
- a leader that dies leaves a lease that expires within F/2 (+1 s of rounding); a standby takes it at its next
  try (F/6): take-over within about 2F/3 + 1 s. A leader that stops releases the lease, so a standby takes over
  within F/6.

One process on SQLite is always the leader (`Leadership(None, ...)`).

A leader fenced because the database did not answer (`unreachable`) is told so by `lose` like any other: the
runner then keeps polling Telegram only to answer operators in words (bot/replicas/poller.py, outage mode), and
stops that at the first round the database answers again (`reached`), as the leader again or as a standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.replicas.lease import LIVE_HERE, Leases, dead_here, replica_id
from bot.tasks import cancelled

log = logging.getLogger(__name__)

LEADER = "leader"
FORGET_AFTER = 3600.0  # seconds after its expiry a replica's own lease is deleted
ALIVE = "replica:"  # + holder: each replica's own lease, renewed beside the leader's: who else is alive


async def _nothing() -> None:
    return None


class Leadership:
    def __init__(self, leases: Leases | None, failover: float, *, name: str = LEADER, holder: str | None = None):
        self.leases = leases  # None: SQLite, one process, always the leader
        self.failover = failover
        self.name = name
        self.holder = holder or replica_id()
        self.leader = leases is None
        #: Called on becoming the leader (start the work) and on ceasing to be (stop it); set by bot.runners.
        self.gain: Callable[[], Awaitable[None]] = _nothing
        self.lose: Callable[[], Awaitable[None]] = _nothing
        #: Called after each round in which the database answered (before becoming the leader, if it does).
        self.reached: Callable[[], Awaitable[None]] = _nothing
        #: Whether the latest round could not reach the database (read by `lose`: fenced by an outage).
        self.unreachable = False
        #: Told how many replicas are alive (their own leases), at every round (Telegram's budget is shared).
        self.alive: Callable[[int], None] | None = None
        self._deadline = 0.0  # monotonic: past it, a leader that could not renew stops
        self._task: asyncio.Task[None] | None = None
        self._transition = asyncio.Lock()

    @property
    def role(self) -> str:
        return "leader" if self.leader else "standby"

    @property
    def period(self) -> float:
        return self.failover / 6

    @property
    def ttl(self) -> float:
        return self.failover / 2

    @property
    def fence(self) -> float:
        return self.ttl - self.period

    async def begin(self) -> None:
        """At start-up: a first try at once (one process alone becomes the leader before its first update),
        then a try every F/6 in the background."""
        if self.leases is None or self._task is not None:
            return
        LIVE_HERE.add(self.holder)
        await self.step()
        self._task = asyncio.create_task(self._run(), name="leadership")

    async def _run(self) -> None:
        while True:
            pause = self.period
            if self.leader:
                pause = max(0.0, min(pause, self._deadline - time.monotonic()))
            await asyncio.sleep(pause)
            try:
                await self.step()
            except Exception:  # never leave the loop: a leader must keep renewing or stop
                log.exception("leadership round failed")

    async def step(self) -> None:
        """One round: take or renew the lease; become the leader, or stop being it (lost, or not renewed in
        time)."""
        assert self.leases is not None
        started = time.monotonic()
        budget = max(0.05, self._deadline - started) if self.leader else self.period * 2
        held: bool | None
        try:
            held = await asyncio.wait_for(self._take(), budget)
        except TimeoutError:
            held = None
            await self.leases.reset()  # a statement cut short leaves its connection unusable
            log.warning("the lease could not be renewed: the database did not answer in time")
        except Exception as exc:
            held = None
            log.warning("the lease could not be renewed: %s", str(exc).splitlines()[0][:200] if str(exc) else exc)
        self.unreachable = held is None
        if held is not None:
            try:
                await self.reached()
            except Exception:
                log.exception("could not end the outage mode")
        if held:
            self._deadline = started + self.fence
            if not self.leader:
                await self._become(True)
        elif held is False and self.leader:
            log.error("another replica holds the leadership lease: stopping this one's work")
            await self._become(False)
        if self.alive is not None and held is not None:
            try:
                holders = await asyncio.wait_for(self.leases.holders(ALIVE), self.period)
                # This host's replicas that are gone (this one's own run before a restart) send nothing more:
                # counted, they would halve the restarted bot's Telegram budget until their lease ran out.
                self.alive(len([h for h in holders if h == self.holder or not dead_here(h)]))
            except Exception as exc:  # the last count stands until the next round
                log.info("could not count the replicas alive: %s", type(exc).__name__)
                if isinstance(exc, TimeoutError):
                    await self.leases.reset()
        if self.leader and time.monotonic() >= self._deadline:
            log.warning("leadership lease not renewed in time: stopping polling and background work (fencing)")
            await self._become(False)

    async def _take(self) -> bool:
        assert self.leases is not None
        await self.leases.take(ALIVE + self.holder, self.holder, self.ttl)
        if await self.leases.take(self.name, self.holder, self.ttl):
            if not self.leader:  # now and then: the own leases of replicas long gone are forgotten
                await self.leases.forget_expired(ALIVE, FORGET_AFTER)
            return True
        holder = await self.leases.holder(self.name)
        if holder is not None and dead_here(holder):  # this replica's own previous run, crashed: no wait
            log.info("the lease's holder %s died on this host: taking over at once", holder)
            return await self.leases.take_from(self.name, holder, self.holder, self.ttl)
        return False

    async def others_alive(self) -> bool:
        """Whether another replica (not a dead one of this host) renewed its own lease lately: it may have a
        send in flight. False on SQLite."""
        if self.leases is None:
            return False
        holders = await self.leases.holders(ALIVE)
        return any(h != self.holder and not dead_here(h) for h in holders)

    async def _become(self, leader: bool) -> None:
        async with self._transition:
            if self.leader == leader:
                return
            self.leader = leader
            started = time.monotonic()
            if leader:
                log.warning("this replica is the leader now (%s)", self.holder)
                try:
                    await self.gain()
                except Exception:
                    log.exception("could not start the leader's work; giving the lead up")
                    self.leader = False
                    with contextlib.suppress(Exception):
                        await self.lose()
                    await self._release()
                    return
            else:
                log.warning("this replica is a standby now (%s)", self.holder)
                await self.lose()
            log.info("leadership change took %.2fs", time.monotonic() - started)

    async def stop(self) -> None:
        """A clean stop: the work stops, and the lease is released so that a standby takes over at once."""
        task, self._task = self._task, None
        if task is not None:
            await cancelled(task)
        if self.leases is None:
            return
        LIVE_HERE.discard(self.holder)
        self.unreachable = False  # a stop is no outage: nothing polls on
        if self.leader:
            await self._become(False)
            await self._release()  # its own "alive" lease stays until it expires: sends may still be draining
        await self.leases.close()

    async def _release(self) -> None:
        assert self.leases is not None
        try:
            await asyncio.wait_for(self.leases.release(self.name, self.holder), self.period * 2)
        except Exception as exc:  # it expires on its own
            log.warning("could not release the lease (it expires by itself): %s", type(exc).__name__)
