"""asyncpg against psycopg 3 (async) on our own send path: `python -m bench.pg_drivers [N]` (needs DATABASE_URL
naming an empty PostgreSQL database; it creates and drops the tables of the real schema there).

One send's statements, as bot/storage/sends.py and tracking.py run them: the draft INSERT ... RETURNING, the
claim (one conditional UPDATE with the spend-limit subqueries), mark_accepted (a transaction: UPDATE + tracking
upsert), the tracking read of due rows, and finish (a transaction: UPDATE + DELETE). Prints sends per second and
the median time of one send for each driver, on one connection, as the bot uses it.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.storage.dialect import numbered, postgres_ddl
from bot.storage.migrations import MIGRATIONS
from bot.storage.sends import SPENT_SQL

DRAFT = """INSERT INTO sends (user_id, chat_id, msisdn, sender, text, encoding, parts, locale, created_at,
           updated_at, recipient_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *"""
CLAIM = f"""UPDATE sends SET state = 'sending', updated_at = ?, claimed_at = ?,
            preview_message_id = COALESCE(preview_message_id, ?)
            WHERE id = ? AND user_id = ? AND state = 'draft' AND expired_at IS NULL AND created_at >= ?
            AND sends.parts + ({SPENT_SQL} AND s.claimed_at >= ?) <= ? RETURNING *"""
ACCEPT = """UPDATE sends SET state = 'accepted', gateway_id = ?, balance_after = ?, sent_at = ?, status_code = 3,
            status_name = 'ACCEPTD', updated_at = ? WHERE id = ? AND state IN ('sending', 'unknown') RETURNING *"""
TRACK = """INSERT INTO tracking (send_id, next_check_at, interval, attempts, deadline_at) VALUES (?, ?, ?, 0, ?)
           ON CONFLICT (send_id) DO UPDATE SET next_check_at = excluded.next_check_at,
           interval = excluded.interval, attempts = 0, deadline_at = excluded.deadline_at"""
DUE = """SELECT t.*, s.* FROM tracking t JOIN sends s ON s.id = t.send_id WHERE t.next_check_at <= ?
         ORDER BY t.next_check_at LIMIT ?"""
FINISH = """UPDATE sends SET status_code = ?, status_name = ?, final = ?, final_at = ?, updated_at = ?,
            notice_owed_at = COALESCE(?, notice_owed_at) WHERE id = ? RETURNING *"""
UNTRACK = "DELETE FROM tracking WHERE send_id = ?"
NOW = "2026-12-07T18:00:00+00:00"


def _psycopg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


async def one_send(run: Callable[[str, tuple[Any, ...]], Awaitable[list[Any]]], tx: Any, i: int) -> None:
    draft = (await run(DRAFT, (7, 7, f"7900{i:07d}", "SMSKA", "text", "gsm", 1, "ru", NOW, NOW, None)))[0]
    await run(CLAIM, (NOW, NOW, 5, draft[0], 7, "", 7, "2026-12-07T17:00:00+00:00", 10**9))
    async with tx():
        await run(ACCEPT, (f"g{i}", "10.5", NOW, NOW, draft[0]))
        await run(TRACK, (draft[0], 1.0, 10.0, 9.0))
    await run(DUE, (2.0, 50))
    async with tx():
        await run(FINISH, (4, "DELIVRD", 1, NOW, NOW, NOW, draft[0]))
        await run(UNTRACK, (draft[0],))


async def measure(name: str, run: Any, tx: Any, n: int) -> tuple[float, float]:
    for i in range(50):  # warm-up (prepared statements, caches)
        await one_send(run, tx, i)
    times = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await one_send(run, tx, 100 + i)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    return n / total, statistics.median(times) * 1000


async def schema(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    for text in MIGRATIONS:
        await conn.execute(postgres_ddl(text))
    await conn.close()


async def with_asyncpg(url: str, n: int) -> tuple[float, float]:
    import asyncpg

    conn = await asyncpg.connect(url)

    async def run(sql: str, params: tuple[Any, ...]) -> list[Any]:
        return list(await conn.fetch(numbered(sql), *params))

    result = await measure("asyncpg", run, conn.transaction, n)
    await conn.close()
    return result


async def with_psycopg(url: str, n: int) -> tuple[float, float]:
    import psycopg

    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0)

    async def run(sql: str, params: tuple[Any, ...]) -> list[Any]:
        cur = await conn.execute(_psycopg(sql), params)  # type: ignore[arg-type]
        return list(await cur.fetchall()) if cur.description else []

    result = await measure("psycopg", run, conn.transaction, n)
    await conn.close()
    return result


async def main(n: int) -> None:
    url = os.environ["DATABASE_URL"]
    for name, fn in (("asyncpg", with_asyncpg), ("psycopg", with_psycopg), ("asyncpg", with_asyncpg)):
        await schema(url)
        rate, median = await fn(url, n)
        print(f"{name:8} {rate:7.1f} sends/s  median {median:.2f} ms per send (9 statements, 2 transactions)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
