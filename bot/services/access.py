"""Who may use the bot: admins from ADMIN_IDS, operators an admin allowed; everyone else asks for access."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.types import User

from bot.services.chatqueue import ChatQueue
from bot.services.notifier import Notifier
from bot.sms.clean import clean_name
from bot.storage.batches import WITHDRAWN
from bot.storage.db import Database
from bot.storage.models import AccessRequest
from bot.tasks import cancelled
from bot.times import now, seconds

if TYPE_CHECKING:
    from bot.services.notices import Notices

log = logging.getLogger(__name__)

REFUSAL_EVERY = 600.0  # seconds: a stranger who keeps writing is refused at most this often
# Someone whose access was withdrawn is answered every time, up to this many answers a minute (then silence).
REVOKED_ANSWERS_A_MINUTE = 5
ASK_AGAIN_AFTER = timedelta(hours=24)  # after a denial, no new request reaches the admins before this
# Seconds: while a request waits for a decision, at most one new request message per admin this often; the rest
# wait for a digest. Once every earlier request is decided, the next one comes at once (the admin keeps up).
DIGEST_EVERY = 5.0


class Refusal(enum.Enum):
    """What a stranger is told."""

    ASKED = "asked"  # the admins were asked (now or before) and will decide
    DECLINED = "declined"  # an admin declined within ASK_AGAIN_AFTER: no new request


class AccessService:
    def __init__(
        self,
        *,
        db: Database,
        bot: Bot,
        notices: Notices,
        admin_ids: list[int],
        default_locale: str,
        notifier: Notifier | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self.notices = notices
        self.admin_ids = list(admin_ids)
        self.default_locale = default_locale
        self.notifier = notifier or Notifier(bot)
        self._refused_at: dict[int, float] = {}
        self._revoked_answered_at: dict[int, list[float]] = {}
        self.fsm_storage: BaseStorage | None = None  # the dispatcher's (set by bot.app): flows of the revoked end
        self.queue: ChatQueue | None = None  # what the bot posts on its own (set by bot.app): the revoked get no more
        self._told_at: dict[int, float] = {}  # admin -> when their last request message or digest went out
        self._held: dict[int, list[AccessRequest]] = {}  # admin -> requests waiting for the next digest
        self._digests: dict[int, asyncio.Task[None]] = {}

    async def admin_locale(self, admin_id: int) -> str:
        return await self.db.people.locale_for(admin_id) or self.default_locale

    # --- strangers -------------------------------------------------------------------------------------
    def should_refuse(self, user_id: int) -> bool:
        """One refusal per stranger per REFUSAL_EVERY; the rest of their messages are dropped silently."""
        now = time.monotonic()
        last = self._refused_at.get(user_id)
        if last is not None and now - last < REFUSAL_EVERY:
            return False
        self._refused_at[user_id] = now
        if len(self._refused_at) > 10_000:  # bound memory against a flood of distinct ids
            self._refused_at.clear()
        return True

    def should_answer_revoked(self, user_id: int) -> bool:
        """Every message of someone whose access was withdrawn is answered, up to REVOKED_ANSWERS_A_MINUTE a
        minute (a flood gets silence beyond that)."""
        now = time.monotonic()
        if len(self._revoked_answered_at) > 10_000:
            self._revoked_answered_at.clear()
        recent = [t for t in self._revoked_answered_at.get(user_id, []) if now - t < 60.0]
        if len(recent) >= REVOKED_ANSWERS_A_MINUTE:
            self._revoked_answered_at[user_id] = recent
            return False
        self._revoked_answered_at[user_id] = [*recent, now]
        return True

    async def request_access(self, user: User, locale: str) -> Refusal:
        """Open a request (once) and tell the admins; returns what the stranger is told."""
        latest = await self.db.access.latest_for(user.id)
        denied = latest is not None and latest.status == "denied" and latest.decided_at is not None
        if denied and latest and now() - seconds(latest.decided_at or 0) < ASK_AGAIN_AFTER.total_seconds():
            return Refusal.DECLINED
        request = await self.db.access.open_request(user.id, clean_name(user.full_name), user.username, locale)
        if request is not None:
            await self._notify_admins(request)
        return Refusal.ASKED

    async def _notify_admins(self, request: AccessRequest) -> None:
        """Each request reaches each admin once: in a message of its own with Approve / Deny, or — when the admin
        got one less than DIGEST_EVERY ago while an earlier request still waits for a decision (a flood of
        strangers) — in the next digest. An admin who decided every earlier request gets the next one at once."""
        undecided: bool | None = None  # an earlier request still pending (asked once, only when it matters)
        for admin_id in self.admin_ids:
            recent = time.monotonic() - self._told_at.get(admin_id, -DIGEST_EVERY) < DIGEST_EVERY
            if recent and undecided is None and admin_id not in self._held:
                undecided = await self.db.access.pending_before(request.id)
            if admin_id in self._held or (recent and undecided):
                self._held.setdefault(admin_id, []).append(request)
                if admin_id not in self._digests:
                    self._digests[admin_id] = asyncio.create_task(self._digest(admin_id), name=f"digest-{admin_id}")
                continue
            self._told_at[admin_id] = time.monotonic()
            await self._send_request(admin_id, request)

    async def _send_request(self, admin_id: int, request: AccessRequest) -> None:
        notice = self.notices.access_request(await self.admin_locale(admin_id), request)
        sent = await self.notifier.send(admin_id, notice.text, markup=notice.markup)
        if sent is None:
            log.warning("could not tell admin %s about an access request", admin_id)
            return
        await self.db.access.add_request_message(request.id, admin_id, sent)

    async def _digest(self, admin_id: int) -> None:
        """DIGEST_EVERY after the admin's last request message: the requests held since, in one message."""
        try:
            await asyncio.sleep(max(0.0, self._told_at.get(admin_id, 0.0) + DIGEST_EVERY - time.monotonic()))
            held = self._held.pop(admin_id, [])
            self._told_at[admin_id] = time.monotonic()
            if len(held) == 1:
                await self._send_request(admin_id, held[0])
            elif held:
                text = self.notices.access_digest(await self.admin_locale(admin_id), held)
                await self.notifier.send(admin_id, text)
        except Exception:
            log.exception("could not send the digest of access requests to admin %s", admin_id)
        finally:
            self._digests.pop(admin_id, None)

    async def close(self) -> None:
        """Stop the digests waiting to go out (their requests stay pending; /allow and /deny decide them)."""
        await asyncio.gather(*(cancelled(task) for task in list(self._digests.values())))

    # --- decisions -------------------------------------------------------------------------------------
    async def grant(self, user_id: int, admin: User) -> bool:
        pending = await self.db.access.pending_for(user_id)
        changed = await self.db.access.allow(user_id, admin.id, pending.name if pending else "")
        if pending is not None:
            await self._close_request(pending, approved=True, admin=admin)
        if changed:
            locale = (pending.locale if pending else None) or await self.db.people.locale_for(user_id)
            text = self.notices.access_granted(locale or self.default_locale)
            try:
                await self.bot.send_message(user_id, text)
            except TelegramAPIError as exc:
                log.info("could not tell user %s they were allowed: %s", user_id, exc)
        return changed

    async def decide(self, request_id: int, approve: bool, admin: User) -> AccessRequest | None:
        """An Approve / Deny press: the request decided once (atomically), every admin's copy updated and the
        person told when let in. None when it was decided already (by another press or command)."""
        request = await self.db.access.decide(request_id, approve, admin.id)
        if request is None:
            return None
        await self._close_request(request, approved=approve, admin=admin)
        if not approve:
            await self._tell_declined(request)
            await self._withdraw(request.user_id)
        if approve:
            text = self.notices.access_granted(request.locale or await self.admin_locale(request.user_id))
            try:
                await self.bot.send_message(request.user_id, text)
            except TelegramAPIError as exc:
                log.info("could not tell user %s they were allowed: %s", request.user_id, exc)
        return request

    async def decided_by(self, request: AccessRequest) -> str:
        """The name of the admin who decided `request` (their id when no name is known)."""
        if request.decided_by is None:
            return "—"
        person = await self.db.people.get(request.decided_by)
        return person.name if person is not None and person.name else str(request.decided_by)

    async def revoke(self, user_id: int, admin: User) -> bool:
        pending = await self.db.access.pending_for(user_id)
        changed = await self.db.access.deny(user_id, admin.id)
        if changed:  # first: every message spent on the admins' copies is one more alert queued for them
            await self._withdraw(user_id)
        if pending is not None:
            await self._close_request(pending, approved=False, admin=admin)
            if changed:  # they were promised an answer
                await self._tell_declined(pending)
        return changed

    async def _tell_declined(self, request: AccessRequest) -> None:
        """A stranger whose request was declined was promised an answer: they get it."""
        locale = request.locale or await self.db.people.locale_for(request.user_id) or self.default_locale
        try:
            await self.bot.send_message(request.user_id, self.notices.access_declined(locale))
        except TelegramAPIError as exc:
            log.info("could not tell user %s they were declined: %s", request.user_id, exc)

    async def _withdraw(self, user_id: int) -> None:
        """Nothing of a revoked person's stays live: their open previews — single and several-recipient — are
        cancelled (each says so), their guided step is cleared, and what was queued for them (alerts) is dropped,
        so a later /allow brings no old preview or step back and no alert reaches them after /deny."""
        if self.queue is not None:
            dropped = await self.queue.drop(user_id)
            if dropped:
                log.info("dropped %d queued messages of a revoked person", dropped, extra={"user_id": user_id})
        drafts = await self.db.sends.cancel_drafts_of(user_id)
        batches = await self.db.batches.cancel_open(user_id, WITHDRAWN)
        locale = await self.admin_locale(user_id)
        shown = [(r.chat_id, r.preview_message_id) for r in drafts] + [
            (b.chat_id, b.preview_message_id) for b in batches
        ]
        for chat_id, message_id in shown:
            if message_id is not None:
                await self.notifier.edit(chat_id, message_id, self.notices.draft_withdrawn(locale))
        await self.end_flow(user_id)

    async def end_flow(self, user_id: int) -> None:
        """The person's guided step, if any, is over (kept out of the FSM cache: see FsmRepository.forget)."""
        if self.fsm_storage is not None:
            key = StorageKey(bot_id=self.bot.id, chat_id=user_id, user_id=user_id)
            await self.fsm_storage.set_state(key, None)
            await self.fsm_storage.set_data(key, {})

    async def _close_request(self, request: AccessRequest, *, approved: bool, admin: User) -> None:
        """Every admin's copy of the request shows the outcome and who decided, without buttons."""
        for chat_id, message_id in await self.db.access.request_messages(request.id):
            locale = await self.admin_locale(chat_id)
            text = self.notices.access_decided(locale, request, approved=approved, admin=clean_name(admin.full_name))
            try:
                await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id)
            except TelegramAPIError as exc:
                log.info("could not update the access request message in %s: %s", chat_id, exc)
