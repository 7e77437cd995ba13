"""The team feed (TEAM_CHAT_ID): one line per send in the team's group or channel — who, to whom, how many
parts — posted when the SMS is sent and edited with its final result. Never a button there: nothing can be
sent or pressed from the feed. The SMS text only with TEAM_FEED_TEXT=true.

Results arrive through `changed(send_id)` (the sending service after the gateway's answer, the tracker at a
final status or the tracking deadline, the recovery of interrupted sends). Each change marks the line wanted in
SQLite and queues it (`ChatQueue`: at most 20 calls a minute to a group, and one line edited at most once per
few seconds, so a burst of results coalesces). Lines owed when the bot stopped are drawn at the next start.

Sends to several recipients (issue 17) are one line with a tally: a send that belongs to a batch
(`db.batches.of_send`) is drawn as its batch's line, from the batch's rows (`batch_rows`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.services.chatqueue import ChatQueue
from bot.services.notifier import Notifier
from bot.storage.db import Database
from bot.storage.escalation import ESCALATION_USER
from bot.storage.feed import FeedLine
from bot.storage.models import SendRow

if TYPE_CHECKING:
    from bot.services.notices import FeedTexts

log = logging.getLogger(__name__)


#: The rows of one batch (issue 17: one `sends` row per recipient sharing a batch id), by the batch's id.
BatchRows = Callable[[str], Awaitable[list[SendRow]]]


def result_kind(row: SendRow) -> str:
    """Where one recipient of a batch stands: delivered, rejected, pending, failed or unknown."""
    if row.state == "accepted":
        if row.final and row.status_code == 4:
            return "delivered"
        if row.final:
            return "rejected"
        return "unknown" if row.final_at is not None else "pending"
    if row.state in ("failed", "unknown"):
        return row.state
    return "pending"


def tally(rows: list[SendRow]) -> dict[str, int]:
    counts = Counter(result_kind(r) for r in rows)
    return {k: counts[k] for k in ("delivered", "rejected", "pending", "failed", "unknown") if counts[k]}


class TeamFeed:
    def __init__(
        self, *, db: Database, notifier: Notifier, queue: ChatQueue, texts: FeedTexts, settings: Settings
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.queue = queue
        self.texts = texts
        self.chat_id = settings.team_chat_id
        # The rows of a batch by its id (issue 17): a send that belongs to a batch is drawn as its batch's one
        # line with a tally. Without it (None) every send has its own line.
        self.batch_rows: BatchRows | None = self._batch_rows
        self._tasks: set[asyncio.Task[None]] = set()
        self._posts = 0  # one-off lines so far (each its own queue key)

    async def _batch_rows(self, batch_id: str) -> list[SendRow]:
        rows = []
        for member in await self.db.batches.members(int(batch_id)):
            row = None if member.send_id is None else await self.db.sends.get(member.send_id)
            if row is not None:  # how the member was chosen (a group, duty) is kept with the batch
                rows.append(row if row.recipient_via or not member.via else replace(row, recipient_via=member.via))
        return rows

    @property
    def enabled(self) -> bool:
        return self.chat_id is not None

    # --- what changed ------------------------------------------------------------------------------------
    def changed(self, send_id: int) -> None:
        """A send got a result (sent, failed, unknown, final): its line is drawn again, soon. Never blocks."""
        self._later("send", str(send_id))

    def batch_changed(self, batch_id: int | str) -> None:
        """A batch (issue 17) changed as a whole (its press, its end): its one line, with the tally, is drawn
        again. Its sends' own results need no call: `changed(send_id)` finds their batch."""
        self._later("batch", str(batch_id))

    def post(self, text: str) -> None:
        """A one-off line about the address book (duty set or cleared, a contact's number changed), already
        worded in the team chat's language; queued behind nothing the feed owes for sends. Never blocks."""
        if self.chat_id is None:
            return
        chat_id = self.chat_id
        self._posts += 1
        self.queue.put(chat_id, ("post", self._posts), lambda: self._post(chat_id, text))

    async def _post(self, chat_id: int, text: str) -> None:
        if await self.notifier.send(chat_id, text) is None:
            log.warning("the team feed (TEAM_CHAT_ID) does not take messages; a line is left out")

    def _later(self, kind: str, ref: str) -> None:
        if self.chat_id is None:
            return
        task = asyncio.create_task(self._want(kind, ref), name=f"feed-{kind}-{ref}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _want(self, kind: str, ref: str) -> None:
        assert self.chat_id is not None
        try:
            if kind == "send" and self.batch_rows is not None:
                batch = await self.db.batches.of_send(int(ref))
                if batch is not None:  # one of several recipients: the batch's line
                    kind, ref = "batch", str(batch)
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
            if row is None or row.state in ("draft", "cancelled") or row.user_id == ESCALATION_USER:
                return None  # an auto-SMS is shown on its alert's line (issue 28)
            return self.texts.send_line(row, await self._who(row.user_id))
        if line.kind == "batch" and self.batch_rows is not None:
            rows = [r for r in await self.batch_rows(line.ref) if r.state not in ("draft", "cancelled")]
            if not rows:
                return None
            vias = {r.recipient_via for r in rows}
            via = vias.pop() if len(vias) == 1 else None  # all from one group, or the group on duty: named
            return self.texts.batch_line(await self._who(rows[0].user_id), len(rows), tally(rows), rows[0].text, via)
        return None

    async def _who(self, user_id: int) -> str:
        person = await self.db.people.get(user_id)
        if person is not None and person.name:
            return person.name
        return str(user_id)
