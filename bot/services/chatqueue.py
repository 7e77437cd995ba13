"""What the bot posts on its own into chats (alerts, the team feed), queued at Telegram's pace.

* One worker per chat with something queued: its jobs run one after the other, each Bot API call through the
  shared `RateLimiter` (about 25 messages a second in all, one a second per chat), so a storm of alerts never
  floods Telegram, and an operator's answers — which do not queue here — are not held up behind it.
* Jobs are keyed (an alert group, a feed line): a key already queued is not queued twice (the job draws the
  latest state when it runs), and a key that just ran waits `gap` seconds before it runs again, so a burst
  of results edits one line at most once per `gap`.
* Groups and channels (negative chat ids) get at most `group_per_minute` calls in any minute (Telegram's limit
  for groups is 20).
* Priorities: a job queued as `BACKGROUND` (alerts) runs only when no `FIRST` job (the team feed's send lines)
  is ready, and leaves `reserve` of a group's calls a minute to `FIRST` jobs: a send's line never waits behind
  a storm of alerts, only behind the one job running.

The truth stays in SQLite (what each line or message should show); the queue is only the order of work, so a
stop loses nothing: what was queued is found again at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from bot.tasks import cancelled

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]

FIRST = 0  # what a person did (a send's feed line)
BACKGROUND = 1  # what the bot was told (alerts): after every ready FIRST job


@dataclass
class _Chat:
    jobs: dict[Hashable, Job] = field(default_factory=dict)  # insertion order: first come, first served
    skips: dict[Hashable, Job] = field(default_factory=dict)  # what runs instead of a job that is dropped
    not_before: dict[Hashable, float] = field(default_factory=dict)
    priority: dict[Hashable, int] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None


class MinuteWindow:
    """At most `limit` calls in any `window` seconds."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def delay(self, limit: int | None = None) -> float:
        """Seconds until a call fits under `limit` (default: the window's own)."""
        limit = self.limit if limit is None else max(1, limit)
        now = time.monotonic()
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) < limit:
            return 0.0
        return self._times[-limit] + self.window - now

    def note(self) -> None:
        self._times.append(time.monotonic())


class ChatQueue:
    def __init__(self, *, gap: float = 3.0, group_per_minute: int = 20, reserve: int = 5) -> None:
        self.gap = gap
        self.group_per_minute = group_per_minute
        self.reserve = reserve  # a group's calls a minute that BACKGROUND jobs leave to FIRST ones
        self._chats: dict[int, _Chat] = {}
        self._windows: dict[int, MinuteWindow] = {}
        self._last_run: dict[tuple[int, Hashable], float] = {}
        self._closed = False

    def put(self, chat_id: int, key: Hashable, job: Job, *, priority: int = FIRST, skip: Job | None = None) -> None:
        """Queue `job` for `chat_id` under `key` (once: a key already queued keeps its place and its job). `skip`:
        what runs instead when the chat's jobs are dropped (`drop`), e.g. the bookkeeping `job` would have done."""
        if self._closed:
            return
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat()
        if key in chat.jobs:
            return
        chat.jobs[key] = job
        chat.priority[key] = priority
        if skip is not None:
            chat.skips[key] = skip
        last = self._last_run.get((chat_id, key))
        chat.not_before[key] = last + self.gap if last is not None else 0.0
        chat.wake.set()
        if chat.worker is None or chat.worker.done():
            chat.worker = asyncio.create_task(self._work(chat_id, chat), name=f"chat-queue-{chat_id}")

    def depth(self, chat_id: int | None = None) -> int:
        if chat_id is not None:
            chat = self._chats.get(chat_id)
            return len(chat.jobs) if chat is not None else 0
        return sum(len(c.jobs) for c in self._chats.values())

    async def _work(self, chat_id: int, chat: _Chat) -> None:
        window = None
        if chat_id < 0:
            window = self._windows.setdefault(chat_id, MinuteWindow(self.group_per_minute))
        while chat.jobs:
            now = time.monotonic()
            key, wait = self._next(chat, window, now)
            if key is None:
                chat.wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.01, wait)):
                        await chat.wake.wait()
                continue
            job = chat.jobs.pop(key)
            chat.skips.pop(key, None)
            del chat.not_before[key]
            del chat.priority[key]
            if window is not None:
                window.note()
            try:
                await job()
            except Exception:
                log.exception("a queued message for chat %s failed", chat_id)
            self._last_run[(chat_id, key)] = time.monotonic()
            if len(self._last_run) > 20_000:
                cutoff = time.monotonic() - self.gap
                self._last_run = {k: t for k, t in self._last_run.items() if t > cutoff}
        if self._chats.get(chat_id) is chat:
            del self._chats[chat_id]

    def _next(self, chat: _Chat, window: MinuteWindow | None, now: float) -> tuple[Hashable | None, float]:
        """The job to run now — the first ready one of the most urgent priority that the group's window lets
        through — or None and how long to wait before looking again (a new job wakes the worker sooner)."""
        wait = 60.0
        best: Hashable | None = None
        for key in chat.jobs:
            ready_in = chat.not_before[key] - now
            priority = chat.priority[key]
            if ready_in <= 0 and window is not None:
                ready_in = window.delay(None if priority == FIRST else self.group_per_minute - self.reserve)
            if ready_in > 0:
                wait = min(wait, ready_in)
            elif best is None or priority < chat.priority[best]:
                best = key
                if priority == FIRST:
                    break
        return best, wait

    async def drop(self, chat_id: int) -> int:
        """Nothing more goes to `chat_id` from here (their access was withdrawn): every job queued for it is dropped
        — its `skip` runs instead — and only the one running now, if any, finishes. Returns how many were dropped."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return 0
        dropped, skips = len(chat.jobs), list(chat.skips.values())
        chat.jobs.clear()
        chat.skips.clear()
        chat.not_before.clear()
        chat.priority.clear()
        chat.wake.set()
        for skip in skips:
            try:
                await skip()
            except Exception:
                log.exception("a dropped job's bookkeeping for chat %s failed", chat_id)
        return dropped

    async def close(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; let the ones running finish (bounded), drop the rest (they stay owed in SQLite)."""
        self._closed = True
        workers = [c.worker for c in self._chats.values() if c.worker is not None and not c.worker.done()]
        for chat in self._chats.values():
            chat.jobs.clear()
            chat.skips.clear()
            chat.not_before.clear()
            chat.priority.clear()
            chat.wake.set()
        if workers:
            _, pending = await asyncio.wait(workers, timeout=timeout)
            await asyncio.gather(*(cancelled(task) for task in pending))
        self._chats.clear()
