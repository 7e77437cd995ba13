"""One send to several recipients (a batch): its draft, its one press, and each recipient's one attempt.

draft -> pressed (`press`: one transaction: the batch's conditional UPDATE, and one `sends` row per recipient in
state `sending`, claimed) | cancelled. Then each recipient's row is attempted once (`attempt`: a conditional
UPDATE of `attempted_at`, written before the gateway call); `done` once its outcome is written. After a restart
a recipient without `attempted_at` was never attempted (sent then); one attempted and not done was in flight
(its row became `unknown` with the other interrupted sends, and is never resent by itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.sms.recipients import Recipient
from bot.storage.models import SendRow
from bot.storage.sends import SPENT_SQL
from bot.storage.store import Row, Store, utcnow
from bot.times import Epoch

CANCELLED_BY_OPERATOR = "cancelled"  # /cancel (the Cancel button leaves cancel_reason NULL)
REPLACED = "replaced"  # a newer preview of the same SMS (the same text to one of the same numbers)
WITHDRAWN = "withdrawn"  # the operator's access was taken away


@dataclass(frozen=True, slots=True)
class BatchRow:
    id: int
    user_id: int
    chat_id: int
    sender: str
    text: str
    encoding: str
    parts: int  # per SMS
    locale: str | None
    state: str  # draft | pressed | cancelled
    cancel_reason: str | None
    preview_message_id: int | None
    created_at: Epoch
    pressed_at: Epoch | None
    sent_all_at: Epoch | None  # every recipient attempted and its outcome written
    notice_at: Epoch | None  # the one ringing notice was decided (kind: 'final' | 'watchdog')
    notice_kind: str | None
    notice_given_at: Epoch | None
    opened_after: int = 0  # the highest `sends` id when this draft was made: single drafts up to it are older
    origin_id: int | None = None  # the batch whose 🔁 Resend opened it


@dataclass(frozen=True, slots=True)
class Member:
    """One recipient of a batch, with what became of its SMS (the `sends` row's columns; None before the press)."""

    batch_id: int
    position: int
    msisdn: str
    name: str | None
    send_id: int | None
    attempted_at: Epoch | None
    done_at: Epoch | None
    state: str | None = None
    final: int = 0
    final_at: Epoch | None = None
    status_code: int | None = None
    error_text: str | None = None
    gateway_id: str | None = None  # the gateway's id of its SMS (the summary names an unknown one's)
    via: str | None = None  # how it was chosen (Recipient.via): "group:<name>", "duty", "duty:<group>"


def _batch(row: Row | None) -> BatchRow | None:
    return None if row is None else BatchRow(**dict(row))


_MEMBERS = """SELECT m.batch_id, m.position, m.msisdn, m.name, m.send_id, m.attempted_at, m.done_at,
                     s.state, COALESCE(s.final, 0), s.final_at, s.status_code, s.error_text, s.gateway_id, m.via
              FROM batch_members AS m LEFT JOIN sends AS s ON s.id = m.send_id"""


class BatchesRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        *,
        user_id: int,
        chat_id: int,
        recipients: Sequence[Recipient],
        sender: str,
        text: str,
        encoding: str,
        parts: int,
        locale: str | None,
        origin_id: int | None = None,
        created_after: Epoch = 0,
    ) -> BatchRow | None:
        """The draft and its recipients, in one transaction. With `origin_id` (🔁 Resend on that batch's summary):
        None when a draft opened from it is still open (the unique index decides: a double press opens one); one
        created before `created_after` (expired: it can no longer send) is closed first."""
        now = utcnow()
        async with self._store.transaction() as db:
            if origin_id is not None:
                await db.rows(
                    """UPDATE batches SET state = 'cancelled', cancel_reason = 'expired'
                       WHERE origin_id = ? AND state = 'draft' AND created_at < ?""",
                    (origin_id, created_after),
                )
            row = await db.row(
                """INSERT INTO batches (user_id, chat_id, sender, text, encoding, parts, locale, created_at,
                                       opened_after, origin_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM sends), ?)
                   ON CONFLICT DO NOTHING RETURNING *""",
                (user_id, chat_id, sender, text, encoding, parts, locale, now, origin_id),
            )
            if row is None:
                return None
            for position, recipient in enumerate(recipients):
                await db.rows(
                    "INSERT INTO batch_members (batch_id, position, msisdn, name, via) VALUES (?, ?, ?, ?, ?)",
                    (row["id"], position, recipient.msisdn, recipient.name, recipient.via),
                )
        return BatchRow(**dict(row))

    async def close_older(self, batch: BatchRow) -> list[BatchRow]:
        """This operator's open batch drafts OLDER than `batch` (a smaller id) with the same text and a number in
        common -> cancelled as replaced, in one statement; the rows as written. Only older ones: two made at the
        same moment leave exactly the newer one open."""
        rows = await self._store.rows(
            """UPDATE batches SET state = 'cancelled', cancel_reason = ?
               WHERE user_id = ? AND state = 'draft' AND id < ? AND text = ?
                 AND EXISTS (SELECT 1 FROM batch_members AS m WHERE m.batch_id = batches.id
                               AND m.msisdn IN (SELECT msisdn FROM batch_members WHERE batch_id = ?))
               RETURNING *""",
            (REPLACED, batch.user_id, batch.id, batch.text, batch.id),
        )
        return [BatchRow(**dict(r)) for r in rows]

    async def close_older_than_send(self, row: SendRow) -> list[BatchRow]:
        """This operator's open batch drafts made before the single draft `row` (`opened_after` below its id) with
        its text and its number among theirs -> cancelled as replaced, in one statement; the rows as written."""
        rows = await self._store.rows(
            """UPDATE batches SET state = 'cancelled', cancel_reason = ?
               WHERE user_id = ? AND state = 'draft' AND opened_after < ? AND text = ?
                 AND EXISTS (SELECT 1 FROM batch_members AS m WHERE m.batch_id = batches.id AND m.msisdn = ?)
               RETURNING *""",
            (REPLACED, row.user_id, row.id, row.text, row.msisdn),
        )
        return [BatchRow(**dict(r)) for r in rows]

    async def get(self, batch_id: int) -> BatchRow | None:
        return _batch(await self._store.row("SELECT * FROM batches WHERE id = ?", (batch_id,)))

    async def members(self, batch_id: int) -> list[Member]:
        rows = await self._store.rows(_MEMBERS + " WHERE m.batch_id = ? ORDER BY m.position", (batch_id,))
        return [Member(*r) for r in rows]

    async def of_send(self, send_id: int) -> int | None:
        """The batch a send belongs to, or None for a single send."""
        value = await self._store.scalar("SELECT batch_id FROM batch_members WHERE send_id = ?", (send_id,))
        return None if value is None else int(value)

    async def set_preview(self, batch_id: int, message_id: int) -> BatchRow | None:
        return _batch(
            await self._store.row(
                "UPDATE batches SET preview_message_id = ? WHERE id = ? AND state = 'draft' RETURNING *",
                (message_id, batch_id),
            )
        )

    async def set_sender(self, batch_id: int, user_id: int, sender: str) -> BatchRow | None:
        return _batch(
            await self._store.row(
                "UPDATE batches SET sender = ? WHERE id = ? AND user_id = ? AND state = 'draft' RETURNING *",
                (sender, batch_id, user_id),
            )
        )

    async def cancel(self, batch_id: int, user_id: int) -> BatchRow | None:
        return _batch(
            await self._store.row(
                "UPDATE batches SET state = 'cancelled' WHERE id = ? AND user_id = ? AND state = 'draft' RETURNING *",
                (batch_id, user_id),
            )
        )

    async def cancel_open(self, user_id: int, reason: str = CANCELLED_BY_OPERATOR) -> list[BatchRow]:
        """Every open batch draft of this operator (/cancel, access withdrawn); the rows as written."""
        rows = await self._store.rows(
            """UPDATE batches SET state = 'cancelled', cancel_reason = ?
               WHERE user_id = ? AND state = 'draft' RETURNING *""",
            (reason, user_id),
        )
        return [BatchRow(**dict(r)) for r in rows]

    async def press(
        self,
        batch_id: int,
        user_id: int,
        preview_message_id: int | None,
        limits: Sequence[tuple[Epoch, int]] = (),
        *,
        created_after: Epoch = 0,
    ) -> tuple[BatchRow | None, int | None]:
        """The one press: draft -> pressed, and a claimed `sends` row (state `sending`) for every recipient, in one
        transaction; exactly one caller ever gets the batch. Each of `limits` (since, parts) holds for the whole
        batch: parts spent since then plus every recipient's stay within it (else nothing changes and the index
        of the limit broken is returned). A batch created before `created_after` is not pressed."""
        now = utcnow()
        # PostgreSQL: see SendsRepository.claim
        async with self._store.transaction(serialise=user_id if limits else None) as db:
            batch = _batch(
                await db.row(
                    "SELECT * FROM batches WHERE id = ? AND user_id = ? AND state = 'draft' AND created_at >= ?",
                    (batch_id, user_id, created_after),
                )
            )
            if batch is None:
                return None, None
            count = int(await db.scalar("SELECT COUNT(*) FROM batch_members WHERE batch_id = ?", (batch_id,)))
            for index, (since, most) in enumerate(limits):
                spent = int(await db.scalar(SPENT_SQL + " AND s.claimed_at >= ?", (user_id, since)))
                if spent + count * batch.parts > most:
                    return None, index
            pressed = await db.row(
                """UPDATE batches SET state = 'pressed', pressed_at = ?,
                     preview_message_id = COALESCE(preview_message_id, ?)
                   WHERE id = ? AND state = 'draft' RETURNING *""",
                (now, preview_message_id, batch_id),
            )
            assert pressed is not None
            for m in await db.rows(
                "SELECT position, msisdn FROM batch_members WHERE batch_id = ? ORDER BY position", (batch_id,)
            ):
                send = await db.row(
                    """INSERT INTO sends (user_id, chat_id, msisdn, sender, text, encoding, parts, locale, state,
                                          preview_message_id, created_at, updated_at, claimed_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?, ?, ?) RETURNING id""",
                    (
                        user_id,
                        batch.chat_id,
                        m["msisdn"],
                        batch.sender,
                        batch.text,
                        batch.encoding,
                        batch.parts,
                        batch.locale,
                        pressed["preview_message_id"],
                        now,
                        now,
                        now,
                    ),
                )
                assert send is not None
                await db.rows(
                    "UPDATE batch_members SET send_id = ? WHERE batch_id = ? AND position = ?",
                    (send["id"], batch_id, m["position"]),
                )
        return BatchRow(**dict(pressed)), None

    # --- sending -----------------------------------------------------------------------------------------
    async def unattempted(self, batch_id: int) -> list[Member]:
        rows = await self._store.rows(
            _MEMBERS + " WHERE m.batch_id = ? AND m.send_id IS NOT NULL AND m.attempted_at IS NULL ORDER BY m.position",
            (batch_id,),
        )
        return [Member(*r) for r in rows]

    async def attempt(self, batch_id: int, position: int) -> int | None:
        """This recipient's one attempt: its send id, or None when it was attempted already (by anyone, ever)."""
        value = await self._store.scalar(
            """UPDATE batch_members SET attempted_at = ?
               WHERE batch_id = ? AND position = ? AND attempted_at IS NULL AND send_id IS NOT NULL
                 AND send_id IN (SELECT id FROM sends WHERE state = 'sending')
               RETURNING send_id""",
            (utcnow(), batch_id, position),
        )
        return None if value is None else int(value)

    async def send_rows(self, batch_id: int) -> dict[int, SendRow]:
        """The `sends` rows of this batch's recipients not attempted yet, by position (read once, before sending:
        a row in `sending` does not change until its own attempt)."""
        rows = await self._store.rows(
            """SELECT m.position, s.* FROM batch_members AS m JOIN sends AS s ON s.id = m.send_id
               WHERE m.batch_id = ? AND m.attempted_at IS NULL""",
            (batch_id,),
        )
        found: dict[int, SendRow] = {}
        for r in rows:
            columns = dict(r)
            position = int(columns.pop("position"))
            found[position] = SendRow(**columns)
        return found

    async def done(self, batch_id: int, position: int) -> None:
        """This recipient's outcome is written; it is told in the batch's summary (not owed on its own)."""
        async with self._store.locked() as db:
            await db.rows(
                "UPDATE batch_members SET done_at = ? WHERE batch_id = ? AND position = ? AND done_at IS NULL",
                (utcnow(), batch_id, position),
            )
            await db.rows(
                """UPDATE sends SET outcome_owed_at = NULL
                   WHERE id = (SELECT send_id FROM batch_members WHERE batch_id = ? AND position = ?)""",
                (batch_id, position),
            )

    async def sent_all(self, batch_id: int) -> BatchRow | None:
        """Every recipient attempted and done: the batch's sending is over (None when not, or already marked)."""
        return _batch(
            await self._store.row(
                """UPDATE batches SET sent_all_at = ?
                   WHERE id = ? AND sent_all_at IS NULL AND state = 'pressed'
                     AND NOT EXISTS (SELECT 1 FROM batch_members WHERE batch_id = ? AND done_at IS NULL)
                   RETURNING *""",
                (utcnow(), batch_id, batch_id),
            )
        )

    # --- after a restart ---------------------------------------------------------------------------------
    async def unfinished(self) -> list[BatchRow]:
        """Pressed batches whose sending is not over (a crash or a stop came in between)."""
        rows = await self._store.rows(
            "SELECT * FROM batches WHERE state = 'pressed' AND sent_all_at IS NULL ORDER BY id"
        )
        return [BatchRow(**dict(r)) for r in rows]

    async def open(self) -> list[BatchRow]:
        """Pressed batches whose ringing notice was not given yet: their summary may still change."""
        rows = await self._store.rows(
            "SELECT * FROM batches WHERE state = 'pressed' AND notice_given_at IS NULL ORDER BY id"
        )
        return [BatchRow(**dict(r)) for r in rows]

    async def in_flight(self, batch_id: int) -> list[Member]:
        """Attempted, not done: in flight when the bot stopped; done once their operator is told (`settle`)."""
        where = " WHERE m.batch_id = ? AND m.attempted_at IS NOT NULL AND m.done_at IS NULL ORDER BY m.position"
        return [Member(*r) for r in await self._store.rows(_MEMBERS + where, (batch_id,))]

    async def settle(self, batch_id: int, members: Sequence[Member]) -> None:
        """Recipients in flight at a restart, told as they are: done, their outcome no longer owed."""
        async with self._store.transaction() as db:
            for m in members:
                await db.rows(
                    "UPDATE batch_members SET done_at = ? WHERE batch_id = ? AND position = ? AND done_at IS NULL",
                    (utcnow(), batch_id, m.position),
                )
                await db.rows("UPDATE sends SET outcome_owed_at = NULL WHERE id = ?", (m.send_id,))

    async def erase_older_than(self, cutoff: Epoch) -> int:
        """RETENTION_DAYS: the text and the recipients' numbers and names of batches created before `cutoff` (epoch
        seconds) are erased, once nothing is left to send or tell (their `sends` rows are erased on their own)."""
        async with self._store.transaction() as db:
            rows = await db.rows(
                """UPDATE batches SET text = '', state = CASE WHEN state = 'draft' THEN 'cancelled' ELSE state END
                   WHERE created_at < ? AND text != ''
                     AND (state != 'pressed' OR (sent_all_at IS NOT NULL AND notice_given_at IS NOT NULL))
                   RETURNING id""",
                (cutoff,),
            )
            for r in rows:
                await db.rows("UPDATE batch_members SET msisdn = '', name = NULL WHERE batch_id = ?", (r[0],))
        return len(rows)

    # --- the one ringing notice --------------------------------------------------------------------------
    async def decide_notice(self, batch_id: int, kind: str) -> BatchRow | None:
        """The batch's one ringing notice ('final' or 'watchdog'): the row when this call decided it, else None."""
        return _batch(
            await self._store.row(
                """UPDATE batches SET notice_at = ?, notice_kind = ?
                   WHERE id = ? AND notice_at IS NULL AND sent_all_at IS NOT NULL RETURNING *""",
                (utcnow(), kind, batch_id),
            )
        )

    async def notice_given(self, batch_id: int) -> None:
        await self._store.rows("UPDATE batches SET notice_given_at = ? WHERE id = ?", (utcnow(), batch_id))

    async def owed_notices(self) -> list[BatchRow]:
        rows = await self._store.rows(
            "SELECT * FROM batches WHERE notice_at IS NOT NULL AND notice_given_at IS NULL ORDER BY id"
        )
        return [BatchRow(**dict(r)) for r in rows]

    async def watched(self, sent_before: Epoch) -> list[BatchRow]:
        """Batches sent before `sent_before` (epoch seconds) without their ringing notice yet (the watchdog's)."""
        rows = await self._store.rows(
            """SELECT * FROM batches WHERE notice_at IS NULL AND sent_all_at IS NOT NULL AND sent_all_at < ?
               ORDER BY id""",
            (sent_before,),
        )
        return [BatchRow(**dict(r)) for r in rows]

    async def next_watch(self) -> str | None:
        value: Any = await self._store.scalar(
            "SELECT MIN(sent_all_at) FROM batches WHERE notice_at IS NULL AND sent_all_at IS NOT NULL"
        )
        return None if value is None else str(value)
