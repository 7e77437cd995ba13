"""Alerts in (ALERT_TOKEN): alert groups from Alertmanager or Grafana become one message to every active operator
and admin in private — with 📨 SMS to duty — and one line in the team feed when TEAM_CHAT_ID is set.

* `take` only stores the group's latest state (one row per group key) and wakes the dispatcher: the HTTP
  handler returns at once, whatever the storm.
* The dispatcher queues, per chat and group, one job that brings that chat's message up to date when it runs
  (`ChatQueue`: Telegram's pace, one job per key however many notifications came for it, behind the team feed's
  send lines): a new message when the group is due a post (a new key, firing again after it resolved, or still
  firing after ALERT_REPEAT_MINUTES), else an edit — a resolved group edits its messages to say so. A group that
  resolved before it was ever posted is not posted at all.
* A storm is bounded: past STORM_POSTS groups posted in a minute, a group due a post goes into the storm's
  digest instead — one message per chat ("12 more alert groups firing: …"), kept current by edits.
* Who acted: when the SMS to duty opened from a group is accepted by the gateway, every copy says who sent it
  and when; when the group resolves, the previews opened from it and not sent yet are closed and say so.
* Nothing here ever sends an SMS: the button only opens a preview, which needs its own Send press.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Literal

from bot.config import Settings
from bot.services.alert_payload import AlertGroup
from bot.services.chatqueue import BACKGROUND, ChatQueue
from bot.services.notifier import Notifier
from bot.storage.alerts import AlertRow
from bot.storage.db import Database
from bot.storage.directory import Contact
from bot.tasks import cancelled
from bot.times import Epoch, now

if TYPE_CHECKING:
    from bot.services.notices import AlertTexts

log = logging.getLogger(__name__)

#: Seconds the dispatcher waits after a wake-up, so that a burst of notifications is read in one round.
GATHER = 0.2
#: Groups read in one round (a storm of more distinct keys takes several rounds).
WANTED_ROUND = 1000
#: Groups posted in messages of their own in any STORM_WINDOW; past it, a group due a post goes into a digest.
STORM_POSTS = 5
STORM_WINDOW = timedelta(seconds=60)
#: A digest that took no group for this long is over: the next storm's digest is a new message (phones ring).
DIGEST_QUIET = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class TakeOutcome:
    """What a ✋ or ↩️ press did: `taken` (by the presser now), `mine` (already theirs), `other` (someone else
    holds it: `holder`, since `group.taken_at`), `released` (let go), `free` (↩️ on a group nobody holds),
    `resolved`, `gone` (the group is no longer known)."""

    kind: Literal["taken", "mine", "other", "released", "free", "resolved", "gone"]
    group: AlertRow | None
    holder: str | None = None


#: Brings one chat's message of a group (or a digest) up to date: (its id, the chat).
Bring = Callable[[int, int], Awaitable[None]]


def _ago(delta: timedelta) -> Epoch:
    return now() - int(delta.total_seconds())


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
        self._tasks: set[asyncio.Task[None]] = set()
        # ("group" | "digest", id) -> (the wanted_at dispatched, chats whose job has not run since)
        self._open: dict[Hashable, tuple[str | None, set[int]]] = {}
        self.taken = 0  # notifications stored (tests and the storm read it)
        # Lines added under a group's own text, in a locale: its auto-SMS and their results (issue 28, the ladder).
        self.extra_lines: Callable[[AlertRow, str], Awaitable[list[str]]] | None = None
        self.on_take: Callable[[], None] | None = None

    # --- in --------------------------------------------------------------------------------------------
    async def take(self, group: AlertGroup) -> AlertRow:
        """Store one notification and wake the dispatcher; nothing else (the HTTP answer waits for this only)."""
        row = await self.db.alerts.take(group, _ago(timedelta(minutes=self.settings.alert_repeat_minutes)))
        self.taken += 1
        self._wake.set()
        if self.on_take is not None:
            self.on_take()  # the ladder looks at once (a step at 0 minutes is due now)
        return row

    def wake(self) -> None:
        """Groups were marked wanted from outside (an auto-SMS): draw them now."""
        self._wake.set()

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """The dispatcher, when ALERT_TOKEN is set (without it no notification can come)."""
        if self._task is None and self.settings.alert_token is not None:
            self._wake.set()  # groups owed when the bot stopped
            self._task = asyncio.create_task(self._run(), name="alert-dispatcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancelled(task)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

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

    def _chats(self, operators: list[int]) -> list[int]:
        team = self.settings.team_chat_id
        return operators + ([team] if team is not None else [])

    async def dispatch(self) -> int:
        """Queue the groups (and digests) whose state changed since they were queued; returns how many groups."""
        wanted = await self.db.alerts.wanted(limit=WANTED_ROUND)
        if len(wanted) >= WANTED_ROUND:
            self._wake.set()  # more than one round's worth: the rest in the next round
        groups = {g.id: g for g in wanted if self._open.get(("group", g.id), (None,))[0] != g.wanted_at}
        due = [g for g in groups.values() if g.status == "firing" and g.posted_at and g.placed_for != g.posted_at]
        # A listed group that resolved, grew or moved on (a new post placed elsewhere): its digest is drawn again.
        touched = {g.digest_id for g in groups.values() if g.digest_id is not None}
        for group in due:
            del groups[group.id]  # back below once placed (a group placed meanwhile waits for the next round)
        for group in await self.place(due):
            groups[group.id] = group
        for digest_id in touched:
            await self.db.alerts.digest_wanted(digest_id)
        resolved = [g for g in groups.values() if g.status == "resolved"]
        for group_id in await self.db.alerts.with_drafts([g.id for g in resolved]):
            await self.close_drafts(groups[group_id])
        own = await self.db.alerts.has_messages([g.id for g in groups.values() if g.in_digest])
        listed = [g for g in groups.values() if g.in_digest and g.id not in own]
        await self.db.alerts.done_many(listed)  # listed in their digest, no message of their own to bring
        chats = self._chats([op.user_id for op in await self.db.people.operators()])
        quiet = {g.id for g in listed}
        for group in groups.values():
            if group.id not in quiet:
                self._queue(("group", group.id), group.wanted_at, chats, self.bring)
        for digest in await self.db.alerts.wanted_digests():
            if self._open.get(("digest", digest.id), (None,))[0] != digest.wanted_at:
                self._queue(("digest", digest.id), digest.wanted_at, chats, self.draw)
        return len(groups)

    async def place(self, due: list[AlertRow]) -> list[AlertRow]:
        """Groups due a post: their own messages while fewer than STORM_POSTS groups were posted so in the last
        minute, the rest into the storm's digest (the current one, or a new one when the last took nothing for
        DIGEST_QUIET). The rows as placed."""
        if not due:
            return []
        room = max(0, STORM_POSTS - await self.db.alerts.own_posts_since(_ago(STORM_WINDOW)))
        placed = [row for group in due[:room] if (row := await self.db.alerts.place_own(group)) is not None]
        rest = [g.id for g in due[room:]]
        if rest:
            digest = await self.db.alerts.current_digest(_ago(DIGEST_QUIET)) or await self.db.alerts.new_digest()
            placed += await self.db.alerts.place_in_digest(rest, digest)
        return placed

    def _queue(self, key: tuple[str, int], wanted_at: str | None, chats: list[int], bring: Bring) -> None:
        waiting = self._open.get(key, (None, set()))[1] | set(chats)
        self._open[key] = (wanted_at, waiting)
        for chat_id in chats:
            skip = partial(self._ran, key, chat_id)  # dropped (access withdrawn): it waits for nobody
            self.queue.put(chat_id, ("alert", *key), self._job(key, chat_id, bring), priority=BACKGROUND, skip=skip)

    def _job(self, key: tuple[str, int], chat_id: int, bring: Bring) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await bring(key[1], chat_id)
            finally:
                await self._ran(key, chat_id)

        return run

    async def _ran(self, key: tuple[str, int], chat_id: int) -> None:
        opened = self._open.get(key)
        if opened is None:
            return
        wanted_at, waiting = opened
        waiting.discard(chat_id)
        if waiting:
            return
        del self._open[key]
        kind, row_id = key
        if kind == "group":
            group = await self.db.alerts.get(row_id)
            now = None if group is None else group.wanted_at
            if group is not None and now == wanted_at:
                await self.db.alerts.done(group)
        else:
            digest = await self.db.alerts.digest(row_id)
            now = None if digest is None else digest.wanted_at
            if digest is not None and now == wanted_at:
                await self.db.alerts.digest_done(digest)
        if now is not None and now != wanted_at:
            self._wake.set()  # a newer notification came while its messages were drawn

    # --- one chat --------------------------------------------------------------------------------------
    async def bring(self, group_id: int, chat_id: int) -> None:
        """Bring `chat_id`'s message of the group up to date: post it, edit it, or leave it."""
        group = await self.db.alerts.get(group_id)
        if group is None:
            return
        team = chat_id == self.settings.team_chat_id
        locale = self.settings.default_locale if team else await self.locale_for(chat_id)
        actor = await self._name(group.acted_by) if group.acted_by is not None else None
        taker = await self._name(group.taken_by) if group.taken_by is not None else None
        extra = await self.extra_lines(group, locale) if self.extra_lines is not None else []
        text = self.texts.message(group, locale, actor, taker, extra)
        mine = group.taken_by == chat_id
        markup = None if team or group.status != "firing" else self.texts.markup(group, locale, mine=mine)
        message = await self.db.alerts.message(group_id, chat_id)
        due = group.status == "firing" and group.posted_at is not None and not group.in_digest
        if due and (message is None or message.posted_at != group.posted_at or message.message_id is None):
            message_id = await self.notifier.send(chat_id, text, markup=markup)
            if message_id is not None:
                await self.db.alerts.posted(group_id, chat_id, message_id, text, group.posted_at or 0)
            return
        if message is None or message.message_id is None or message.shown == text:
            return
        if await self.notifier.edit(chat_id, message.message_id, text, markup):
            await self.db.alerts.shown(group_id, chat_id, text)

    async def draw(self, digest_id: int, chat_id: int) -> None:
        """Bring `chat_id`'s message of a storm's digest up to date: post it once, then edit it."""
        digest = await self.db.alerts.digest(digest_id)
        groups = await self.db.alerts.digest_groups(digest_id)
        if digest is None or not groups:
            return
        team = chat_id == self.settings.team_chat_id
        locale = self.settings.default_locale if team else await self.locale_for(chat_id)
        text = self.texts.digest(groups, digest.started_at, locale)
        message = await self.db.alerts.digest_message(digest_id, chat_id)
        if message is not None and message.message_id is not None:
            if message.shown != text and await self.notifier.edit(chat_id, message.message_id, text):
                await self.db.alerts.digest_shown(digest_id, chat_id, message.message_id, text)
            return
        message_id = await self.notifier.send(chat_id, text)
        if message_id is not None:
            await self.db.alerts.digest_shown(digest_id, chat_id, message_id, text)

    async def locale_for(self, user_id: int) -> str:
        return await self.db.people.locale_for(user_id) or self.settings.default_locale

    async def _name(self, user_id: int) -> str:
        person = await self.db.people.get(user_id)
        return person.name if person is not None and person.name else str(user_id)

    # --- ✋ I'm on it -----------------------------------------------------------------------------------
    async def take_group(self, group: AlertRow, user_id: int) -> TakeOutcome:
        """✋: the first press takes the firing group (audited) and every copy is redrawn to say who and when."""
        taken = await self.db.alert_takes.take(group.id, user_id)
        if taken is not None:
            self._wake.set()
            return TakeOutcome("taken", taken)
        return await self._held(group.id, user_id)

    async def let_go(self, group: AlertRow, user_id: int) -> TakeOutcome:
        """↩️: the one who took the group lets it go (audited); every copy offers ✋ again."""
        freed = await self.db.alert_takes.let_go(group.id, user_id)
        if freed is not None:
            self._wake.set()
            return TakeOutcome("released", freed)
        outcome = await self._held(group.id, user_id)
        return TakeOutcome("free", outcome.group) if outcome.kind == "mine" else outcome

    async def _held(self, group_id: int, user_id: int) -> TakeOutcome:
        now = await self.db.alerts.get(group_id)
        if now is None:
            return TakeOutcome("gone", None)
        if now.status != "firing":
            return TakeOutcome("resolved", now)
        if now.taken_by is None:
            return TakeOutcome("free", now)
        if now.taken_by == user_id:
            return TakeOutcome("mine", now)
        return TakeOutcome("other", now, await self._name(now.taken_by))

    # --- acting on a group -----------------------------------------------------------------------------
    async def opened(self, group_id: int, user_id: int, before: tuple[int, int]) -> None:
        """The preview 📨 just opened (made after `before`, `db.alerts.last_ids()`) belongs to the group; if the
        group resolved meanwhile, it is closed at once. A quick Send press may have beaten this: what went out
        already is noted as acted on now."""
        send_id, batch_id = await self.db.alerts.made_since(user_id, *before)
        sent: list[int] = []
        if batch_id is not None:
            await self.db.alerts.link_draft(group_id, batch_id=batch_id)
            sent = [m.send_id for m in await self.db.batches.members(batch_id) if m.send_id is not None]
        elif send_id is not None:
            await self.db.alerts.link_draft(group_id, send_id=send_id)
            sent = [send_id]
        group = await self.db.alerts.get(group_id)
        if group is not None and group.status == "resolved":
            await self.close_drafts(group)
        for one in sent:
            await self._send_changed(one)

    async def close_drafts(self, group: AlertRow) -> None:
        """The group resolved: its previews not sent yet can no longer send, and say why."""
        sends, batches = await self.db.alerts.close_drafts(group.id)
        shown = [(r.chat_id, r.preview_message_id, r.text, r.locale) for r in sends]
        shown += [(b.chat_id, b.preview_message_id, b.text, b.locale) for b in batches]
        for chat_id, message_id, text, locale in shown:
            if message_id is not None:
                closed = self.texts.closed_preview(group, text, locale or await self.locale_for(chat_id))
                await self.notifier.edit(chat_id, message_id, closed)

    async def duty_candidates(self, limit: int) -> list[Contact]:
        """Nobody is on duty: the team's contacts to offer as one-tap picks, the most used first."""
        return await self.db.directory.most_used_contacts(limit, [])

    async def make_on_duty(self, contact_id: int, by: int) -> Contact | None:
        """A pick: the contact becomes on duty (audited) — unless someone else set duty meanwhile, which stays.
        The contact when it was made on duty; None when it was not (gone, or duty is set)."""
        contact = await self.db.directory.contact(contact_id)
        if contact is None or await self.db.directory.duty() is not None:
            return None
        await self.db.directory.set_duty(by, contact_id=contact.id)
        return contact

    def send_changed(self, send_id: int) -> None:
        """A send got a result (the tracker's watcher). Never blocks."""
        task = asyncio.create_task(self._send_changed(send_id), name=f"alert-acted-{send_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_changed(self, send_id: int) -> None:
        try:
            group_id = await self.db.alerts.group_of_send(send_id)
            if group_id is None:
                return
            row = await self.db.sends.get(send_id)
            if row is None or row.state != "accepted":
                return
            batch = await self.db.batches.of_send(send_id)
            if await self.db.alerts.acted(group_id, row.user_id, send_id, batch) is not None:
                self._wake.set()  # every copy is to say who sent it
        except Exception:
            log.exception("could not note who acted on an alert")
