"""One chat's updates handled one at a time and in update_id order, whichever replica gets them (PostgreSQL).

Each update of a chat, on any replica, takes a *turn* on a connection of the turns' own (a small pool, so that
the store's one connection never waits behind a chat):

1. **Announce** at arrival, before the redelivery guard: `BEGIN; pg_advisory_lock_shared(chat, update_id)`. It
   is granted at once (nobody takes it exclusively) and is visible to every replica in `pg_locks`.
2. **Take the chat's lock** once the update's id is recorded (`pg_advisory_lock(CHAT, chat)`, waited for in
   PostgreSQL's queue), then look: is an *older* update of this chat announced and not finished, or is an id just
   below ours not seen anywhere yet (its replica has not even announced it: two updates 5 ms apart on two
   replicas)? Then give the lock back, let the older one go first (it waits in the queue: PostgreSQL grants in
   queue order) and try again — for at most `ORDER_WAIT` after arrival for a known older update of the chat, at
   most `GRACE` for an id nobody has announced (it may be another chat's, or never come).
3. **Handle** the update, then `pg_advisory_unlock_all(); COMMIT`.

The choice: update_id order, not arrival order, within bounds. An older update that is known wins; an unknown one
is waited for only briefly (Telegram's ids are sequential for the bot, but an id may belong to another chat or
never arrive); past the bounds the update goes on rather than keep an operator waiting.

Keys live in PostgreSQL's two-int4 advisory key space, which never overlaps the one-bigint space of the spend
limits' per-operator lock (`Dialect.serialise`) and the migration lock: the chat lock is (CHAT, chat key), an
announcement (chat key, update id); a chat key is never CHAT. Two chats whose ids fold to one key only share turns.

Nobody dead or hung holds a chat: the locks are the session's, so a replica that dies frees them with its
connection; the turn's transaction is open while the lock is held, and `idle_in_transaction_session_timeout` (the
failover time) ends the session of a replica that stops talking (hung, frozen, cut off) — a live holder sends a
heartbeat every third of it, for at most `MAX_HOLD`. When the database cannot be reached the update goes on
unlocked (the operator is answered in words by what follows), and the turns skip the database for `RETRY_AFTER`.
SQLite has none of this (one process): no cost there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import asyncpg

from bot.storage.postgres import redact
from bot.tasks import cancelled

log = logging.getLogger(__name__)

CHAT = 0x43484154  # key1 of every chat lock ("CHAT"); a chat's key is never this value
INT4 = 2147483647
ORDER_WAIT = 3.0  # seconds after arrival an update lets a known older update of its chat go first
GRACE = 0.25  # seconds after arrival an update waits for an id just below its own that nobody announced yet
WINDOW = 16  # ids below an update's own that are looked at for "not announced yet"
WAIT = 12.0  # seconds an update waits for its chat's turn in all; then it goes on (the operator must be answered)
MAX_HOLD = 120.0  # seconds a turn is kept alive by heartbeats; a handler stuck longer loses its lock
RETRY_AFTER = 2.0  # seconds the turns skip the database after it could not be reached
CONNECT_TIMEOUT = 3.0
STEP = 0.01  # seconds between giving the lock back to an older update and asking for it again
POOL = 16  # turns open at once on this replica (connections: mind max_connections); more wait, within WAIT
KEEP_IDLE = 8  # idle connections kept for the next turns

#: Announced updates below `id` (within the window) of the same database: the chat's own, and any id at all.
CHECK = """
WITH announced AS (
  SELECT classid::bigint AS chat, objid::bigint AS id FROM pg_locks
   WHERE locktype = 'advisory' AND objsubid = 2
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND classid::bigint <> $1 AND objid::bigint < $3 AND objid::bigint >= $3 - $4)
SELECT (SELECT count(*) FROM announced WHERE chat = $2) AS older,
       (SELECT max(id) FROM (SELECT id FROM announced UNION ALL
          SELECT update_id FROM seen_updates WHERE update_id < $3 AND update_id >= $3 - $4) AS known) AS latest
"""


def chat_key(chat_id: int) -> int:
    """A chat's id folded into a positive int4, never CHAT."""
    key = chat_id % INT4 or 1
    return key + 1 if key == CHAT else key


class Turn:
    """One update's turn in its chat, on a connection of its own (`None`: the database could not be used)."""

    def __init__(self, locks: ChatLocks, chat_id: int, update_id: int) -> None:
        self.locks = locks
        self.chat = chat_key(chat_id)
        self.update_id = update_id
        self.arrived = time.monotonic()
        self.conn: asyncpg.Connection | None = None
        self.locked = False
        self.deferred = 0  # how many times it let an older update go first (for the logs and tests)
        self._beat: asyncio.Task[None] | None = None
        self._talk = asyncio.Lock()  # the heartbeat and the turn's own statements never overlap

    @property
    def orderable(self) -> bool:
        return 0 < self.update_id < INT4

    async def announce(self) -> None:
        self.conn = await self.locks.connection()
        if self.conn is None:
            return
        announce = f"; SELECT pg_advisory_lock_shared({self.chat}, {self.update_id})" if self.orderable else ""
        await self._run(f"BEGIN{announce}", CONNECT_TIMEOUT)

    async def take(self) -> None:
        """Wait for the chat's lock and for the older updates of the chat (within the bounds above)."""
        if self.conn is None or self.locked:
            return
        while True:
            left = self.arrived + WAIT - time.monotonic()
            if left <= 0:
                raise TimeoutError
            await self._run(f"SELECT pg_advisory_lock({CHAT}, {self.chat})", left)
            self.locked = True
            if not self.orderable or not await self._older_first():
                break
            self.deferred += 1
            await self._run(f"SELECT pg_advisory_unlock({CHAT}, {self.chat})", CONNECT_TIMEOUT)
            self.locked = False
            await asyncio.sleep(STEP)  # the older update, queued on the lock, is granted it meanwhile
        if self.deferred:
            waited = (time.monotonic() - self.arrived) * 1000
            log.info("update %s let older updates of its chat go first (%.0f ms)", self.update_id, waited)
        self._beat = asyncio.create_task(self._heartbeat(), name=f"chat-turn-{self.update_id}")

    async def _older_first(self) -> bool:
        assert self.conn is not None
        async with self._talk:
            row = await self.conn.fetchrow(CHECK, CHAT, self.chat, self.update_id, WINDOW, timeout=CONNECT_TIMEOUT)
        since = time.monotonic() - self.arrived
        if row["older"] and since < ORDER_WAIT:
            return True  # an older update of this chat is on its way: it goes first
        latest = row["latest"]
        return latest is not None and latest < self.update_id - 1 and since < GRACE  # ids below not seen yet

    async def _heartbeat(self) -> None:
        """Keeps the session from being ended as idle while the update is handled, for at most MAX_HOLD."""
        every = self.locks.idle_timeout / 3
        until = time.monotonic() + MAX_HOLD
        while time.monotonic() + every < until:
            await asyncio.sleep(every)
            try:  # shielded: the turn's end waits for a beat in flight rather than cut a statement short
                await asyncio.shield(self._run("SELECT 1", CONNECT_TIMEOUT))
            except asyncio.CancelledError:
                raise
            except Exception:
                return
        log.warning("update %s held its chat's turn over %.0f s: the turn ends by itself", self.update_id, MAX_HOLD)

    async def end(self) -> None:
        beat, self._beat = self._beat, None
        if beat is not None:
            await cancelled(beat)
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            async with self._talk:  # a heartbeat in flight finishes first
                await asyncio.wait_for(conn.execute("SELECT pg_advisory_unlock_all(); COMMIT"), CONNECT_TIMEOUT)
        except BaseException:
            conn.terminate()  # the server ends the session: its locks go with it
            raise
        self.locks.give_back(conn)

    async def _run(self, sql: str, timeout: float) -> None:
        assert self.conn is not None
        async with self._talk:
            await self.conn.execute(sql, timeout=timeout)

    def drop(self) -> None:
        """After a failure: the connection is ended (its locks with it); the update goes on unlocked."""
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        conn, self.conn = self.conn, None
        self.locked = False
        if conn is not None:
            conn.terminate()


class ChatLocks:
    """The turns of one replica: a pool of connections and the settings they share."""

    def __init__(self, url: str, idle_timeout: float) -> None:
        self.url = url
        self.idle_timeout = max(1.0, idle_timeout)
        self._idle: list[asyncpg.Connection] = []
        self._slots = asyncio.Semaphore(POOL)
        self._skip_until = 0.0
        self.unlocked = 0  # updates that went on without their chat's turn (database trouble, waited too long)

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int, update_id: int) -> AsyncIterator[Turn]:
        """`async with locks.turn(chat, update) as turn:` announce now, `await locks.locked(turn)` before the
        handler reads the chat's state; everything is given back at the end."""
        turn = Turn(self, chat_id, update_id)
        async with contextlib.AsyncExitStack() as stack:
            if time.monotonic() >= self._skip_until:
                try:
                    await asyncio.wait_for(self._slots.acquire(), WAIT)
                except TimeoutError:
                    self._went_unlocked(turn, "no free connection for its turn")
                else:
                    stack.callback(self._slots.release)
                    await self._guarded(turn, announcing=True)
            try:
                yield turn
            finally:
                if turn.conn is not None:
                    try:
                        await turn.end()
                    except Exception as exc:
                        log.warning("the turn of update %s ended badly: %s", update_id, self._why(exc))

    async def locked(self, turn: Turn) -> None:
        """The chat's lock for `turn` (nothing when it could not announce: it goes on unlocked)."""
        if turn.conn is not None:
            await self._guarded(turn, announcing=False)

    async def _guarded(self, turn: Turn, *, announcing: bool) -> None:
        try:
            await (turn.announce() if announcing else turn.take())
        except asyncio.CancelledError:
            turn.drop()
            raise
        except TimeoutError:
            if announcing:  # the database does not answer: do not make the next updates wait for it too
                self._skip_until = time.monotonic() + RETRY_AFTER
            self._went_unlocked(turn, "its turn did not come in time")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._skip_until = time.monotonic() + RETRY_AFTER
            self._went_unlocked(turn, self._why(exc))

    def _went_unlocked(self, turn: Turn, why: str) -> None:
        self.unlocked += 1
        log.warning("update %s goes on without its chat's turn: %s", turn.update_id, why)
        turn.drop()

    async def connection(self) -> asyncpg.Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
        conn = await asyncpg.connect(
            self.url,
            timeout=CONNECT_TIMEOUT,
            statement_cache_size=0,
            server_settings={
                "idle_in_transaction_session_timeout": str(int(self.idle_timeout * 1000)),
                "application_name": "smska-bot chat turns",
            },
        )
        return conn

    def give_back(self, conn: asyncpg.Connection) -> None:
        if len(self._idle) < KEEP_IDLE and not conn.is_closed():
            self._idle.append(conn)
        else:
            conn.terminate()

    def _why(self, exc: BaseException) -> str:
        return redact(f"{type(exc).__name__}: {exc}".splitlines()[0][:200], self.url)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await asyncio.wait_for(conn.close(), CONNECT_TIMEOUT)
            except Exception:
                conn.terminate()
