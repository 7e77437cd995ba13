"""One send to several recipients: the batch draft, its one press, SEND_CONCURRENCY gateway calls at a time, the
message that shows progress and then one summary kept current, the one ringing notice, and restart recovery.

Exactly once per recipient: the press is one transaction (bot/storage/batches.py) that gives each recipient a
claimed `sends` row; each row's gateway call is preceded by its own conditional `attempt`, so no double tap,
second task or restart can call the gateway twice for one recipient. A recipient never attempted before a crash
is sent after the restart (the press was made); the one in flight is `unknown` and never resent by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiogram.types import InlineKeyboardMarkup

from bot.config import Settings
from bot.services.batch_view import BatchView, Press, unique
from bot.services.limits import LimitHit
from bot.services.notifier import Notifier
from bot.services.sending import SendingService
from bot.sms.parts import count_parts
from bot.sms.recipients import Recipient
from bot.storage.batches import BatchRow, Member
from bot.storage.db import Database
from bot.storage.models import SendRow
from bot.tasks import cancelled
from bot.times import Epoch, now

if TYPE_CHECKING:
    from bot.services.notices import BatchNotices

log = logging.getLogger(__name__)
SHOWN_KEPT = 256  # batch messages whose shown text is remembered


async def new_batch(
    db: Database,
    settings: Settings,
    *,
    user_id: int,
    chat_id: int,
    recipients: Sequence[Recipient],
    text: str,
    locale: str,
    origin_id: int | None = None,
) -> BatchRow | None:
    """The draft of one send to several recipients (each number once), from the default sender. With `origin_id`
    (🔁 Resend on that batch's summary): None when a draft opened from it is still open."""
    parts = count_parts(text)
    return await db.batches.create(
        user_id=user_id,
        chat_id=chat_id,
        recipients=unique(recipients),
        sender=settings.default_sender,
        text=text,
        encoding=parts.encoding,
        parts=parts.parts,
        locale=locale,
        origin_id=origin_id,
        created_after=now() - int(settings.draft_ttl_hours * 3600),
    )


class BatchService:
    def __init__(self, *, sending: SendingService, settings: Settings, notifier: Notifier, texts: BatchNotices) -> None:
        self.sending = sending
        self.db = sending.db
        self.settings = settings
        self.notifier = notifier
        self.texts = texts
        self.gate = asyncio.Semaphore(settings.send_concurrency)  # gateway sends at a time, every batch together
        self._stopping = False
        self._runs: dict[int, asyncio.Task[None]] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._boards: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        # What the latest batches' messages show now (no edit that changes nothing): the SHOWN_KEPT most recently
        # edited; forgetting one costs at most one edit that changes nothing.
        self._shown: OrderedDict[int, str] = OrderedDict()
        self._background: set[asyncio.Task[None]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self.edits = 0  # edits of batch messages made (benchmarks and tests read it)

    # --- the draft and the press -------------------------------------------------------------------------
    async def view(self, batch_id: int) -> BatchView | None:
        batch = await self.db.batches.get(batch_id)
        if batch is None:
            return None
        return BatchView(batch, await self.db.batches.members(batch_id))

    async def limit_hit(self, view: BatchView) -> LimitHit | None:
        return await self.sending.limits.hit(view.batch.user_id, view.total_parts)

    async def press(self, batch_id: int, user_id: int, message_id: int | None) -> Press:
        """The Send to N press. LookupError when this person has no such batch (a stranger's forged press)."""
        limits = self.sending.limits
        cutoff = self.sending.draft_cutoff()
        bounds = limits.bounds()
        pressed, broken = await self.db.batches.press(batch_id, user_id, message_id, bounds, created_after=cutoff)
        if pressed is not None:
            log.info("batch pressed", extra={"user_id": user_id, "action": f"batch_{batch_id}"})
            self.touch(batch_id)
            self.start_run(batch_id)
            return Press(pressed, pressed=True)
        batch = await self.db.batches.get(batch_id)
        if batch is None or batch.user_id != user_id:
            raise LookupError("no such batch")
        if batch.state != "draft":
            return Press(batch, pressed=False)
        if broken is None:
            return Press(batch, pressed=False, expired=True)
        view = await self.view(batch_id)
        assert view is not None
        hit = await self.limit_hit(view)
        if hit is not None:
            await limits.tell_admins(user_id, hit)
        return Press(batch, pressed=False, limit=hit)

    # --- sending -----------------------------------------------------------------------------------------
    def start_run(self, batch_id: int) -> None:
        if self._stopping or batch_id in self._runs:
            return
        task = asyncio.create_task(self._run(batch_id), name=f"batch-{batch_id}")
        self._runs[batch_id] = task
        task.add_done_callback(lambda _: self._runs.pop(batch_id, None))

    async def _run(self, batch_id: int) -> None:
        try:
            rows = await self.db.batches.send_rows(batch_id)
            calls = [asyncio.create_task(self._one(batch_id, position, row)) for position, row in sorted(rows.items())]
            for call in calls:
                self._inflight.add(call)
                call.add_done_callback(self._inflight.discard)
            await asyncio.gather(*calls, return_exceptions=True)
            if self._stopping:
                return
            if await self.db.batches.sent_all(batch_id) is not None:
                log.info("batch sent", extra={"action": f"batch_{batch_id}"})
            self.touch(batch_id)
        except Exception:
            log.exception("batch %s could not go on; the rest goes out at the next start", batch_id)

    async def _one(self, batch_id: int, position: int, row: SendRow) -> None:
        async with self.gate:  # SEND_CONCURRENCY gateway sends at a time
            if self._stopping:
                return  # never attempted: it goes out after the restart
            if await self.db.batches.attempt(batch_id, position) is None:
                return  # attempted already (another task, or before a restart)
            # Shielded: a stop must not cut a gateway call in half (its outcome is written either way).
            await asyncio.shield(self.sending.send_claimed(row))
        await self.db.batches.done(batch_id, position)
        self.touch(batch_id)

    # --- the batch's message: progress, then the summary ------------------------------------------------
    def touch(self, batch_id: int) -> None:
        """The batch changed: its message is edited (coalesced: one edit carries every change since the last,
        and edits of one chat go at most one a second through the notifier's limiter)."""
        if self._stopping:
            return  # shown again at the next start (`resume`)
        self._dirty.add(batch_id)
        if batch_id not in self._boards:
            self._boards[batch_id] = self._spawn(self._board(batch_id), f"batch-board-{batch_id}")

    def _spawn(self, coro: object, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _board(self, batch_id: int) -> None:
        try:
            while batch_id in self._dirty:
                self._dirty.discard(batch_id)
                view = await self._pressed(batch_id)
                if view is None:
                    continue
                view = await self._show(view)
                if view.all_final or not view.sending:
                    await self.maybe_ring(view)
        except Exception:
            log.exception("batch %s message could not be updated", batch_id)
        finally:
            self._boards.pop(batch_id, None)
            if batch_id in self._dirty and not self._stopping:
                self.touch(batch_id)

    async def _pressed(self, batch_id: int) -> BatchView | None:
        view = await self.view(batch_id)
        if view is None or view.batch.preview_message_id is None or view.batch.state != "pressed":
            return None
        return view

    async def _show(self, view: BatchView) -> BatchView:
        """Edit the batch's message when what it shows changed. It is drawn when the chat's turn comes (edits of a
        chat go one a second): a batch that moved on meanwhile — its sends done, their results in — shows where
        it is then, and the summary comes a second sooner instead of after a stale "Sending 0/4". The view as
        shown."""
        batch = view.batch
        assert batch.preview_message_id is not None
        text, _ = self.texts.board(await self._locale(batch), view)
        if self._shown.get(batch.id) == text:
            return view
        shown = view
        drawn = ""

        async def draw() -> tuple[str, InlineKeyboardMarkup | None] | None:
            nonlocal shown, drawn
            self._dirty.discard(batch.id)  # what changes from here on is drawn by the board's next pass
            latest = await self._pressed(batch.id)
            if latest is None:
                return None  # gone meanwhile (retention): nothing to show
            shown = latest
            drawn, markup = self.texts.board(await self._locale(shown.batch), shown)
            if self._shown.get(batch.id) == drawn:
                return None
            self.edits += 1
            return drawn, markup

        if await self.notifier.edit_drawn(batch.chat_id, batch.preview_message_id, draw):
            self._shown[batch.id] = drawn
            self._shown.move_to_end(batch.id)
            while len(self._shown) > SHOWN_KEPT:
                self._shown.popitem(last=False)
        return shown

    async def _locale(self, batch: BatchRow) -> str:
        return await self.db.people.locale_for(batch.user_id) or batch.locale or self.settings.default_locale

    async def member_final(self, send: SendRow) -> bool:
        """The tracker's hook: a batch's recipient's tracking ended. Its summary is updated (no notice of its own)."""
        batch_id = await self.db.batches.of_send(send.id)
        if batch_id is None:
            return False
        self.touch(batch_id)
        return True

    # --- the one ringing notice --------------------------------------------------------------------------
    async def maybe_ring(self, view: BatchView, *, watchdog: bool = False) -> None:
        """When every recipient is final (or the watchdog fired first): one new message, once per batch."""
        if not view.all_final and not watchdog:
            return
        decided = await self.db.batches.decide_notice(view.batch.id, "final" if view.all_final else "watchdog")
        if decided is not None:
            await self._ring(BatchView(decided, view.members))

    async def _ring(self, view: BatchView) -> None:
        batch = view.batch
        text, markup = self.texts.ringing(await self._locale(batch), view)
        await self.notifier.send(batch.chat_id, text, reply_to=batch.preview_message_id, markup=markup)
        await self.db.batches.notice_given(batch.id)

    def watch_cutoff(self) -> Epoch:
        return now() - int(self.settings.delivery_alert_minutes * 60)

    async def watch(self) -> int:
        """DELIVERY_ALERT_MINUTES after a batch was sent, its ringing notice goes out if it did not yet."""
        fired = 0
        for batch in await self.db.batches.watched(self.watch_cutoff()):
            view = await self.view(batch.id)
            if view is not None:
                await self.maybe_ring(view, watchdog=True)
                fired += 1
        return fired

    async def _watch_loop(self) -> None:
        every = max(0.5, min(30.0, self.settings.delivery_alert_minutes * 60 / 8))
        while True:
            try:
                await self.watch()
            except Exception:
                log.exception("the batch watchdog round failed; trying again later")
            await asyncio.sleep(every)

    # --- start-up and shutdown ---------------------------------------------------------------------------
    async def resume(self) -> int:
        """At start-up, after SendingService.recover: each batch a stop or a crash cut short goes on (recipients
        never attempted are sent now), its in-flight recipients stay unknown, and its operator is told. Owed
        ringing notices go out. Returns how many batches went on.

        The in-flight recipients count as done (and the batch's sending as over) only once that notice went out:
        a crash before it leaves the batch unfinished, and the next start tells it again (never nobody)."""
        resumed = 0
        for batch in await self.db.batches.unfinished():
            in_flight = await self.db.batches.in_flight(batch.id)
            queued = await self.db.batches.unattempted(batch.id)
            view = await self.view(batch.id)
            assert view is not None
            log.warning(
                "batch interrupted by a restart: %d to send, %d in flight",
                len(queued),
                len(in_flight),
                extra={"action": f"batch_{batch.id}"},
            )
            text = self.texts.restarted(await self._locale(batch), view, in_flight, len(queued))
            self._spawn(self._tell_restart(batch, text, in_flight), f"batch-restart-{batch.id}")
            if queued:
                self.start_run(batch.id)
            self.touch(batch.id)
            resumed += 1
        for batch in await self.db.batches.open():  # results that came while the bot was stopping
            self.touch(batch.id)
        for batch in await self.db.batches.owed_notices():
            view = await self.view(batch.id)
            if view is not None:
                self._spawn(self._ring(view), f"batch-ring-{batch.id}")
        return resumed

    async def _tell_restart(self, batch: BatchRow, text: str, in_flight: Sequence[Member]) -> None:
        try:
            await self.notifier.send(batch.chat_id, text, reply_to=batch.preview_message_id)
            await self.db.batches.settle(batch.id, in_flight)
            if await self.db.batches.sent_all(batch.id) is not None:
                log.info("batch sent", extra={"action": f"batch_{batch.id}"})
            self.touch(batch.id)
        except Exception:
            log.exception("batch %s: the restart notice could not be settled; told again at the next start", batch.id)

    def start(self) -> None:
        self._stopping = False
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch_loop(), name="batch-watchdog")

    def accept(self) -> None:
        """Presses on this replica are sent again after a `stop` that was not a shutdown (leadership lost)."""
        self._stopping = False

    async def stop(self, timeout: float = 30.0) -> None:
        """No new recipient is attempted (they go out at the next start); calls in flight finish (bounded)."""
        self._stopping = True
        if self._watchdog is not None:
            await cancelled(self._watchdog)
            self._watchdog = None
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)
        if self._background:
            _, pending = await asyncio.wait(set(self._background), timeout=min(timeout, 5.0))
            for task in pending:
                task.cancel()
