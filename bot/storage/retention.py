"""What the retention sweep forgets (bot/services/retention.py): one statement per table, each taking the cutoff
(epoch seconds, as every `*_at` column is written) before which its rows go.

Nothing is forgotten while it can still change or is still owed to someone: a send being sent, tracked or owed
its outcome or notice keeps its feed line and watchdog row; a batch keeps its rows until it was sent to all and
its notice given; an alert group keeps its messages while they are being drawn. The send log itself (`sends`)
is never deleted: RETENTION_DAYS erases its text and number (bot/storage/sends.py), who, when and what became
of it stay.
"""

from __future__ import annotations

from bot.storage.store import Store
from bot.times import Epoch

#: A send that is settled: nothing is being sent, tracked or owed for it (the same test as the send log's erasure).
SETTLED_SEND = """s.state != 'sending' AND s.outcome_owed_at IS NULL AND s.notice_owed_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM tracking t WHERE t.send_id = s.id)"""

#: A batch that is settled: never pressed (a preview, now cancelled or expired), or sent to all and its one notice
#: given.
SETTLED_BATCH = "(b.state != 'pressed' OR (b.sent_all_at IS NOT NULL AND b.notice_given_at IS NOT NULL))"


class RetentionRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def alert_groups(self, *, resolved_before: Epoch, received_before: Epoch) -> int:
        """Alert groups resolved before `resolved_before`, and any group (one that never resolved: the source
        stopped sending) last heard of before `received_before`, with their messages (ON DELETE CASCADE).
        A group whose messages are being drawn waits. `resolved_at` is the `received_at` of the resolving
        notification, so both conditions go by the `received_at` index."""
        rows = await self._store.rows(
            """DELETE FROM alert_groups
                WHERE wanted_at IS NULL
                  AND ((status = 'resolved' AND received_at < ?) OR received_at < ?)
               RETURNING id""",
            (resolved_before, received_before),
        )
        return len(rows)

    async def alert_messages(self) -> int:
        """Messages of alert groups that are gone (the cascade removes them; this catches a database whose
        foreign keys were off when a group was deleted)."""
        rows = await self._store.rows(
            """DELETE FROM alert_messages
                WHERE NOT EXISTS (SELECT 1 FROM alert_groups g WHERE g.id = alert_messages.group_id)
               RETURNING group_id"""
        )
        return len(rows)

    async def feed_lines(self, before: Epoch) -> int:
        """The team feed's lines (each holds the number, the name and with TEAM_FEED_TEXT the text it shows)
        created before `before`, unless their send or batch is still unsettled. The message in the team chat
        stays as Telegram keeps it; only the bot's copy goes."""
        rows = await self._store.rows(
            f"""DELETE FROM feed_lines
                 WHERE created_at < ?
                   AND NOT (kind = 'send' AND EXISTS (SELECT 1 FROM sends s
                                WHERE s.id = CAST(feed_lines.ref AS INTEGER) AND NOT ({SETTLED_SEND})))
                   AND NOT (kind = 'batch' AND EXISTS (SELECT 1 FROM batches b
                                WHERE b.id = CAST(feed_lines.ref AS INTEGER) AND NOT {SETTLED_BATCH}))
                RETURNING id""",  # noqa: S608 — constants, no input
            (before,),
        )
        return len(rows)

    async def access_requests(self, before: Epoch) -> int:
        """Access requests decided before `before`, with the admins' messages that showed them (ON DELETE
        CASCADE). A pending one stays; a denial matters for a day only (bot/services/access.py)."""
        rows = await self._store.rows(
            "DELETE FROM access_requests WHERE status != 'pending' AND decided_at < ? RETURNING id", (before,)
        )
        return len(rows)

    async def audit_log(self, before: Epoch) -> int:
        rows = await self._store.rows("DELETE FROM audit_log WHERE at < ? RETURNING id", (before,))
        return len(rows)

    async def batches(self, before: Epoch, *, sent_too: bool) -> int:
        """Batches (sends to several recipients) created before `before` and settled, with their member rows
        (ON DELETE CASCADE); with `sent_too` False only those never pressed (previews: the send log keeps a
        pressed one). Their recipients' `sends` rows stay in the send log."""
        pressed = "" if sent_too else " AND b.state != 'pressed'"
        rows = await self._store.rows(
            f"DELETE FROM batches AS b WHERE created_at < ? AND {SETTLED_BATCH}{pressed} RETURNING id",  # noqa: S608
            (before,),
        )
        return len(rows)

    async def delivery_alerts(self, before: Epoch) -> int:
        """The watchdog's notices decided before `before` and given, once their SMS is no longer tracked (a
        tracked SMS without its row would be noticed again)."""
        rows = await self._store.rows(
            """DELETE FROM delivery_alerts
                WHERE decided_at < ? AND given_at IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM tracking t WHERE t.send_id = delivery_alerts.send_id)
               RETURNING send_id""",
            (before,),
        )
        return len(rows)

    async def resends(self, before: Epoch) -> int:
        """Which send a draft repeated, for drafts made before `before` that can no longer send (the preview
        is long expired)."""
        rows = await self._store.rows(
            """DELETE FROM resends
                WHERE EXISTS (SELECT 1 FROM sends s
                               WHERE s.id = resends.draft_id AND s.created_at < ? AND s.state != 'sending')
               RETURNING draft_id""",
            (before,),
        )
        return len(rows)

    async def seen_updates(self, before: Epoch) -> int:
        """Remembered update ids seen before `before` (Telegram redelivers an update for 24 hours at most)."""
        rows = await self._store.rows("DELETE FROM seen_updates WHERE seen_at < ? RETURNING update_id", (before,))
        return len(rows)
