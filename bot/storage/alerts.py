"""Alert groups (POST /alerts) and the messages each was posted in (operators' chats and the team feed).

One row per group key holds the group's latest state — the one place issue 28 (✋, escalation) builds on: a
burst of notifications for one key is one row, drawn once. `posted_at` is when the group was last due a new post
(a new key, firing again after it resolved, or still firing after ALERT_REPEAT_MINUTES); a chat whose message is
older than that gets a new one, else its message is edited. `wanted_at`: the group's messages must be brought up
to date (cleared by the round that saw that state). `placed_for`/`digest_id`: whether that post went out as the
group's own messages or into a storm digest (`alert_digests`, one message per chat, kept current). `acted_*`: who
sent its SMS to duty; `alert_drafts`: the previews opened from it (its resolution closes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot import times
from bot.storage.batches import BatchRow
from bot.storage.models import SendRow
from bot.storage.store import Store, utcnow
from bot.times import Epoch

if TYPE_CHECKING:
    from bot.services.alert_payload import AlertGroup

#: Why a draft opened from an alert was closed (kept in `sends.error_text` / `batches.cancel_reason`).
ALERT_RESOLVED = "alert_resolved"


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    group_key: str
    status: str
    alertname: str
    severity: str
    summary: str
    firing: int
    total: int
    external_url: str
    received_at: Epoch
    posted_at: Epoch | None
    resolved_at: Epoch | None
    wanted_at: str | None
    acted_by: int | None = None  # who sent its SMS to duty (the latest one), when, and which send it was
    acted_at: Epoch | None = None
    acted_send: int | None = None
    placed_for: Epoch | None = None  # the `posted_at` whose place was decided (own messages or a digest)
    digest_id: int | None = None  # that post went into this storm digest (None: the group's own messages)
    taken_by: int | None = None  # ✋ who is on it, and since when (epoch seconds; cleared on let-go and resolve)
    taken_at: int | None = None
    fired_at: int | None = None  # when it was first received as firing, epoch seconds (the ladder counts from it)

    @property
    def in_digest(self) -> bool:
        """Its current post went into a storm digest, not into messages of its own."""
        return self.digest_id is not None and self.placed_for == self.posted_at


@dataclass(frozen=True, slots=True)
class AlertMessage:
    group_id: int
    chat_id: int
    message_id: int | None
    shown: str | None
    posted_at: Epoch


@dataclass(frozen=True, slots=True)
class Digest:
    """A storm's digest: the groups past the first few a minute, listed in one message per chat."""

    id: int
    started_at: Epoch
    last_at: Epoch
    wanted_at: str | None


class AlertsRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._tick = 0

    async def take(self, group: AlertGroup, repeat_cutoff: Epoch) -> AlertRow:
        """Store a notification. A new key, a group firing again after it resolved (phones must ring), or a firing
        one last posted before `repeat_cutoff` (epoch seconds) is due a new post; anything else updates the group (its
        messages are edited). Firing again after a resolution forgets who acted on the earlier firing; a resolution
        lets go of a ✋ take."""
        now = utcnow()
        self._tick += 1
        wanted = f"{now}#{self._tick}"
        firing = group.status == "firing"
        row = await self._store.row(
            """INSERT INTO alert_groups (group_key, status, alertname, severity, summary, firing, total,
                                         external_url, received_at, posted_at, resolved_at, wanted_at, fired_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (group_key) DO UPDATE SET
                   status = excluded.status, alertname = excluded.alertname, severity = excluded.severity,
                   summary = excluded.summary, firing = excluded.firing, total = excluded.total,
                   external_url = excluded.external_url, received_at = excluded.received_at,
                   posted_at = CASE WHEN excluded.status = 'firing'
                                     AND (alert_groups.posted_at IS NULL OR alert_groups.posted_at < ?
                                          OR alert_groups.status = 'resolved')
                                    THEN excluded.received_at ELSE alert_groups.posted_at END,
                   acted_by = CASE WHEN alert_groups.status = 'resolved' THEN NULL ELSE alert_groups.acted_by END,
                   acted_at = CASE WHEN alert_groups.status = 'resolved' THEN NULL ELSE alert_groups.acted_at END,
                   acted_send = CASE WHEN alert_groups.status = 'resolved' THEN NULL
                                     ELSE alert_groups.acted_send END,
                   resolved_at = CASE WHEN excluded.status = 'resolved' THEN excluded.received_at END,
                   fired_at = CASE WHEN excluded.status = 'firing'
                                    AND (alert_groups.status = 'resolved' OR alert_groups.fired_at IS NULL)
                                   THEN excluded.fired_at ELSE alert_groups.fired_at END,
                   taken_by = CASE WHEN excluded.status = 'resolved' THEN NULL ELSE alert_groups.taken_by END,
                   taken_at = CASE WHEN excluded.status = 'resolved' THEN NULL ELSE alert_groups.taken_at END,
                   wanted_at = excluded.wanted_at
               RETURNING *""",
            (
                group.group_key,
                group.status,
                group.alertname,
                group.severity,
                group.summary,
                group.firing,
                group.total,
                group.external_url,
                now,
                now if firing else None,
                None if firing else now,
                wanted,
                times.now() if firing else None,
                repeat_cutoff,
            ),
        )
        assert row is not None
        return AlertRow(**dict(row))

    async def get(self, group_id: int) -> AlertRow | None:
        row = await self._store.row("SELECT * FROM alert_groups WHERE id = ?", (group_id,))
        return AlertRow(**dict(row)) if row is not None else None

    async def wanted(self, limit: int = 1000) -> list[AlertRow]:
        rows = await self._store.rows(
            "SELECT * FROM alert_groups WHERE wanted_at IS NOT NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [AlertRow(**dict(r)) for r in rows]

    async def done(self, group: AlertRow) -> None:
        """Every message of `group` (as read) is up to date; still wanted if a newer notification came since."""
        await self._store.rows(
            "UPDATE alert_groups SET wanted_at = NULL WHERE id = ? AND wanted_at IS NOT DISTINCT FROM ?",
            (group.id, group.wanted_at),
        )

    async def message(self, group_id: int, chat_id: int) -> AlertMessage | None:
        row = await self._store.row(
            "SELECT * FROM alert_messages WHERE group_id = ? AND chat_id = ?", (group_id, chat_id)
        )
        return AlertMessage(**dict(row)) if row is not None else None

    async def posted(self, group_id: int, chat_id: int, message_id: int, text: str, posted_at: Epoch) -> None:
        await self._store.rows(
            """INSERT INTO alert_messages (group_id, chat_id, message_id, shown, posted_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (group_id, chat_id) DO UPDATE SET message_id = excluded.message_id,
                   shown = excluded.shown, posted_at = excluded.posted_at""",
            (group_id, chat_id, message_id, text, posted_at),
        )

    async def shown(self, group_id: int, chat_id: int, text: str) -> None:
        await self._store.rows(
            "UPDATE alert_messages SET shown = ? WHERE group_id = ? AND chat_id = ?", (text, group_id, chat_id)
        )

    async def delivered_to(self, group_id: int, chat_id: int, message_id: int) -> bool:
        """`message_id` in `chat_id` is a message of this group (a press on it is genuine)."""
        found = await self._store.scalar(
            "SELECT 1 FROM alert_messages WHERE group_id = ? AND chat_id = ? AND message_id = ?",
            (group_id, chat_id, message_id),
        )
        return found is not None

    async def has_messages(self, group_ids: list[int]) -> set[int]:
        """Which of these groups were ever posted in messages of their own."""
        if not group_ids:
            return set()
        marks = ",".join("?" * len(group_ids))
        rows = await self._store.rows(
            f"SELECT DISTINCT group_id FROM alert_messages WHERE group_id IN ({marks})",  # noqa: S608 - marks only
            tuple(group_ids),
        )
        return {int(r[0]) for r in rows}

    # --- where a post goes: its own messages, or a storm's digest -------------------------------------------
    async def own_posts_since(self, since: Epoch) -> int:
        """Groups whose current post went out as messages of their own since `since` (epoch seconds)."""
        found = await self._store.scalar(
            "SELECT COUNT(*) FROM alert_groups WHERE digest_id IS NULL AND placed_for >= ?", (since,)
        )
        return int(found or 0)

    async def place_own(self, group: AlertRow) -> AlertRow | None:
        """Its current post goes out as messages of its own; None when a newer post came meanwhile (the next
        round places that one)."""
        row = await self._store.row(
            """UPDATE alert_groups SET placed_for = posted_at, digest_id = NULL
               WHERE id = ? AND posted_at IS NOT DISTINCT FROM ? RETURNING *""",
            (group.id, group.posted_at),
        )
        return AlertRow(**dict(row)) if row is not None else None

    async def place_in_digest(self, group_ids: list[int], digest_id: int) -> list[AlertRow]:
        """The current posts of these firing groups go into that digest, which is then wanted; the rows placed."""
        if not group_ids:
            return []
        now = utcnow()
        marks = ",".join("?" * len(group_ids))
        async with self._store.transaction() as db:
            rows = await db.rows(
                f"""UPDATE alert_groups SET placed_for = posted_at, digest_id = ?
                    WHERE id IN ({marks}) AND status = 'firing' AND posted_at IS NOT NULL
                      AND placed_for IS NOT posted_at
                    RETURNING *""",  # noqa: S608 - marks only
                (digest_id, *group_ids),
            )
            await db.rows(
                "UPDATE alert_digests SET last_at = ?, wanted_at = ? WHERE id = ?", (now, self._wanted(now), digest_id)
            )
        return [AlertRow(**dict(r)) for r in rows]

    async def done_many(self, groups: list[AlertRow]) -> None:
        """`done` for each of these groups, in one statement."""
        if not groups:
            return
        pairs = ",".join("(?, ?)" for _ in groups)
        params = [value for g in groups for value in (g.id, g.wanted_at)]
        await self._store.rows(
            f"UPDATE alert_groups SET wanted_at = NULL WHERE (id, wanted_at) IN (VALUES {pairs})",  # noqa: S608
            params,
        )

    async def with_drafts(self, group_ids: list[int]) -> set[int]:
        """Which of these groups had previews opened from them."""
        if not group_ids:
            return set()
        marks = ",".join("?" * len(group_ids))
        rows = await self._store.rows(
            f"SELECT DISTINCT group_id FROM alert_drafts WHERE group_id IN ({marks})",  # noqa: S608 - marks only
            tuple(group_ids),
        )
        return {int(r[0]) for r in rows}

    def _wanted(self, now: Epoch) -> str:
        self._tick += 1
        return f"{now}#{self._tick}"

    async def current_digest(self, quiet_since: Epoch) -> int | None:
        """The digest that took a group since `quiet_since` (the storm goes on), if any."""
        found = await self._store.scalar(
            "SELECT id FROM alert_digests WHERE last_at >= ? ORDER BY id DESC LIMIT 1", (quiet_since,)
        )
        return int(found) if found is not None else None

    async def new_digest(self) -> int:
        now = utcnow()
        found = await self._store.scalar(
            "INSERT INTO alert_digests (started_at, last_at) VALUES (?, ?) RETURNING id", (now, now)
        )
        return int(found)

    async def digest_wanted(self, digest_id: int) -> None:
        """A group of the digest changed (resolved, grown): its messages are drawn again."""
        await self._store.rows(
            "UPDATE alert_digests SET wanted_at = ? WHERE id = ?", (self._wanted(utcnow()), digest_id)
        )

    async def digest(self, digest_id: int) -> Digest | None:
        row = await self._store.row("SELECT * FROM alert_digests WHERE id = ?", (digest_id,))
        return Digest(**dict(row)) if row is not None else None

    async def wanted_digests(self) -> list[Digest]:
        rows = await self._store.rows("SELECT * FROM alert_digests WHERE wanted_at IS NOT NULL ORDER BY id")
        return [Digest(**dict(r)) for r in rows]

    async def digest_done(self, digest: Digest) -> None:
        await self._store.rows(
            "UPDATE alert_digests SET wanted_at = NULL WHERE id = ? AND wanted_at IS NOT DISTINCT FROM ?",
            (digest.id, digest.wanted_at),
        )

    async def digest_groups(self, digest_id: int) -> list[AlertRow]:
        """The groups a digest lists: those whose latest post went into it."""
        rows = await self._store.rows(
            "SELECT * FROM alert_groups WHERE digest_id = ? AND placed_for = posted_at ORDER BY id", (digest_id,)
        )
        return [AlertRow(**dict(r)) for r in rows]

    async def digest_message(self, digest_id: int, chat_id: int) -> AlertMessage | None:
        row = await self._store.row(
            "SELECT * FROM alert_digest_messages WHERE digest_id = ? AND chat_id = ?", (digest_id, chat_id)
        )
        if row is None:
            return None
        return AlertMessage(digest_id, chat_id, row["message_id"], row["shown"], 0)

    async def digest_shown(self, digest_id: int, chat_id: int, message_id: int, text: str) -> None:
        await self._store.rows(
            """INSERT INTO alert_digest_messages (digest_id, chat_id, message_id, shown) VALUES (?, ?, ?, ?)
               ON CONFLICT (digest_id, chat_id) DO UPDATE SET message_id = excluded.message_id,
                   shown = excluded.shown""",
            (digest_id, chat_id, message_id, text),
        )

    # --- acting on a group: its SMS to duty --------------------------------------------------------------
    async def link_draft(self, group_id: int, *, send_id: int | None = None, batch_id: int | None = None) -> None:
        """A preview opened from this group's 📨 (one recipient: `send_id`; several: `batch_id`)."""
        await self._store.rows(
            "INSERT INTO alert_drafts (group_id, send_id, batch_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (group_id, send_id, batch_id),
        )

    async def group_of_send(self, send_id: int) -> int | None:
        """The alert group whose 📨 opened this send (its own draft, or the batch it is a recipient of)."""
        found = await self._store.scalar(
            """SELECT group_id FROM alert_drafts WHERE send_id = ?
               UNION ALL
               SELECT d.group_id FROM alert_drafts AS d JOIN batch_members AS m ON m.batch_id = d.batch_id
                WHERE m.send_id = ?
               LIMIT 1""",
            (send_id, send_id),
        )
        return int(found) if found is not None else None

    async def acted(self, group_id: int, user_id: int, send_id: int, batch: int | None) -> AlertRow | None:
        """`user_id`'s SMS to duty (send `send_id`, of batch `batch` if any) went out while the group fires: every
        copy is to say so. None when it is already said (another recipient of the same batch) or resolved."""
        now = utcnow()
        row = await self._store.row(
            """UPDATE alert_groups SET acted_by = ?, acted_at = ?, acted_send = ?, wanted_at = ?
               WHERE id = ? AND status = 'firing' AND acted_send IS NOT ?
                 AND (? IS NULL OR acted_send IS NULL
                      OR acted_send NOT IN (SELECT send_id FROM batch_members WHERE batch_id = ?))
               RETURNING *""",
            (user_id, now, send_id, self._wanted(now), group_id, send_id, batch, batch),
        )
        return AlertRow(**dict(row)) if row is not None else None

    async def close_drafts(self, group_id: int) -> tuple[list[SendRow], list[BatchRow]]:
        """The group resolved: the previews opened from it that are still open can no longer send (a Send
        press claims only a draft, so either the press or this wins, never both); the rows as written."""
        now = utcnow()
        async with self._store.transaction() as db:
            sends = await db.rows(
                """UPDATE sends SET state = 'cancelled', error_text = ?, updated_at = ?
                   WHERE state = 'draft' AND id IN (SELECT send_id FROM alert_drafts WHERE group_id = ?)
                   RETURNING *""",
                (ALERT_RESOLVED, now, group_id),
            )
            batches = await db.rows(
                """UPDATE batches SET state = 'cancelled', cancel_reason = ?
                   WHERE state = 'draft' AND id IN (SELECT batch_id FROM alert_drafts WHERE group_id = ?)
                   RETURNING *""",
                (ALERT_RESOLVED, group_id),
            )
        return [SendRow(**dict(r)) for r in sends], [BatchRow(**dict(r)) for r in batches]

    async def made_since(self, user_id: int, send_after: int, batch_after: int) -> tuple[int | None, int | None]:
        """This operator's newest send and batch with ids above the given ones (whatever became of them since)."""
        send = await self._store.scalar(
            "SELECT MAX(id) FROM sends WHERE user_id = ? AND id > ? AND id NOT IN (SELECT send_id FROM batch_members"
            " WHERE send_id IS NOT NULL AND batch_id > ?)",
            (user_id, send_after, batch_after),
        )
        batch = await self._store.scalar(
            "SELECT MAX(id) FROM batches WHERE user_id = ? AND id > ?", (user_id, batch_after)
        )
        return send, batch

    async def last_ids(self) -> tuple[int, int]:
        """The highest send and batch ids so far (`drafts_since` finds what was made after)."""
        send = await self._store.scalar("SELECT COALESCE(MAX(id), 0) FROM sends")
        batch = await self._store.scalar("SELECT COALESCE(MAX(id), 0) FROM batches")
        return int(send), int(batch)
