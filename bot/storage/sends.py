"""The send log: a draft is a row; its state changes are conditional UPDATEs that return the row they wrote.

draft -> sending (`claim`: one conditional UPDATE, so exactly one caller ever gets the row) -> accepted | failed
| unknown; draft -> cancelled. A state change returns the row as written, or None when its condition did not
match (the row was not in the state the change starts from). `outcome_owed_at` marks a send that failed or
went unknown until its operator was shown that (`outcome_shown`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bot.storage.models import SendRow
from bot.storage.store import Row, Store, utcnow
from bot.times import Epoch

#: Why a draft was cancelled, kept in its `error_text` (a cancelled draft has no error): /cancel, or a newer
#: draft to the same number or with the same text. The Cancel button leaves it NULL.
CANCELLED_BY_OPERATOR = "cancelled"
REPLACED = "replaced"
WITHDRAWN = "withdrawn"  # the operator's access was taken away
EXPIRED = "expired"  # pressed after DRAFT_TTL_HOURS: a fresh preview of it was opened

# Parts spent by one operator: a failed send was refused by the gateway and cost nothing; one that went
# unknown may have gone out, so it counts.
SPENT_SQL = """SELECT COALESCE(SUM(s.parts), 0) FROM sends AS s
               WHERE s.user_id = ? AND s.state IN ('sending', 'accepted', 'unknown')"""


def _send(row: Row | None) -> SendRow | None:
    return None if row is None else SendRow(**dict(row))


class SendsRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def _change(self, sql: str, params: tuple[Any, ...]) -> SendRow | None:
        """One UPDATE ... RETURNING *: the row as written, or None when the condition did not match."""
        return _send(await self._store.row(sql, params))

    async def _list(self, sql: str, params: tuple[Any, ...] = ()) -> list[SendRow]:
        return [SendRow(**dict(r)) for r in await self._store.rows(sql, params)]

    # --- drafts ----------------------------------------------------------------------------------------
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
        recipient_name: str | None = None,
        recipient_via: str | None = None,
    ) -> SendRow:
        now = utcnow()
        row = await self._store.row(
            """INSERT INTO sends (user_id, chat_id, msisdn, sender, text, encoding, parts, locale,
                                  created_at, updated_at, recipient_name, recipient_via)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
            (user_id, chat_id, msisdn, sender, text, encoding, parts, locale, now, now, recipient_name, recipient_via),
        )
        assert row is not None
        return SendRow(**dict(row))

    async def set_preview(self, send_id: int, message_id: int) -> SendRow | None:
        """The message that shows the draft; None when it is no longer a draft."""
        return await self._change(
            """UPDATE sends SET preview_message_id = ?, updated_at = ? WHERE id = ? AND state = 'draft'
               RETURNING *""",
            (message_id, utcnow(), send_id),
        )

    async def set_sender(self, send_id: int, sender: str) -> SendRow | None:
        """None when it is no longer a draft."""
        return await self._change(
            "UPDATE sends SET sender = ?, updated_at = ? WHERE id = ? AND state = 'draft' RETURNING *",
            (sender, utcnow(), send_id),
        )

    async def set_text(self, send_id: int, user_id: int, text: str, encoding: str, parts: int) -> SendRow | None:
        """A draft's text changed (plain characters for typographic ones); None when it is no longer a draft."""
        return await self._change(
            """UPDATE sends SET text = ?, encoding = ?, parts = ?, updated_at = ?
               WHERE id = ? AND user_id = ? AND state = 'draft' RETURNING *""",
            (text, encoding, parts, utcnow(), send_id, user_id),
        )

    async def claim(
        self,
        send_id: int,
        user_id: int,
        preview_message_id: int | None = None,
        limits: Sequence[tuple[Epoch, int]] = (),
        *,
        created_after: Epoch = 0,
    ) -> SendRow | None:
        """draft -> sending in one conditional UPDATE: exactly one caller ever gets the row of a draft. The pressed
        preview's id is kept when the draft does not know it yet (a press can overtake the handler that sent the
        preview): whatever happens next is then told on that preview. Each of `limits` (since, parts) holds in the
        same statement: the parts this operator spent since then plus this draft's stay within it, so concurrent
        presses on several drafts cannot all slip under a limit together. A draft that expired, or was created
        before `created_after` (ISO UTC), is not claimed."""
        conditions = "".join(f" AND sends.parts + ({SPENT_SQL} AND s.claimed_at >= ?) <= ?" for _ in limits)
        params: list[Any] = [utcnow(), utcnow(), preview_message_id, send_id, user_id, created_after]
        for since, most in limits:
            params += [user_id, since, most]
        sql = f"""UPDATE sends SET state = 'sending', updated_at = ?, claimed_at = ?,
                    preview_message_id = COALESCE(preview_message_id, ?)
                  WHERE id = ? AND user_id = ? AND state = 'draft' AND expired_at IS NULL AND created_at >= ?{conditions}
                  RETURNING *"""  # noqa: S608
        if not limits or not self._store.dialect.postgres:
            return await self._change(sql, tuple(params))  # SQLite: one statement, one writer at a time
        # PostgreSQL, READ COMMITTED: the sum in the subquery does not see a claim committed while this statement
        # ran; presses of one operator (on any replica) take their turn under a transaction advisory lock.
        async with self._store.transaction(serialise=user_id) as db:
            return _send(await db.row(sql, tuple(params)))

    async def expire_drafts(self, created_before: Epoch) -> list[SendRow]:
        """Drafts created before `created_before` (epoch seconds) become expired: they can no longer send."""
        now = utcnow()
        return await self._list(
            """UPDATE sends SET expired_at = ?, updated_at = ?
               WHERE state = 'draft' AND expired_at IS NULL AND created_at < ? RETURNING *""",
            (now, now, created_before),
        )

    async def parts_spent(self, user_id: int, sinces: Sequence[Epoch]) -> list[int]:
        """SMS parts this operator's presses sent (or may have sent) since each of `sinces` (epoch seconds), in one
        trip."""
        if not sinces:
            return []
        sums = ", ".join("COALESCE(SUM(CASE WHEN s.claimed_at >= ? THEN s.parts END), 0)" for _ in sinces)
        row = await self._store.row(
            f"""SELECT {sums} FROM sends AS s
                WHERE s.user_id = ? AND s.state IN ('sending', 'accepted', 'unknown')""",  # noqa: S608
            (*sinces, user_id),
        )
        assert row is not None
        return [int(value) for value in row]

    async def cancel(self, send_id: int, user_id: int) -> SendRow | None:
        return await self._change(
            """UPDATE sends SET state = 'cancelled', updated_at = ? WHERE id = ? AND user_id = ? AND state = 'draft'
               RETURNING *""",
            (utcnow(), send_id, user_id),
        )

    async def cancel_drafts_of(self, user_id: int) -> list[SendRow]:
        """Every open draft of this person cancelled (their access was withdrawn); the rows as written."""
        return await self.cancel_open(user_id, reason=WITHDRAWN)

    async def cancel_open(self, user_id: int, *, reason: str = CANCELLED_BY_OPERATOR) -> list[SendRow]:
        """Every open draft of this operator -> `cancelled` (/cancel); the rows as written. `reason` is kept in
        `error_text` (unused by a cancelled draft), so that a later press can say why."""
        return await self._list(
            """UPDATE sends SET state = 'cancelled', error_text = ?, updated_at = ?
               WHERE user_id = ? AND state = 'draft' RETURNING *""",
            (reason, utcnow(), user_id),
        )

    async def close_older(self, row: SendRow) -> list[SendRow]:
        """This operator's open single drafts OLDER than `row` (a smaller id) to the same number or with the same
        text -> `cancelled` as replaced, in one statement; the rows as written. Only older ones: two drafts made
        at the same moment leave exactly the newer one open."""
        return await self._list(
            """UPDATE sends SET state = 'cancelled', error_text = ?, updated_at = ?
               WHERE user_id = ? AND state = 'draft' AND id < ? AND (msisdn = ? OR text = ?) RETURNING *""",
            (REPLACED, utcnow(), row.user_id, row.id, row.msisdn, row.text),
        )

    async def close_older_than_batch(self, user_id: int, batch_id: int, opened_after: int, text: str) -> list[SendRow]:
        """This operator's open single drafts made before the batch draft `batch_id` (ids up to its
        `opened_after`) with its text, to one of its numbers -> `cancelled` as replaced, in one statement."""
        return await self._list(
            """UPDATE sends SET state = 'cancelled', error_text = ?, updated_at = ?
               WHERE user_id = ? AND state = 'draft' AND id <= ? AND text = ?
                 AND msisdn IN (SELECT msisdn FROM batch_members WHERE batch_id = ?) RETURNING *""",
            (REPLACED, utcnow(), user_id, opened_after, text, batch_id),
        )

    async def retire_expired(self, send_id: int, user_id: int, created_before: Epoch) -> SendRow | None:
        """An expired draft is marked EXPIRED (in `error_text`; it stays an expired draft), in one conditional
        UPDATE: of many presses on it, only the one that gets the row back opens a fresh preview."""
        now = utcnow()
        return await self._change(
            """UPDATE sends SET error_text = ?, expired_at = COALESCE(expired_at, ?), updated_at = ?
               WHERE id = ? AND user_id = ? AND state = 'draft' AND error_text IS NULL
                 AND (expired_at IS NOT NULL OR created_at < ?)
               RETURNING *""",
            (EXPIRED, now, now, send_id, user_id, created_before),
        )

    # --- outcomes --------------------------------------------------------------------------------------
    async def mark_accepted(
        self,
        send_id: int,
        gateway_id: str,
        balance: Decimal,
        *,
        first_check_at: float,
        interval: float,
        deadline_at: float,
    ) -> SendRow | None:
        """Record the gateway's id and queue the SMS for delivery tracking, atomically."""
        now = utcnow()
        async with self._store.transaction() as db:
            row = await db.row(
                """UPDATE sends SET state = 'accepted', gateway_id = ?, balance_after = ?, sent_at = ?,
                     status_code = 3, status_name = 'ACCEPTD', updated_at = ?
                   WHERE id = ? AND state IN ('sending', 'unknown') RETURNING *""",
                (gateway_id, str(balance), now, now, send_id),
            )
            if row is not None:
                await db.rows(
                    """INSERT INTO tracking (send_id, next_check_at, interval, attempts, deadline_at)
                       VALUES (?, ?, ?, 0, ?)
                       ON CONFLICT (send_id) DO UPDATE SET next_check_at = excluded.next_check_at,
                         interval = excluded.interval, attempts = 0, deadline_at = excluded.deadline_at""",
                    (send_id, first_check_at, interval, deadline_at),
                )
        return _send(row)

    async def mark_failed(self, send_id: int, code: int | None, text: str) -> SendRow | None:
        """`sending` -> `failed`; its outcome is owed to the operator until `outcome_shown`."""
        now = utcnow()
        return await self._change(
            """UPDATE sends SET state = 'failed', error_code = ?, error_text = ?, final_at = ?, updated_at = ?,
                 outcome_owed_at = ?
               WHERE id = ? AND state = 'sending' RETURNING *""",
            (code, text, now, now, now, send_id),
        )

    async def mark_unknown(self, send_id: int, reason: str, *, owed: bool = True) -> SendRow | None:
        """`sending` -> `unknown`; unless `owed` is False, its outcome is owed to the operator until
        `outcome_shown`."""
        now = utcnow()
        return await self._change(
            """UPDATE sends SET state = 'unknown', error_text = ?, updated_at = ?,
                 outcome_owed_at = COALESCE(?, outcome_owed_at)
               WHERE id = ? AND state = 'sending' RETURNING *""",
            (reason, now, now if owed else None, send_id),
        )

    async def owed_outcomes(self) -> list[SendRow]:
        """Sends that failed or went unknown and whose operator was not shown it (a crash came in between)."""
        return await self._list(
            """SELECT * FROM sends WHERE outcome_owed_at IS NOT NULL
                 AND id NOT IN (SELECT send_id FROM batch_members WHERE send_id IS NOT NULL)
               ORDER BY id"""  # a batch's recipients are told in its summary (bot/services/batch.py)
        )

    async def outcome_shown(self, send_id: int) -> None:
        await self._store.rows("UPDATE sends SET outcome_owed_at = NULL WHERE id = ?", (send_id,))

    async def set_result_message(self, send_id: int, message_id: int) -> SendRow | None:
        """The message that shows the outcome; the delivery notice edits it. Returns the row as written."""
        return await self._change(
            "UPDATE sends SET result_message_id = ?, updated_at = ? WHERE id = ? RETURNING *",
            (message_id, utcnow(), send_id),
        )

    async def interrupted(self) -> list[SendRow]:
        """Rows in `sending`: at start-up, sends a crash interrupted (see SendingService.recover). A batch's
        recipient never attempted is not one: it goes out after the restart (bot/services/batch.py)."""
        return await self._list(
            """SELECT * FROM sends WHERE state = 'sending'
                 AND id NOT IN (SELECT send_id FROM batch_members WHERE attempted_at IS NULL AND send_id IS NOT NULL)
               ORDER BY id"""
        )

    async def erase_older_than(self, cutoff: Epoch) -> int:
        """RETENTION_DAYS: the text and number of sends created before `cutoff` (UTC ISO) are erased; who sent
        it, when and what became of it stay. A send still being sent, tracked or owed to its operator waits; an
        old draft can no longer be sent (cancelled). Returns how many were erased."""
        now = utcnow()
        rows = await self._store.rows(
            """UPDATE sends SET text = '', msisdn = '', recipient_name = NULL, erased_at = ?, updated_at = ?,
                 state = CASE WHEN state = 'draft' THEN 'cancelled' ELSE state END
               WHERE created_at < ? AND erased_at IS NULL AND state != 'sending'
                 AND outcome_owed_at IS NULL AND notice_owed_at IS NULL
                 AND id NOT IN (SELECT send_id FROM tracking)
               RETURNING id""",
            (now, now, cutoff),
        )
        return len(rows)

    # --- reads -----------------------------------------------------------------------------------------
    async def get(self, send_id: int) -> SendRow | None:
        return _send(await self._store.row("SELECT * FROM sends WHERE id = ?", (send_id,)))

    async def by_gateway_id(self, gateway_id: str) -> SendRow | None:
        return _send(
            await self._store.row("SELECT * FROM sends WHERE gateway_id = ? ORDER BY id DESC LIMIT 1", (gateway_id,))
        )

    async def recent(self, user_id: int, limit: int) -> list[SendRow]:
        """This operator's latest sends (no drafts, no cancelled ones), the latest sent first (/status)."""
        return await self._list(
            """SELECT * FROM sends WHERE user_id = ? AND state NOT IN ('draft', 'cancelled')
               ORDER BY COALESCE(sent_at, created_at) DESC, id DESC LIMIT ?""",
            (user_id, limit),
        )

    async def history(self, *, user_id: int | None, limit: int, offset: int = 0) -> list[SendRow]:
        """Latest sends, the latest sent first (a send that never went out: by when its draft was made), drafts
        and cancelled ones left out; `user_id=None` means everyone's."""
        where, params = _history_filter(user_id)
        return await self._list(
            f"""SELECT * FROM sends WHERE {where}
                ORDER BY COALESCE(sent_at, created_at) DESC, id DESC LIMIT ? OFFSET ?""",  # noqa: S608
            (*params, limit, offset),
        )

    async def history_count(self, *, user_id: int | None) -> int:
        where, params = _history_filter(user_id)
        return int(await self._store.scalar(f"SELECT COUNT(*) FROM sends WHERE {where}", params))  # noqa: S608

    # --- read-only counts for /metrics ------------------------------------------------------------------
    async def counts_by_state(self) -> dict[str, int]:
        rows = await self._store.rows("SELECT state, COUNT(*) FROM sends GROUP BY state")
        return {str(r[0]): int(r[1]) for r in rows}

    async def final_status_counts(self) -> dict[str, int]:
        """Accepted SMS whose tracking ended: by final status name, `untracked` when the window ran out."""
        rows = await self._store.rows(
            """SELECT CASE WHEN final = 1 THEN COALESCE(status_name, 'UNKNOWN') ELSE 'untracked' END, COUNT(*)
               FROM sends WHERE state = 'accepted' AND final_at IS NOT NULL GROUP BY 1"""
        )
        return {str(r[0]): int(r[1]) for r in rows}


def _history_filter(user_id: int | None) -> tuple[str, tuple[Any, ...]]:
    if user_id is None:
        return "state NOT IN ('draft', 'cancelled')", ()
    return "state NOT IN ('draft', 'cancelled') AND user_id = ?", (user_id,)
