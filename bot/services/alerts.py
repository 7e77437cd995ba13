"""Alerts in (ALERT_TOKEN): alert groups from Alertmanager or Grafana become one message to every active operator
and admin in private — with 📨 SMS to duty — and one line in the team feed when TEAM_CHAT_ID is set.

* `take` only stores the group's latest state (one row per group key) and wakes the dispatcher: the HTTP
  handler returns at once, whatever the storm.
* The dispatcher queues, per chat and group, one job that brings that chat's message up to date when it runs
  (`ChatQueue`: Telegram's pace, one job per key however many notifications came for it): a new message when
  the group is due a post (a new key, or still firing after ALERT_REPEAT_MINUTES), else an edit — a resolved
  group edits its messages to say so. A group that resolved before it was ever posted is not posted at all.
* Nothing here ever sends an SMS: the button only opens a preview, which needs its own Send press.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aiogram.types import InlineKeyboardMarkup

from bot.config import Settings
from bot.services.alert_payload import AlertGroup
from bot.services.chatqueue import ChatQueue
from bot.services.notifier import Notifier, edit
from bot.storage.alerts import AlertRow
from bot.storage.db import Database

if TYPE_CHECKING:
    from bot.services.notices import AlertTexts

log = logging.getLogger(__name__)

#: Seconds the dispatcher waits after a wake-up, so that a burst of notifications is read in one round.
GATHER = 0.2
#: Groups read in one round (a storm of more distinct keys takes several rounds).
WANTED_ROUND = 1000


class AlertService:
    def __init__(
        self, *, db: Database, notifier: Notifier, queue: ChatQueue, texts: AlertTexts, settings: Settings
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.queue = queue
        self.texts = texts
        self.settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # group id -> (the wanted_at dispatched, chats whose job has not run since)
        self._open: dict[int, tuple[str | None, set[int]]] = {}
        self.taken = 0  # notifications stored (tests and the storm read it)

    # --- in --------------------------------------------------------------------------------------------
    async def take(self, group: AlertGroup) -> AlertRow:
        """Store one notification and wake the dispatcher; nothing else (the HTTP answer waits for this only)."""
        cutoff = datetime.now(UTC) - timedelta(minutes=self.settings.alert_repeat_minutes)
        row = await self.db.alerts.take(group, cutoff.isoformat(timespec="seconds"))
        self.taken += 1
        self._wake.set()
        return row

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """The dispatcher, when ALERT_TOKEN is set (without it no notification can come)."""
        if self._task is None and self.settings.alert_token is not None:
            self._wake.set()  # groups owed when the bot stopped
            self._task = asyncio.create_task(self._run(), name="alert-dispatcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(GATHER)
            self._wake.clear()
            try:
                await self.dispatch()
            except Exception:
                log.exception("alert dispatch failed; trying again shortly")
                await asyncio.sleep(5)
                self._wake.set()

    async def dispatch(self) -> int:
        """Queue the groups whose state changed since they were queued; returns how many were queued."""
        wanted = await self.db.alerts.wanted(limit=WANTED_ROUND)
        if len(wanted) >= WANTED_ROUND:
            self._wake.set()  # more than one round's worth: the rest in the next round
        groups = [g for g in wanted if self._open.get(g.id, (None,))[0] != g.wanted_at]
        if not groups:
            return 0
        chats = [op.user_id for op in await self.db.people.operators()]
        team = self.settings.team_chat_id
        if team is not None:
            chats.append(team)
        for group in groups:
            waiting = self._open.get(group.id, (None, set()))[1] | set(chats)
            self._open[group.id] = (group.wanted_at, waiting)
            for chat_id in chats:
                self.queue.put(chat_id, ("alert", group.id), self._job(group.id, chat_id))
        return len(groups)

    def _job(self, group_id: int, chat_id: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await self.bring(group_id, chat_id)
            finally:
                await self._ran(group_id, chat_id)

        return run

    async def _ran(self, group_id: int, chat_id: int) -> None:
        opened = self._open.get(group_id)
        if opened is None:
            return
        wanted_at, waiting = opened
        waiting.discard(chat_id)
        if not waiting:
            del self._open[group_id]
            group = await self.db.alerts.get(group_id)
            if group is not None and group.wanted_at == wanted_at:
                await self.db.alerts.done(group)
            elif group is not None and group.wanted_at is not None:
                self._wake.set()  # a newer notification came while its messages were drawn

    # --- one chat --------------------------------------------------------------------------------------
    async def bring(self, group_id: int, chat_id: int) -> None:
        """Bring `chat_id`'s message of the group up to date: post it, edit it, or leave it."""
        group = await self.db.alerts.get(group_id)
        if group is None:
            return
        team = chat_id == self.settings.team_chat_id
        locale = self.settings.default_locale if team else await self.locale_for(chat_id)
        text = self.texts.message(group, locale)
        markup = None if team or group.status != "firing" else self.markup(group.id, locale)
        message = await self.db.alerts.message(group_id, chat_id)
        due = group.status == "firing" and group.posted_at is not None
        if due and (message is None or message.posted_at != group.posted_at or message.message_id is None):
            message_id = await self.notifier.send(chat_id, text, markup=markup)
            if message_id is not None:
                await self.db.alerts.posted(group_id, chat_id, message_id, text, group.posted_at or "")
            return
        if message is None or message.message_id is None or message.shown == text:
            return
        async with self.notifier.limiter.turn(chat_id):
            edited = await edit(self.notifier.bot, chat_id, message.message_id, text, markup)
        if edited:
            await self.db.alerts.shown(group_id, chat_id, text)

    async def locale_for(self, user_id: int) -> str:
        return await self.db.people.locale_for(user_id) or self.settings.default_locale

    def markup(self, group_id: int, locale: str) -> InlineKeyboardMarkup:
        return self.texts.keyboard(group_id, locale)
