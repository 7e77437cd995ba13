"""PostgreSQL: what a replica remembers of people, operators and guided steps (bot/storage/freshness.py).

Two `Database`s on one PostgreSQL database are two replicas' sessions. At each update a replica reads the other
sessions' write stamps in one statement and forgets its caches only when another session wrote: `/deny` made
through one session refuses at the next update of the other, a step written by one is the step the other reads,
and a replica's own writes (a guided flow on it) cost it no re-reads. The bot's own trip counts:
tests/e2e/test_e2e_send.py; the promises with real replica processes: tests/e2e/test_replicas_promises.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.storage.db import Database
from tests.conftest import ADMIN, OPERATOR
from tests.support import engines
from tests.support.engines import execute

STEP = "1:2002:2002:None:None:default"  # a guided step's storage key, as aiogram's FSM makes it (bot.storage.fsm)


@pytest.fixture
def pg_url(pg_server: engines.PgServer) -> Iterator[str]:
    yield from engines.fresh_database(pg_server)


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[Database, Database]]:
    here, there = await Database.open_postgres(pg_url), await Database.open_postgres(pg_url)
    try:
        yield here, there
    finally:
        await here.close()
        await there.close()


def counting(db: Database) -> list[str]:
    trips: list[str] = []
    db.statements.observer = lambda sql: trips.append(" ".join(sql.split()[:2]))
    return trips


async def test_deny_and_a_step_written_by_another_session_are_seen_at_the_next_update(
    pair: tuple[Database, Database],
) -> None:
    here, there = pair
    await there.access.allow(OPERATOR, by=ADMIN, name="Olga")
    await here.freshness.check()
    assert await here.people.operator(OPERATOR) is not None  # read, and remembered
    assert (await here.fsm.get(STEP))[0] is None
    trips = counting(here)
    await here.freshness.check()  # nobody wrote: one statement, and the answers come from memory
    assert await here.people.operator(OPERATOR) is not None and (await here.fsm.get(STEP))[0] is None
    assert len(trips) == 1, trips

    assert await there.access.deny(OPERATOR, by=ADMIN)
    await there.fsm.set_state(STEP, "SendFlow:text")
    await there.fsm.set_data(STEP, {"msisdn": "79041764995"})
    # Without a check this replica still answers from memory (what the check is there for) ...
    assert await here.people.operator(OPERATOR) is not None
    # ... and the next update's check sees the other session's writes: refused, and the step goes on here.
    await here.freshness.check()
    assert await here.people.operator(OPERATOR) is None
    assert await here.fsm.get(STEP) == ("SendFlow:text", {"msisdn": "79041764995"})


async def test_a_write_made_outside_the_bot_is_seen_too(pg_url: str, pair: tuple[Database, Database]) -> None:
    here, _ = pair
    await here.people.sync_admins([ADMIN])
    await here.freshness.check()
    assert await here.people.operator(ADMIN) is not None
    execute(pg_url, "UPDATE operators SET active = 0 WHERE user_id = ?", [(ADMIN,)])  # psql, say
    await here.freshness.check()
    assert await here.people.operator(ADMIN) is None


async def test_own_writes_and_rolled_back_ones_forget_nothing(pair: tuple[Database, Database]) -> None:
    """A guided flow on one replica: its own step writes keep its memory right, so the next update reads nothing
    again; a write of another session that was rolled back leaves no stamp."""
    here, there = pair
    await here.people.sync_admins([ADMIN])
    await here.freshness.check()
    assert await here.people.operator(ADMIN) is not None  # read once, then remembered
    before = here.freshness.forgotten
    for n in range(3):
        await here.fsm.set_state(STEP, "SendFlow:number")
        await here.fsm.set_data(STEP, {"n": n})
        await here.people.touch(ADMIN, f"Alice {n}", None, "en")
        await here.freshness.check()
        trips = counting(here)
        assert await here.fsm.get(STEP) == ("SendFlow:number", {"n": n})
        assert await here.people.operator(ADMIN) is not None
        assert trips == []
    with pytest.raises(RuntimeError):
        async with there._store.transaction() as db:
            await db.rows("UPDATE operators SET active = 0")
            raise RuntimeError("rolled back")
    await here.freshness.check()
    assert here.freshness.forgotten == before
    assert await here.people.operator(ADMIN) is not None


async def test_stamps_of_ended_sessions_are_removed_and_the_removal_is_seen(
    pg_url: str, pair: tuple[Database, Database]
) -> None:
    here, there = pair
    await there.people.sync_admins([ADMIN])
    await there.close()  # its stamp outlives it until a start-up removes it
    await here.freshness.check()
    before = here.freshness.forgotten
    stamps = "SELECT COUNT(*) AS n FROM cache_writes WHERE pid <> 0"

    async with asyncio.timeout(10):  # the server lets the session go a moment after the client closed it
        while engines.select(pg_url, stamps)[0]["n"]:
            newcomer = await Database.open_postgres(pg_url)  # a start-up removes the rows of sessions that ended
            await newcomer.close()
    await here.freshness.check()
    assert here.freshness.forgotten == before + 1


async def test_updates_that_ask_together_share_one_look(pair: tuple[Database, Database]) -> None:
    """A burst: twenty updates asking at once cost one statement, not twenty, and each sees the other session's
    write made before it asked."""
    here, there = pair
    await here.freshness.check()
    assert await here.people.operator(ADMIN) is None  # remembered: not an operator
    await there.people.sync_admins([ADMIN])
    statements, forgotten = here.freshness.statements, here.freshness.forgotten
    await asyncio.gather(*(here.freshness.check() for _ in range(20)))
    assert here.freshness.statements == statements + 1
    assert here.freshness.forgotten == forgotten + 1
    assert await here.people.operator(ADMIN) is not None
