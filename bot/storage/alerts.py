"""Alert groups (POST /alerts) and the messages each was posted in (operators' chats and the team feed).

One row per group key holds the group's latest state: a burst of notifications for one key is one row, drawn
once. `posted_at` is when the group was last due a new post (a new key, or still firing after
ALERT_REPEAT_MINUTES); a chat whose message is older than that gets a new one, else its message is edited.
`wanted_at`: the group's messages must be brought up to date (cleared by the round that saw that state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.storage.store import Store, utcnow

if TYPE_CHECKING:
    from bot.services.alert_payload import AlertGroup


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
    received_at: str
    posted_at: str | None
    resolved_at: str | None
    wanted_at: str | None


@dataclass(frozen=True, slots=True)
class AlertMessage:
    group_id: int
    chat_id: int
    message_id: int | None
    shown: str | None
    posted_at: str


class AlertsRepository:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._tick = 0

    async def take(self, group: AlertGroup, repeat_cutoff: str) -> AlertRow:
        """Store a notification. A new key, or a firing one last posted before `repeat_cutoff` (ISO UTC), is due
        a new post; anything else updates the group (its messages are edited)."""
        now = utcnow()
        self._tick += 1
        wanted = f"{now}#{self._tick}"
        firing = group.status == "firing"
        row = await self._store.row(
            """INSERT INTO alert_groups (group_key, status, alertname, severity, summary, firing, total,
                                         external_url, received_at, posted_at, resolved_at, wanted_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (group_key) DO UPDATE SET
                   status = excluded.status, alertname = excluded.alertname, severity = excluded.severity,
                   summary = excluded.summary, firing = excluded.firing, total = excluded.total,
                   external_url = excluded.external_url, received_at = excluded.received_at,
                   posted_at = CASE WHEN excluded.status = 'firing'
                                     AND (alert_groups.posted_at IS NULL OR alert_groups.posted_at < ?)
                                    THEN excluded.received_at ELSE alert_groups.posted_at END,
                   resolved_at = CASE WHEN excluded.status = 'resolved' THEN excluded.received_at END,
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

    async def posted(self, group_id: int, chat_id: int, message_id: int, text: str, posted_at: str) -> None:
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
