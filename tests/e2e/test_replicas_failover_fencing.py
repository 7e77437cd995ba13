"""Issue 27, point 5: fencing. A leader that loses the database stops its work on its own clock *before* its
lease can expire for the others, so a standby never starts while the old leader still works; and the standby
takes over within FAILOVER_SECONDS. Two real `Leadership`s on one real PostgreSQL database, in one process (one
clock to compare their moments); the leader's database is taken away by pointing its connection at a closed
port."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from bot.replicas.leadership import Leadership
from bot.replicas.lease import Leases
from bot.storage.db import Database
from bot.storage.postgres import PgStatements
from tests.support.replicas import pg_url

__all__ = ["pg_url"]

FAILOVER = 3.0


def leadership(url: str, name: str, log: list[tuple[str, str, float]], gained: asyncio.Event) -> Leadership:
    lead = Leadership(Leases(PgStatements(url, None)), FAILOVER, holder=f"elsewhere:{name}")

    async def gain() -> None:
        log.append((name, "gain", time.monotonic()))
        gained.set()

    async def lose() -> None:
        log.append((name, "lose", time.monotonic()))

    lead.gain, lead.lose = gain, lose
    return lead


async def test_a_leader_that_loses_the_database_stops_before_a_standby_starts(pg_url: str) -> None:
    await (await Database.open_postgres(pg_url)).close()  # the schema, as a replica's start-up makes it
    log: list[tuple[str, str, float]] = []
    b_leads = asyncio.Event()
    a, b = leadership(pg_url, "a", log, asyncio.Event()), leadership(pg_url, "b", log, b_leads)
    try:
        await a.begin()
        await b.begin()
        assert (a.role, b.role) == ("leader", "standby")
        statements = a.leases.statements if a.leases else None
        assert isinstance(statements, PgStatements)
        statements.url = pg_url.replace(f":{urlsplit(pg_url).port}/", ":9/")  # its database is gone
        cut = time.monotonic()
        await statements._drop()
        await asyncio.wait_for(b_leads.wait(), FAILOVER + 2)
        (_, _, a_lost), (_, _, b_gained) = next(e for e in log if e[1] == "lose"), log[-1]
        assert log[-1][:2] == ("b", "gain")
        assert a_lost < b_gained, f"the old leader stopped {a_lost - b_gained:.2f}s after the new one started"
        assert a_lost - cut <= FAILOVER / 3 + 0.3  # its deadline: F/3 after its last renewal
        assert b_gained - cut < FAILOVER
        assert a.role == "standby"
        statements.url = pg_url  # the database is back: it stays a standby, the lease is b's
        for _ in range(3):
            await a.step()
        assert (a.role, b.role) == ("standby", "leader")
    finally:
        await a.stop()
        await b.stop()
