"""The team feed (TEAM_CHAT_ID): one line per send in the team's group or channel — who, to whom, how many
parts — posted when the SMS is sent and edited with its final result. Never a button there: nothing can be
sent or pressed from the feed. The SMS text only with TEAM_FEED_TEXT=true.

Results arrive through `changed(send_id)` (the sending service after the gateway's answer, the tracker at a
final status or the tracking deadline, the recovery of interrupted sends). Each change marks the line wanted in
SQLite and queues it (`ChatQueue`: at most 20 calls a minute to a group, and one line edited at most once per
few seconds, so a burst of results coalesces). Lines owed when the bot stopped are drawn at the next start.

Sends to several recipients (issue 17) are one line with a tally: `batch_changed(batch_id)`, drawn with
`batch_summary` (see there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.services.chatqueue import ChatQueue
from bot.services.notifier import Notifier
from bot.storage.db import Database
from bot.storage.feed import FeedLine

if TYPE_CHECKING:
    from bot.ui.feed_texts import FeedTexts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What the feed line of a batch shows: who sent it, to how many, the tally of results, the text."""

    user_id: int
    total: int
    tally: Mapping[str, int]  # "delivered" | "rejected" | "pending" | "failed" | "unknown" -> recipients
    text: str | None = None


#: Reads a batch's summary by its id (None: no such batch). Issue 17 provides it; the lead wires it at merge.
BatchReader = Callable[[str], Awaitable[BatchSummary | None]]


class TeamFeed:
    def __init__(
        self, *, db: Database, notifier: Notifier, queue: ChatQueue, texts: FeedTexts, settings: Settings
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.queue = queue
        self.texts = texts
        self.chat_id = settings.team_chat_id
        self.batch_summary: BatchReader | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self.chat_id is not None

    # --- what changed ------------------------------------------------------------------------------------
    def changed(self, send_id: int) -> None:
        """A send got a result (sent, failed, unknown, final): its line is drawn again, soon. Never blocks."""
        self._later("send", str(send_id))

    def batch_changed(self, batch_id: int | str) -> None:
        """A batch (issue 17) got a result: its one line, with the tally, is drawn again. The lead wires it at
        merge: call it where a batch's row changes, set `batch_summary`, and keep `changed` for sends outside a
        batch only."""
        self._later("batch", str(batch_id))

    def _later(self, kind: str, ref: str) -> None:
        if self.chat_id is None:
            return
        task = asyncio.create_task(self._want(kind, ref), name=f"feed-{kind}-{ref}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _want(self, kind: str, ref: str) -> None:
        assert self.chat_id is not None
        try:
            line = await self.db.feed.want(kind, ref, self.chat_id)
        except Exception:
            log.exception("the team feed could not note a change")
            return
        self._queue(line.id)

    def _queue(self, line_id: int) -> None:
        assert self.chat_id is not None
        self.queue.put(self.chat_id, ("feed", line_id), lambda: self._draw(line_id))

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Lines owed when the bot stopped are drawn now."""
        if self.chat_id is None:
            return
        for line in await self.db.feed.wanted():
            if line.chat_id == self.chat_id:
                self._queue(line.id)
            else:  # TEAM_CHAT_ID changed since: the old chat is not written to any more
                await self.db.feed.done(line)

    async def settled(self, timeout: float = 5.0) -> None:
        """The changes noted so far are in the database (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    # --- drawing -----------------------------------------------------------------------------------------
    async def _draw(self, line_id: int) -> None:
        line = await self.db.feed.get(line_id)
        if line is None or line.wanted_at is None or self.chat_id is None:
            return
        text = await self._render(line)
        if text is None:
            await self.db.feed.done(line)
            return
        if line.message_id is not None and line.shown == text:
            await self.db.feed.done(line)
        elif line.message_id is not None and await self.notifier.edit(self.chat_id, line.message_id, text):
            await self.db.feed.drawn(line, line.message_id, text)
        else:  # not posted yet, or its message is gone (deleted in the group): a new line
            message_id = await self.notifier.send(self.chat_id, text)
            if message_id is None:
                log.warning("the team feed (TEAM_CHAT_ID) does not take messages; a line is left out")
                await self.db.feed.done(line)
                return
            await self.db.feed.drawn(line, message_id, text)
        again = await self.db.feed.get(line_id)
        if again is not None and again.wanted_at is not None:  # changed while it was drawn
            self._queue(line_id)

    async def _render(self, line: FeedLine) -> str | None:
        if line.kind == "send":
            row = await self.db.sends.get(int(line.ref))
            if row is None or row.state in ("draft", "cancelled"):
                return None
            return self.texts.send_line(row, await self._who(row.user_id))
        if line.kind == "batch" and self.batch_summary is not None:
            summary = await self.batch_summary(line.ref)
            if summary is None:
                return None
            return self.texts.batch_line(await self._who(summary.user_id), summary.total, summary.tally, summary.text)
        return None

    async def _who(self, user_id: int) -> str:
        person = await self.db.people.get(user_id)
        if person is not None and person.name:
            return person.name
        return str(user_id)
