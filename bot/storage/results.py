"""Issue 17, acting on results: recent SMS to a number (the duplicate guard) and the watchdog's notices.

The watchdog tells an operator once when an SMS they sent is still not final DELIVERY_ALERT_MINUTES after it was
accepted. A notice is *decided and recorded as given* before it is sent (`decide_alert`: one conditional INSERT,
so it is decided once per SMS, across restarts): a database that cannot write after that never makes it ring
again and again. The message's id is kept afterwards (`alert_sent`, best effort). A notice that could not go out
(a stop in the middle) is owed again (`alert_owed`) and goes out at the next round or start (`owed_alerts`,
`take_owed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.storage.models import SendRow
from bot.storage.store import Store, utcnow
from bot.times import Epoch

#: The watchdog's SMS are single sends; a send that belongs to a batch gets the batch's own watchdog notice.
WATCHDOG_SINGLE_SENDS_SQL = "NOT EXISTS (SELECT 1 FROM batch_members m WHERE m.send_id = s.id)"

#: States of an SMS that was actually sent (its Send press claimed it): not drafts, not cancelled, and not one the
#: gateway certainly refused (`failed`: the number got nothing).
SENT_STATES = ("sending", "accepted", "unknown")

# An ordered join (SQLite: CROSS JOIN): from the (short) tracking queue to its sends, never a scan of every
# accepted send. `{join}` is the dialect's (bot/storage/dialect.py).
_OVERDUE = f"""FROM tracking t {{join}} sends s ON s.id = t.send_id
    WHERE s.state = 'accepted' AND s.sent_at IS NOT NULL AND {WATCHDOG_SINGLE_SENDS_SQL}
      AND NOT EXISTS (SELECT 1 FROM delivery_alerts a WHERE a.send_id = s.id)"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class SentTo:
    """The latest SMS actually sent to a number within a window, who sent it, and how many were sent there."""

    row: SendRow
    who: str  # the sender's display name ('' when not known)
    count: int


class ResultsRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._overdue = _OVERDUE.format(join=store.dialect.ordered_join)

    # --- the duplicate guard -----------------------------------------------------------------------------
    async def sent_to(
        self, msisdns: Sequence[str], since: Epoch, *, exclude: Sequence[int] = (), draft_id: int | None = None
    ) -> dict[str, SentTo]:
        """For each of `msisdns` that got an SMS (claimed by a Send press) at or after `since` (epoch seconds), by
        anyone: the latest such SMS, who sent it and how many. Left out: sends in `exclude` (row ids), and the
        send that draft `draft_id` repeats (its preview says what became of that one)."""
        numbers = sorted(set(msisdns))
        if not numbers:
            return {}
        marks = ", ".join("?" for _ in numbers)
        skip = f" AND s.id NOT IN ({', '.join('?' for _ in exclude)})" if exclude else ""
        params: list[object] = [*numbers, since, *exclude]
        if draft_id is not None:
            skip += " AND s.id NOT IN (SELECT origin_id FROM resends WHERE draft_id = ?)"
            params.append(draft_id)
        states = ", ".join(f"'{state}'" for state in SENT_STATES)
        # `s.state || ''`: the look-up goes by number and time (sends_msisdn_claimed), never by state (a scan of every
        # accepted send) however many numbers a batch asks about.
        rows = await self._store.rows(
            f"""SELECT s.*, COALESCE(NULLIF(o.name, ''), NULLIF(p.name, ''), '') AS who,
                       COUNT(*) OVER (PARTITION BY s.msisdn) AS how_many,
                       ROW_NUMBER() OVER (PARTITION BY s.msisdn
                                          ORDER BY COALESCE(s.sent_at, s.claimed_at) DESC, s.id DESC) AS rank
                FROM sends s
                LEFT JOIN operators o ON o.user_id = s.user_id
                LEFT JOIN people p ON p.user_id = s.user_id
                WHERE s.msisdn IN ({marks}) AND s.state || '' IN ({states}) AND s.claimed_at >= ?{skip}""",  # noqa: S608
            params,
        )
        found: dict[str, SentTo] = {}
        for r in rows:
            if r["rank"] != 1:
                continue
            values = dict(r)
            who, count = values.pop("who"), values.pop("how_many")
            values.pop("rank")
            found[values["msisdn"]] = SentTo(SendRow(**values), str(who), int(count))
        return found

    # --- a draft that repeats a send ----------------------------------------------------------------------
    async def set_origin(self, draft_id: int, origin_id: int) -> None:
        await self._store.rows(
            """INSERT INTO resends (draft_id, origin_id) VALUES (?, ?)
               ON CONFLICT (draft_id) DO UPDATE SET origin_id = excluded.origin_id""",
            (draft_id, origin_id),
        )

    async def origin_of(self, draft_id: int) -> SendRow | None:
        """The send this draft repeats (📨 Send again, 🔁 Try again), as it is now; None for a draft of its own."""
        row = await self._store.row(
            "SELECT s.* FROM resends r JOIN sends s ON s.id = r.origin_id WHERE r.draft_id = ?", (draft_id,)
        )
        return None if row is None else SendRow(**dict(row))

    # --- the watchdog ------------------------------------------------------------------------------------
    async def overdue(self, accepted_before: Epoch, limit: int = 50) -> list[SendRow]:
        """Single SMS still tracked (not final) that were accepted at or before `accepted_before` (epoch seconds) and
        whose watchdog notice was not decided yet, the earliest first."""
        rows = await self._store.rows(
            f"SELECT s.* {self._overdue} AND s.sent_at <= ? ORDER BY s.sent_at, s.id LIMIT ?",
            (accepted_before, limit),
        )
        return [SendRow(**dict(r)) for r in rows]

    async def next_overdue(self) -> Epoch | None:
        """When (epoch seconds) the earliest SMS that may still get a watchdog notice was accepted; None: there is
        none."""
        value = await self._store.scalar(f"SELECT MIN(s.sent_at) {self._overdue}")
        return None if value is None else int(value)

    async def decide_alert(self, send_id: int) -> bool:
        """The watchdog's notice of this SMS is decided and recorded as given, before it is sent: True for the
        one caller that decided it, False when it was decided before or the SMS is no longer tracked (final
        meanwhile)."""
        now = utcnow()
        row = await self._store.row(
            """INSERT INTO delivery_alerts (send_id, decided_at, given_at)
               SELECT CAST(? AS BIGINT), ?, ? WHERE EXISTS (SELECT 1 FROM tracking WHERE send_id = ?)
               ON CONFLICT (send_id) DO NOTHING RETURNING send_id""",
            (send_id, now, now, send_id),
        )
        return row is not None

    async def take_owed(self, send_id: int) -> bool:
        """An owed notice is recorded as given before it is sent: True for the one caller that took it."""
        row = await self._store.row(
            "UPDATE delivery_alerts SET given_at = ? WHERE send_id = ? AND given_at IS NULL RETURNING send_id",
            (utcnow(), send_id),
        )
        return row is not None

    async def alert_sent(self, send_id: int, message_id: int | None) -> None:
        """The message that carried the notice (None: Telegram would not take it)."""
        await self._store.rows("UPDATE delivery_alerts SET message_id = ? WHERE send_id = ?", (message_id, send_id))

    async def alert_owed(self, send_id: int) -> None:
        """The notice did not go out after all (a stop cut it short): owed again."""
        await self._store.rows("UPDATE delivery_alerts SET given_at = NULL WHERE send_id = ?", (send_id,))

    async def owed_alerts(self) -> list[SendRow]:
        """Notices decided but not given (a crash or a stop came in between), with their SMS as they are now."""
        rows = await self._store.rows(
            """SELECT s.* FROM delivery_alerts a JOIN sends s ON s.id = a.send_id
               WHERE a.given_at IS NULL ORDER BY a.send_id"""
        )
        return [SendRow(**dict(r)) for r in rows]

    async def alerts_given(self, send_id: int) -> int:
        """How many watchdog notices this SMS got (0 or 1; tests and /metrics read it)."""
        value = await self._store.scalar(
            "SELECT COUNT(*) FROM delivery_alerts WHERE send_id = ? AND given_at IS NOT NULL", (send_id,)
        )
        return int(value or 0)
