"""Long polling that loses nothing when the poller is killed or replaced.

`getUpdates` with `offset` confirms every update before it: Telegram never sends those again. aiogram's own
polling asks for the next batch at once, while the updates it just got are still being handled, so a poller
killed then has confirmed updates nobody recorded: lost. Here the next `getUpdates` waits until every update
of the batch has been recorded by the redelivery guard (`seen_updates`, bot/middlewares/updates.py), or was
dropped before it (a stranger, another group), or ended. A new poller is therefore sent again exactly what
was not recorded; what was recorded and cut short by a kill is, as after any crash, not handled twice.

The database gone (`outage`): a leader that cannot renew its lease stops its work (fencing), but it goes on
polling in *outage mode*, so that an operator who writes meanwhile is answered in words (the error router's "the
bot's database is not answering; try again in a minute") rather than not at all. Each batch is confirmed to
Telegram *before* it is answered: an update told "try again" is never handled again later, here or on another
replica (Telegram is the only record left to share). They are answered without the dispatcher, whose every
step asks the database first and would wait out its timeouts (bot/replicas/outage.py). Outage mode gives way for
good at the first 409: another replica, which reached the database and took the lease, polls now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.exceptions import TelegramConflictError
from aiogram.methods import TelegramMethod
from aiogram.types import TelegramObject, Update

log = logging.getLogger(__name__)

POLL_TIMEOUT = 10  # seconds Telegram holds a getUpdates open when there is nothing
RECORD_TIMEOUT = 15.0  # at most this long for a batch to be recorded before its offset is confirmed anyway
BACKOFF_CAP = 5.0


class Recorded(BaseMiddleware):
    """Placed right after the redelivery guard: an update that reaches it has its id recorded."""

    def __init__(self) -> None:
        self._waiting: dict[int, asyncio.Event] = {}

    def expect(self, update_id: int) -> asyncio.Event:
        return self._waiting.setdefault(update_id, asyncio.Event())

    def forget(self, update_id: int) -> None:
        self._waiting.pop(update_id, None)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update):
            waiting = self._waiting.get(event.update_id)
            if waiting is not None:
                waiting.set()
        return await handler(event, data)


async def _pause(delay: float, what: str) -> float:
    """After a failed getUpdates: says so, waits `delay`, and gives the next (doubled, capped) delay."""
    log.warning("%s; trying again in %.1f s", what, delay)
    await asyncio.sleep(delay)
    return min(delay * 2, BACKOFF_CAP)


class Poller:
    def __init__(
        self,
        bot: Bot,
        dp: Dispatcher,
        recorded: Recorded,
        allowed_updates: list[str],
        outage: Callable[[Update], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self.bot = bot
        self.outage = outage  # how outage mode answers an update (bot/replicas/outage.py); None: the dispatcher
        self.dp = dp
        self.recorded = recorded
        self.allowed_updates = allowed_updates
        self.tasks: set[asyncio.Task[Any]] = set()
        #: The offset past the last update handed to the dispatcher (confirmed or not): outage mode starts here,
        #: so that the updates already being handled are not fetched and answered a second time.
        self.handed: int | None = None

    async def run(self) -> None:
        """Until cancelled (a stop, or the leadership lost)."""
        offset: int | None = None
        delay = 0.5
        me = await self.bot.me()
        log.info("Start polling for bot @%s id=%d", me.username, me.id)
        try:
            while True:
                try:
                    updates = await self.bot.get_updates(
                        offset=offset,
                        timeout=POLL_TIMEOUT,
                        allowed_updates=self.allowed_updates,
                        request_timeout=POLL_TIMEOUT + 20,
                    )
                except asyncio.CancelledError:
                    raise
                except TelegramConflictError:
                    # Another getUpdates is open (a replica that was the poller a moment ago): wait it out.
                    delay = await _pause(delay, "getUpdates: another poller is active")
                    continue
                except Exception as exc:
                    delay = await _pause(delay, f"getUpdates failed ({type(exc).__name__})")
                    continue
                delay = 0.5
                if not updates:
                    continue
                self.handed = updates[-1].update_id + 1
                await self._hand_over(updates)
                offset = updates[-1].update_id + 1
        finally:
            log.info("Polling stopped")

    async def run_outage(self) -> None:
        """While this replica cannot reach the database and nobody else polls: each update confirmed, then
        answered (in words, as the database does not answer). Returns at a 409 (another poller); else until
        cancelled (the database answered again)."""
        offset = self.handed
        delay = 0.5
        log.warning("the database is not answering: polling on only to answer each update in words")
        try:
            while True:
                try:
                    updates = await self._get(offset, POLL_TIMEOUT)
                except TelegramConflictError:
                    log.warning("another replica polls now: this one gives way")
                    return
                except Exception as exc:
                    delay = await _pause(delay, f"getUpdates failed ({type(exc).__name__})")
                    continue
                delay = 0.5
                if not updates:
                    continue
                offset = updates[-1].update_id + 1
                # Confirmed before answered: never answered, then handled again. Shielded: the database back
                # (a cancel) in between must not leave a confirmed update unanswered.
                settle = asyncio.create_task(self._confirm_then_answer(updates, offset))
                self.tasks.add(settle)
                settle.add_done_callback(self.tasks.discard)
                outcome = await asyncio.shield(settle)
                if outcome == "conflict":
                    log.warning("another replica polls now: this one gives way")
                    return
                if outcome == "failed":
                    offset = updates[0].update_id  # fetched again
                    await asyncio.sleep(delay)
        finally:
            log.info("outage polling stopped")

    async def _confirm_then_answer(self, updates: list[Update], offset: int) -> str:
        try:
            await self._get(offset, 0)
        except TelegramConflictError:
            # A newer getUpdates came after this one had confirmed the batch (Telegram applies the offset as the
            # request arrives): the batch is this replica's to answer; then it gives way.
            self._answer(updates)
            return "conflict"
        except Exception as exc:
            log.warning("could not confirm updates (%s): fetching them again", type(exc).__name__)
            return "failed"
        self.handed = offset
        self._answer(updates)
        return "ok"

    async def _get(self, offset: int | None, timeout: int) -> list[Update]:
        return await self.bot.get_updates(
            offset=offset,
            timeout=timeout,
            limit=100 if timeout else 1,
            allowed_updates=self.allowed_updates,
            request_timeout=timeout + 20,
        )

    def _answer(self, updates: list[Update]) -> None:
        for update in updates:
            work = self.outage(update) if self.outage is not None else self._feed(update)
            task = asyncio.create_task(work, name=f"update-{update.update_id}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _hand_over(self, updates: list[Update]) -> None:
        waits = []
        for update in updates:
            marked = self.recorded.expect(update.update_id)
            task = asyncio.create_task(self._feed(update), name=f"update-{update.update_id}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            waits.append(self._settled(update.update_id, marked, task))
        await asyncio.gather(*waits)

    async def _settled(self, update_id: int, marked: asyncio.Event, task: asyncio.Task[None]) -> None:
        marker = asyncio.ensure_future(marked.wait())
        try:
            await asyncio.wait({marker, task}, timeout=RECORD_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            marker.cancel()
            self.recorded.forget(update_id)

    async def _feed(self, update: Update) -> None:
        try:
            result = await self.dp.feed_update(self.bot, update, dispatcher=self.dp, bots=[self.bot])
            if isinstance(result, TelegramMethod):
                await self.dp.silent_call_request(bot=self.bot, result=result)
        except Exception:
            log.exception("update %s failed", update.update_id)
