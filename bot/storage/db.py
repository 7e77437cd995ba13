"""SQLite storage: one file, one connection, migrations at open.

All statements run under one asyncio lock: aiosqlite serialises them on its thread anyway, and the lock keeps a
multi-statement transaction of one coroutine from swallowing another coroutine's statements.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage.migrations import LATEST, MIGRATIONS
from bot.storage.models import AccessRequest, Operator, Person, SendRow, TrackingRow

log = logging.getLogger(__name__)

CACHE_LIMIT = 10_000  # people (and operators) kept in memory; past it the cache starts over


class StorageError(Exception):
    """The database cannot be used (newer schema, unreadable file, ...); the message is one plain line."""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _row_to(cls: type[Any], row: aiosqlite.Row | None) -> Any:
    return None if row is None else cls(**dict(row))


class Database:
    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        # Read on every update by the access gate, so kept in memory: filled under the lock, and dropped by this
        # object's own writes to those rows (inside the lock, or after the write), so a read never returns what a
        # finished write replaced. The bot is the only writer of `people` and `operators` while it runs.
        self._people: dict[int, Person | None] = {}
        self._operators: dict[int, Operator | None] = {}

    # --- lifecycle -------------------------------------------------------------------------------------
    @classmethod
    async def open(cls, path: Path | str) -> Database:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except Exception as exc:
            raise StorageError(f"cannot open the database file {path}: {exc}") from None
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path)
        try:
            await db._prepare()
        except BaseException:
            await conn.close()
            raise
        return db

    async def _prepare(self) -> None:
        await self._conn.execute("PRAGMA busy_timeout = 5000")
        await self._conn.execute("PRAGMA foreign_keys = ON")
        try:
            await self._conn.execute("PRAGMA journal_mode = WAL")
            version = await self._scalar("PRAGMA user_version")
        except aiosqlite.DatabaseError as exc:
            raise StorageError(f"the database file {self.path} is not usable: {exc}") from None
        if version > LATEST:
            raise StorageError(
                f"the database file {self.path} has schema version {version}, newer than this bot knows "
                f"({LATEST}); run a newer version of the bot or use another DATABASE_PATH"
            )
        for number in range(version + 1, LATEST + 1):
            log.info("applying database migration %d", number)
            # executescript commits on its own; the version bump is inside the same script.
            await self._conn.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};\nCOMMIT;"
            )

    async def close(self) -> None:
        await self._conn.close()

    async def schema_version(self) -> int:
        return int(await self._scalar("PRAGMA user_version"))

    async def ping(self) -> bool:
        try:
            async with self._lock:
                await self._scalar("SELECT 1")
        except Exception:
            return False
        return True

    # --- helpers ---------------------------------------------------------------------------------------
    # Reads take one trip to aiosqlite's thread (execute_fetchall), not three (execute, fetch, close): under load
    # every trip waits for the GIL. The queries read one row (by key, or LIMIT 1) or a short list.
    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = list(await self._conn.execute_fetchall(sql, params))
        return rows[0][0] if rows else None

    async def _one(self, cls: type[Any], sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._lock:
            rows = list(await self._conn.execute_fetchall(sql, params))
        return _row_to(cls, rows[0] if rows else None)

    async def _all(self, cls: type[Any], sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._lock:
            rows = await self._conn.execute_fetchall(sql, params)
        return [cls(**dict(r)) for r in rows]

    async def _cached(self, cache: dict[int, Any], cls: type[Any], sql: str, user_id: int) -> Any:
        """One row by user id, from `cache` when there (a missing row is cached as None too)."""
        if user_id in cache:
            return cache[user_id]
        async with self._lock:
            rows = list(await self._conn.execute_fetchall(sql, (user_id,)))
            result = _row_to(cls, rows[0] if rows else None)
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            cache[user_id] = result
        return result

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns how many rows it changed."""
        async with self._lock:
            cur = await self._conn.execute(sql, params)
            count = cur.rowcount
            await cur.close()
        return count

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    # --- people and operators --------------------------------------------------------------------------
    async def touch_person(self, user_id: int, name: str, username: str | None, last_locale: str | None) -> None:
        await self._write(
            """INSERT INTO people (user_id, name, username, last_locale, last_seen_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(user_id) DO UPDATE SET name = excluded.name, username = excluded.username,
                 last_locale = COALESCE(excluded.last_locale, people.last_locale),
                 last_seen_at = excluded.last_seen_at""",
            (user_id, name, username, last_locale, utcnow()),
        )
        self._people.pop(user_id, None)

    async def get_person(self, user_id: int) -> Person | None:
        result: Person | None = await self._cached(
            self._people, Person, "SELECT * FROM people WHERE user_id = ?", user_id
        )
        return result

    async def set_locale(self, user_id: int, locale: str) -> None:
        await self._write(
            """INSERT INTO people (user_id, locale) VALUES (?, ?)
               ON CONFLICT(user_id) DO UPDATE SET locale = excluded.locale""",
            (user_id, locale),
        )
        self._people.pop(user_id, None)

    async def locale_for(self, user_id: int) -> str | None:
        """The stored choice, else the language of the last update (for notices the bot sends on its own)."""
        async with self._lock:
            value = await self._scalar("SELECT COALESCE(locale, last_locale) FROM people WHERE user_id = ?", (user_id,))
        return value if isinstance(value, str) else None

    async def sync_admins(self, admin_ids: Iterable[int]) -> None:
        ids = sorted(set(admin_ids))
        now = utcnow()
        async with self.transaction() as conn:
            self._operators.clear()
            for user_id in ids:
                await conn.execute(
                    """INSERT INTO operators (user_id, role, added_at, active) VALUES (?, 'admin', ?, 1)
                       ON CONFLICT(user_id) DO UPDATE SET role = 'admin', active = 1""",
                    (user_id, now),
                )
            marks = ",".join("?" * len(ids))
            # Someone taken out of ADMIN_IDS loses access until an admin allows them again.
            await conn.execute(
                f"UPDATE operators SET active = 0 WHERE role = 'admin' AND user_id NOT IN ({marks})",  # noqa: S608
                ids,
            )

    async def names(self) -> dict[int, str]:
        """Display names of everyone the bot has seen or admitted."""
        async with (
            self._lock,
            self._conn.execute(
                "SELECT user_id, name FROM operators WHERE name != '' UNION ALL "
                "SELECT user_id, name FROM people WHERE name != ''"
            ) as cur,
        ):
            return {r[0]: r[1] for r in await cur.fetchall()}

    async def get_operator(self, user_id: int) -> Operator | None:
        result: Operator | None = await self._cached(
            self._operators, Operator, "SELECT * FROM operators WHERE user_id = ? AND active = 1", user_id
        )
        return result

    async def list_operators(self) -> list[Operator]:
        return await self._all(
            Operator, "SELECT * FROM operators WHERE active = 1 ORDER BY role = 'operator', added_at, user_id"
        )

    async def allow(self, user_id: int, by: int, name: str = "") -> bool:
        """Make `user_id` an operator; False when they already were one. Approves a pending request."""
        now = utcnow()
        async with self.transaction() as conn:
            self._operators.pop(user_id, None)
            async with conn.execute("SELECT active FROM operators WHERE user_id = ?", (user_id,)) as cur:
                row = await cur.fetchone()
            if row is not None and row[0] == 1:
                return False
            if not name:
                async with conn.execute("SELECT name FROM people WHERE user_id = ?", (user_id,)) as cur:
                    prow = await cur.fetchone()
                name = prow[0] if prow else ""
            await conn.execute(
                """INSERT INTO operators (user_id, role, name, added_by, added_at, active)
                   VALUES (?, 'operator', ?, ?, ?, 1)
                   ON CONFLICT(user_id) DO UPDATE SET role = 'operator', active = 1, name = excluded.name,
                     added_by = excluded.added_by, added_at = excluded.added_at""",
                (user_id, name, by, now),
            )
            await conn.execute(
                """UPDATE access_requests SET status = 'approved', decided_by = ?, decided_at = ?
                   WHERE user_id = ? AND status = 'pending'""",
                (by, now, user_id),
            )
            await conn.execute(
                "INSERT INTO audit_log (at, actor_id, action, target_id) VALUES (?, ?, 'allow', ?)",
                (now, by, user_id),
            )
        return True

    async def deny(self, user_id: int, by: int) -> bool:
        """Take access away (or refuse a pending request); False when there was nothing to take or refuse."""
        now = utcnow()
        async with self.transaction() as conn:
            self._operators.pop(user_id, None)
            cur = await conn.execute(
                "UPDATE operators SET active = 0 WHERE user_id = ? AND active = 1 AND role = 'operator'",
                (user_id,),
            )
            removed = cur.rowcount
            cur = await conn.execute(
                """UPDATE access_requests SET status = 'denied', decided_by = ?, decided_at = ?
                   WHERE user_id = ? AND status = 'pending'""",
                (by, now, user_id),
            )
            changed = removed + cur.rowcount
            if removed and not cur.rowcount:
                # Recorded as a decided request, so that the person does not ask the admins again at once.
                await conn.execute(
                    """INSERT INTO access_requests (user_id, status, created_at, decided_by, decided_at)
                       VALUES (?, 'denied', ?, ?, ?)""",
                    (user_id, now, by, now),
                )
            if changed:
                await conn.execute(
                    "INSERT INTO audit_log (at, actor_id, action, target_id) VALUES (?, ?, 'deny', ?)",
                    (now, by, user_id),
                )
        return changed > 0

    # --- access requests -------------------------------------------------------------------------------
    async def open_access_request(
        self, user_id: int, name: str, username: str | None, locale: str | None
    ) -> AccessRequest | None:
        """A new pending request, or None when one is already pending for this person."""
        now = utcnow()
        async with self.transaction() as conn:
            cur = await conn.execute(
                """INSERT INTO access_requests (user_id, name, username, locale, created_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT DO NOTHING""",
                (user_id, name, username, locale, now),
            )
            if cur.rowcount == 0:
                return None
            request_id = cur.lastrowid
            await conn.execute(
                "INSERT INTO audit_log (at, actor_id, action, target_id) VALUES (?, ?, 'request', ?)",
                (now, user_id, user_id),
            )
            async with conn.execute("SELECT * FROM access_requests WHERE id = ?", (request_id,)) as c2:
                result: AccessRequest = _row_to(AccessRequest, await c2.fetchone())
        return result

    async def get_access_request(self, request_id: int) -> AccessRequest | None:
        result: AccessRequest | None = await self._one(
            AccessRequest, "SELECT * FROM access_requests WHERE id = ?", (request_id,)
        )
        return result

    async def pending_request_for(self, user_id: int) -> AccessRequest | None:
        result: AccessRequest | None = await self._one(
            AccessRequest,
            "SELECT * FROM access_requests WHERE user_id = ? AND status = 'pending'",
            (user_id,),
        )
        return result

    async def latest_request_for(self, user_id: int) -> AccessRequest | None:
        result: AccessRequest | None = await self._one(
            AccessRequest, "SELECT * FROM access_requests WHERE user_id = ? ORDER BY id DESC LIMIT 1", (user_id,)
        )
        return result

    async def add_request_message(self, request_id: int, chat_id: int, message_id: int) -> None:
        await self._write(
            "INSERT OR REPLACE INTO access_request_messages (request_id, chat_id, message_id) VALUES (?, ?, ?)",
            (request_id, chat_id, message_id),
        )

    async def request_messages(self, request_id: int) -> list[tuple[int, int]]:
        async with (
            self._lock,
            self._conn.execute(
                "SELECT chat_id, message_id FROM access_request_messages WHERE request_id = ?", (request_id,)
            ) as cur,
        ):
            return [(r[0], r[1]) for r in await cur.fetchall()]

    async def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        async with (
            self._lock,
            self._conn.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)) as cur,
        ):
            return [dict(r) for r in await cur.fetchall()]

    # --- the send log ----------------------------------------------------------------------------------
    async def create_draft(
        self,
        *,
        user_id: int,
        chat_id: int,
        msisdn: str,
        sender: str,
        text: str,
        encoding: str,
        parts: int,
        locale: str | None,
    ) -> SendRow:
        now = utcnow()
        async with self._lock:
            cur = await self._conn.execute(
                """INSERT INTO sends (user_id, chat_id, msisdn, sender, text, encoding, parts, locale,
                                      created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
                (user_id, chat_id, msisdn, sender, text, encoding, parts, locale, now, now),
            )
            row = await cur.fetchone()
            await cur.close()
        result: SendRow = _row_to(SendRow, row)
        return result

    async def get_send(self, send_id: int) -> SendRow | None:
        result: SendRow | None = await self._one(SendRow, "SELECT * FROM sends WHERE id = ?", (send_id,))
        return result

    async def find_send_by_gateway_id(self, gateway_id: str) -> SendRow | None:
        result: SendRow | None = await self._one(
            SendRow, "SELECT * FROM sends WHERE gateway_id = ? ORDER BY id DESC LIMIT 1", (gateway_id,)
        )
        return result

    async def update_draft(self, send_id: int, **fields: Any) -> bool:
        """Change a draft (sender, preview message id); False when it is no longer a draft."""
        allowed = {"sender", "preview_message_id"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"cannot update {sorted(fields)} of a draft")
        sets = ", ".join(f"{k} = ?" for k in fields)
        changed = await self._write(
            f"UPDATE sends SET {sets}, updated_at = ? WHERE id = ? AND state = 'draft'",  # noqa: S608
            (*fields.values(), utcnow(), send_id),
        )
        return changed == 1

    async def claim_draft(self, send_id: int, user_id: int) -> bool:
        """draft -> sending in one conditional UPDATE: exactly one caller ever gets True for a draft."""
        changed = await self._write(
            "UPDATE sends SET state = 'sending', updated_at = ? WHERE id = ? AND user_id = ? AND state = 'draft'",
            (utcnow(), send_id, user_id),
        )
        return changed == 1

    async def cancel_draft(self, send_id: int, user_id: int) -> bool:
        changed = await self._write(
            "UPDATE sends SET state = 'cancelled', updated_at = ? WHERE id = ? AND user_id = ? AND state = 'draft'",
            (utcnow(), send_id, user_id),
        )
        return changed == 1

    async def mark_accepted(
        self,
        send_id: int,
        gateway_id: str,
        balance: Decimal,
        *,
        first_check_at: float,
        interval: float,
        deadline_at: float,
    ) -> None:
        """Record the gateway's id and queue the SMS for delivery tracking, atomically."""
        now = utcnow()
        async with self.transaction() as conn:
            await conn.execute(
                """UPDATE sends SET state = 'accepted', gateway_id = ?, balance_after = ?, sent_at = ?,
                     status_code = 3, status_name = 'ACCEPTD', updated_at = ?
                   WHERE id = ? AND state IN ('sending', 'unknown')""",
                (gateway_id, str(balance), now, now, send_id),
            )
            await conn.execute(
                """INSERT OR REPLACE INTO tracking (send_id, next_check_at, interval, attempts, deadline_at)
                   VALUES (?, ?, ?, 0, ?)""",
                (send_id, first_check_at, interval, deadline_at),
            )

    async def mark_failed(self, send_id: int, code: int | None, text: str) -> None:
        """`sending` -> `failed`; its outcome is owed to the operator until `outcome_shown`."""
        now = utcnow()
        await self._write(
            """UPDATE sends SET state = 'failed', error_code = ?, error_text = ?, final_at = ?, updated_at = ?,
                 outcome_owed_at = ?
               WHERE id = ? AND state = 'sending'""",
            (code, text, now, now, now, send_id),
        )

    async def mark_unknown(self, send_id: int, reason: str, *, owed: bool = True) -> None:
        """`sending` -> `unknown`; unless `owed` is False, its outcome is owed to the operator until
        `outcome_shown`."""
        now = utcnow()
        await self._write(
            """UPDATE sends SET state = 'unknown', error_text = ?, updated_at = ?,
                 outcome_owed_at = COALESCE(?, outcome_owed_at)
               WHERE id = ? AND state = 'sending'""",
            (reason, now, now if owed else None, send_id),
        )

    async def owed_outcomes(self) -> list[SendRow]:
        """Sends that failed or went unknown and whose operator was not shown it (a crash came in between)."""
        return await self._all(SendRow, "SELECT * FROM sends WHERE outcome_owed_at IS NOT NULL ORDER BY id")

    async def outcome_shown(self, send_id: int) -> None:
        await self._write("UPDATE sends SET outcome_owed_at = NULL WHERE id = ?", (send_id,))

    async def set_result_message(self, send_id: int, message_id: int) -> None:
        await self._write(
            "UPDATE sends SET result_message_id = ?, updated_at = ? WHERE id = ?",
            (message_id, utcnow(), send_id),
        )

    async def interrupted_sends(self) -> list[SendRow]:
        """Rows in `sending`: at start-up, sends a crash interrupted (see SendingService.recover)."""
        return await self._all(SendRow, "SELECT * FROM sends WHERE state = 'sending' ORDER BY id")

    async def history(self, *, user_id: int | None, limit: int, offset: int = 0) -> list[SendRow]:
        """Latest sends, newest first, drafts and cancelled ones left out; `user_id=None` means everyone's."""
        where = "state NOT IN ('draft', 'cancelled')"
        params: list[Any] = []
        if user_id is not None:
            where += " AND user_id = ?"
            params.append(user_id)
        return await self._all(
            SendRow,
            f"SELECT * FROM sends WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit, offset),
        )

    async def history_count(self, *, user_id: int | None) -> int:
        where = "state NOT IN ('draft', 'cancelled')"
        params: list[Any] = []
        if user_id is not None:
            where += " AND user_id = ?"
            params.append(user_id)
        async with self._lock:
            value = await self._scalar(f"SELECT COUNT(*) FROM sends WHERE {where}", params)  # noqa: S608
        return int(value)

    # --- delivery tracking -----------------------------------------------------------------------------
    async def due_tracking(self, now: float, limit: int) -> list[TrackingRow]:
        return await self._all(
            TrackingRow,
            "SELECT * FROM tracking WHERE next_check_at <= ? ORDER BY next_check_at LIMIT ?",
            (now, limit),
        )

    async def next_tracking_time(self) -> float | None:
        async with self._lock:
            value = await self._scalar("SELECT MIN(next_check_at) FROM tracking")
        return None if value is None else float(value)

    async def tracking_depth(self) -> int:
        async with self._lock:
            return int(await self._scalar("SELECT COUNT(*) FROM tracking"))

    async def reschedule(
        self, send_id: int, *, next_check_at: float, interval: float, status: tuple[int, str] | None
    ) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE tracking SET next_check_at = ?, interval = ?, attempts = attempts + 1 WHERE send_id = ?",
                (next_check_at, interval, send_id),
            )
            if status is not None:
                await conn.execute(
                    "UPDATE sends SET status_code = ?, status_name = ?, updated_at = ? WHERE id = ?",
                    (status[0], status[1], utcnow(), send_id),
                )

    async def finish_tracking(
        self, send_id: int, *, status: tuple[int, str] | None, final: bool, notice_owed: bool = False
    ) -> None:
        """Stop tracking: a final status (final=True) or the tracking window ran out (final=False).
        `notice_owed`: the operator is still to be told; it stays owed (`owed_notices`) until `notice_given`."""
        now = utcnow()
        owed = now if notice_owed else None
        async with self.transaction() as conn:
            if status is not None:
                await conn.execute(
                    """UPDATE sends SET status_code = ?, status_name = ?, final = ?, final_at = ?, updated_at = ?,
                         notice_owed_at = COALESCE(?, notice_owed_at)
                       WHERE id = ?""",
                    (status[0], status[1], int(final), now, now, owed, send_id),
                )
            else:
                await conn.execute(
                    """UPDATE sends SET final_at = ?, updated_at = ?, notice_owed_at = COALESCE(?, notice_owed_at)
                       WHERE id = ?""",
                    (now, now, owed, send_id),
                )
            await conn.execute("DELETE FROM tracking WHERE send_id = ?", (send_id,))

    async def owed_notices(self) -> list[SendRow]:
        """Sends whose tracking ended but whose operator was not told yet (a crash or a stop came first)."""
        return await self._all(SendRow, "SELECT * FROM sends WHERE notice_owed_at IS NOT NULL ORDER BY id")

    async def notice_given(self, send_id: int) -> None:
        await self._write("UPDATE sends SET notice_owed_at = NULL WHERE id = ?", (send_id,))

    # --- key/value -------------------------------------------------------------------------------------
    async def kv_get(self, key: str) -> str | None:
        async with self._lock:
            value = await self._scalar("SELECT value FROM kv WHERE key = ?", (key,))
        return None if value is None else str(value)

    async def kv_set(self, key: str, value: str | None) -> None:
        if value is None:
            await self._write("DELETE FROM kv WHERE key = ?", (key,))
        else:
            await self._write("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))

    # --- read-only counts for /metrics ------------------------------------------------------------------
    async def send_counts_by_state(self) -> dict[str, int]:
        async with self._lock, self._conn.execute("SELECT state, COUNT(*) FROM sends GROUP BY state") as cur:
            return {str(r[0]): int(r[1]) for r in await cur.fetchall()}

    async def final_status_counts(self) -> dict[str, int]:
        """Accepted SMS whose tracking ended: by final status name, `untracked` when the window ran out."""
        async with (
            self._lock,
            self._conn.execute(
                """SELECT CASE WHEN final = 1 THEN COALESCE(status_name, 'UNKNOWN') ELSE 'untracked' END, COUNT(*)
                   FROM sends WHERE state = 'accepted' AND final_at IS NOT NULL GROUP BY 1"""
            ) as cur,
        ):
            return {str(r[0]): int(r[1]) for r in await cur.fetchall()}
