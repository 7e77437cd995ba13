"""Access: requests from strangers, the admins' decisions (which change `operators`), and the audit log."""

from __future__ import annotations

from typing import Any

from bot.storage.models import AccessRequest
from bot.storage.people import PeopleRepository
from bot.storage.store import Statements, Store, utcnow
from bot.times import Epoch


async def _audit(db: Statements, at: Epoch, actor_id: int, action: str, target_id: int) -> None:
    await db.rows(
        "INSERT INTO audit_log (at, actor_id, action, target_id) VALUES (?, ?, ?, ?)", (at, actor_id, action, target_id)
    )


class AccessRepository:
    def __init__(self, store: Store, people: PeopleRepository) -> None:
        self._store = store
        self._people = people  # its operator cache is dropped by every decision

    # --- decisions -------------------------------------------------------------------------------------
    async def allow(self, user_id: int, by: int, name: str = "") -> bool:
        """Make `user_id` an operator; False when they already were one. Approves a pending request."""
        now = utcnow()
        async with self._store.transaction() as db:
            self._people.forget_operator(user_id)
            if await db.scalar("SELECT active FROM operators WHERE user_id = ?", (user_id,)) == 1:
                return False
            if not name:  # `/allow <id>`: the name they wrote with, or the one of their latest request
                name = (
                    await db.scalar("SELECT name FROM people WHERE user_id = ?", (user_id,))
                    or await db.scalar(
                        "SELECT name FROM access_requests WHERE user_id = ? AND name != '' ORDER BY id DESC LIMIT 1",
                        (user_id,),
                    )
                    or ""
                )
            await db.rows(
                """INSERT INTO operators (user_id, role, name, added_by, added_at, active)
                   VALUES (?, 'operator', ?, ?, ?, 1)
                   ON CONFLICT(user_id) DO UPDATE SET role = 'operator', active = 1, name = excluded.name,
                     added_by = excluded.added_by, added_at = excluded.added_at""",
                (user_id, name, by, now),
            )
            await db.rows(
                """UPDATE access_requests SET status = 'approved', decided_by = ?, decided_at = ?
                   WHERE user_id = ? AND status = 'pending'""",
                (by, now, user_id),
            )
            await _audit(db, now, by, "allow", user_id)
        return True

    async def deny(self, user_id: int, by: int) -> bool:
        """Take access away (or refuse a pending request); False when there was nothing to take or refuse."""
        now = utcnow()
        async with self._store.transaction() as db:
            self._people.forget_operator(user_id)
            removed = await db.rows(
                """UPDATE operators SET active = 0 WHERE user_id = ? AND active = 1 AND role = 'operator'
                   RETURNING user_id""",
                (user_id,),
            )
            refused = await db.rows(
                """UPDATE access_requests SET status = 'denied', decided_by = ?, decided_at = ?
                   WHERE user_id = ? AND status = 'pending' RETURNING id""",
                (by, now, user_id),
            )
            if removed and not refused:
                # Recorded as a decided request, so that the person does not ask the admins again at once.
                await db.rows(
                    """INSERT INTO access_requests (user_id, status, created_at, decided_by, decided_at)
                       VALUES (?, 'denied', ?, ?, ?)""",
                    (user_id, now, by, now),
                )
            if removed or refused:
                await _audit(db, now, by, "deny", user_id)
        return bool(removed or refused)

    async def decide(self, request_id: int, approve: bool, by: int) -> AccessRequest | None:
        """An admin's press on a request: it is decided and `operators` follows, in one transaction, only when it
        is still pending — exactly one of two presses at the same moment gets the row back; None for the later."""
        now = utcnow()
        async with self._store.transaction() as db:
            row = await db.row(
                """UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?
                   WHERE id = ? AND status = 'pending' RETURNING *""",
                ("approved" if approve else "denied", by, now, request_id),
            )
            if row is None:
                return None
            request = AccessRequest(**dict(row))
            self._people.forget_operator(request.user_id)
            if approve:
                await db.rows(
                    """INSERT INTO operators (user_id, role, name, added_by, added_at, active)
                       VALUES (?, 'operator', ?, ?, ?, 1)
                       ON CONFLICT(user_id) DO UPDATE SET active = 1, name = excluded.name,
                         added_by = excluded.added_by, added_at = excluded.added_at""",
                    (request.user_id, request.name, by, now),
                )
            else:
                await db.rows(
                    "UPDATE operators SET active = 0 WHERE user_id = ? AND role = 'operator'", (request.user_id,)
                )
            await _audit(db, now, by, "allow" if approve else "deny", request.user_id)
        self._people.forget_operator(request.user_id)
        return request

    # --- requests --------------------------------------------------------------------------------------
    async def open_request(
        self, user_id: int, name: str, username: str | None, locale: str | None
    ) -> AccessRequest | None:
        """A new pending request, or None when one is already pending for this person."""
        now = utcnow()
        async with self._store.transaction() as db:
            row = await db.row(
                """INSERT INTO access_requests (user_id, name, username, locale, created_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT DO NOTHING RETURNING *""",
                (user_id, name, username, locale, now),
            )
            if row is None:
                return None
            await _audit(db, now, user_id, "request", user_id)
        return AccessRequest(**dict(row))

    async def _request(self, sql: str, params: tuple[Any, ...]) -> AccessRequest | None:
        row = await self._store.row(sql, params)
        return None if row is None else AccessRequest(**dict(row))

    async def request(self, request_id: int) -> AccessRequest | None:
        return await self._request("SELECT * FROM access_requests WHERE id = ?", (request_id,))

    async def pending_for(self, user_id: int) -> AccessRequest | None:
        return await self._request("SELECT * FROM access_requests WHERE user_id = ? AND status = 'pending'", (user_id,))

    async def pending_before(self, request_id: int) -> bool:
        """Whether a request older than this one still waits for a decision."""
        row = await self._store.scalar(
            "SELECT 1 FROM access_requests WHERE status = 'pending' AND id < ? LIMIT 1", (request_id,)
        )
        return row is not None

    async def latest_for(self, user_id: int) -> AccessRequest | None:
        return await self._request(
            "SELECT * FROM access_requests WHERE user_id = ? ORDER BY id DESC LIMIT 1", (user_id,)
        )

    async def was_operator(self, user_id: int) -> bool:
        """An operator whose access was taken away (they are told so, not asked to wait for a decision)."""
        return (
            await self._store.scalar(
                "SELECT 1 FROM operators WHERE user_id = ? AND active = 0 AND role = 'operator'", (user_id,)
            )
            is not None
        )

    async def add_request_message(self, request_id: int, chat_id: int, message_id: int) -> None:
        """Where an admin was shown the request, so that every copy shows the decision."""
        await self._store.rows(
            """INSERT INTO access_request_messages (request_id, chat_id, message_id) VALUES (?, ?, ?)
               ON CONFLICT (request_id, chat_id) DO UPDATE SET message_id = excluded.message_id""",
            (request_id, chat_id, message_id),
        )

    async def request_messages(self, request_id: int) -> list[tuple[int, int]]:
        rows = await self._store.rows(
            "SELECT chat_id, message_id FROM access_request_messages WHERE request_id = ?", (request_id,)
        )
        return [(r[0], r[1]) for r in rows]

    # --- audit -----------------------------------------------------------------------------------------
    async def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self._store.rows("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]
