"""Sending, exactly once: the draft is a row; one conditional UPDATE decides which Send press goes out.

draft -> sending (only the press that changes the row proceeds) -> accepted | failed | unknown.
The row is written before the gateway is called, so a crash never loses the fact that a send was attempted;
a row found in `sending` at start-up becomes `unknown` and is never resent by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup

from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.gateway.errors import GatewayError, GatewayRejected, GatewayUnavailable, SendOutcomeUnknown
from bot.services.limits import LimitHit, SpendLimits
from bot.services.notifier import Notifier
from bot.services.tracker import DeliveryTracker
from bot.sms.parts import count_parts
from bot.storage.db import Database
from bot.storage.models import SendRow
from bot.tasks import cancelled
from bot.times import Epoch, now, seconds

if TYPE_CHECKING:
    from bot.services.notices import Notices

log = logging.getLogger(__name__)

MAX_PARTS = 10
LOW_BALANCE_KEY = "low_balance_warned"
INTERRUPTED = "interrupted"  # error_text of a send a crash or a stop cut short


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one Send press; `sent` is False when this press did not send (already handled)."""

    sent: bool
    row: SendRow
    error: GatewayError | None = None
    limit: LimitHit | None = None  # this press was refused: the draft is over a spend limit (still a draft)
    expired: bool = False  # not sent: the draft is older than DRAFT_TTL_HOURS
    renew: bool = False  # with `expired`: this press retired the draft, so it (and no other press) opens a fresh one


class SendingService:
    def __init__(
        self,
        *,
        db: Database,
        bot: Bot,
        gateway: SmskaClient,
        notices: Notices,
        settings: Settings,
        tracker: DeliveryTracker,
        notifier: Notifier | None = None,
    ) -> None:
        self.db = db
        self.gateway = gateway
        self.notices = notices
        self.settings = settings
        self.tracker = tracker
        self.notifier = notifier or tracker.notifier
        self.limits = SpendLimits(db=db, settings=settings, notifier=self.notifier, notices=notices)
        self._inflight: set[asyncio.Task[Outcome]] = set()
        self._telling: asyncio.Task[int] | None = None
        self._expiring: asyncio.Task[None] | None = None

    async def create_draft(
        self,
        *,
        user_id: int,
        chat_id: int,
        msisdn: str,
        text: str,
        locale: str,
        name: str | None = None,
        via: str | None = None,
    ) -> SendRow:
        parts = count_parts(text)
        return await self.db.sends.create_draft(
            user_id=user_id,
            chat_id=chat_id,
            msisdn=msisdn,
            sender=self.settings.default_sender,
            text=text,
            encoding=parts.encoding,
            parts=parts.parts,
            locale=locale,
            recipient_name=name,
            recipient_via=via,
        )

    async def confirm(
        self,
        draft_id: int,
        user_id: int,
        preview_message_id: int | None = None,
        on_claimed: Callable[[], Awaitable[None]] | None = None,
    ) -> Outcome:
        """The Send press (on the preview `preview_message_id`). Only the press that moves the draft to `sending`
        calls the gateway; `on_claimed` (the press's sign of work) runs while the gateway is called."""
        cutoff = self.draft_cutoff()
        claimed = await self.db.sends.claim(
            draft_id, user_id, preview_message_id, self.limits.bounds(), created_after=cutoff
        )
        if claimed is None:
            row = await self.db.sends.get(draft_id)
            if row is None or row.user_id != user_id:
                raise LookupError("no such draft")
            if row.state == "draft" and (row.expired_at is not None or row.created_at < cutoff):
                # Still a draft, yet not claimed: it is too old. One press retires it and opens a fresh one.
                retired = await self.db.sends.retire_expired(draft_id, user_id, cutoff)
                return Outcome(sent=False, row=retired or row, expired=True, renew=retired is not None)
            hit = await self.limits.hit(user_id, row.parts) if row.state == "draft" else None
            if hit is not None:
                await self.limits.tell_admins(user_id, hit)
            return Outcome(sent=False, row=row, limit=hit)
        # The gateway call runs in its own task: an interrupted handler or a shutdown must not cut a send
        # in half; close() waits for it.
        task = asyncio.create_task(self._send(claimed), name=f"send-{draft_id}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        if on_claimed is not None:
            try:
                await on_claimed()
            except Exception:
                log.exception("the press's sign of work failed")
        return await asyncio.shield(task)

    # --- old drafts -----------------------------------------------------------------------------------
    def draft_cutoff(self) -> Epoch:
        """Drafts created before this (epoch seconds) are older than DRAFT_TTL_HOURS."""
        return now() - int(self.settings.draft_ttl_hours * 3600)

    async def renew(self, row: SendRow) -> SendRow:
        """A fresh draft of the same SMS (number, text, sender) for an expired one."""
        fresh = await self.create_draft(
            user_id=row.user_id,
            chat_id=row.chat_id,
            msisdn=row.msisdn,
            text=row.text,
            locale=row.locale or "",
            name=row.recipient_name,
        )
        if fresh.sender != row.sender:
            fresh = await self.db.sends.set_sender(fresh.id, row.sender) or fresh
        return fresh

    async def expire_old_drafts(self) -> int:
        """Drafts never pressed within DRAFT_TTL_HOURS become expired (history shows no drafts)."""
        expired = await self.db.sends.expire_drafts(self.draft_cutoff())
        if expired:
            log.info("%d old drafts expired", len(expired))
        return len(expired)

    def start_expiring(self) -> None:
        """Expire old drafts now and then (a quarter of DRAFT_TTL_HOURS, at most every 10 minutes)."""
        if self._expiring is None or self._expiring.done():
            self._expiring = asyncio.create_task(self._expire_loop(), name="expire-drafts")

    async def _expire_loop(self) -> None:
        every = min(self.settings.draft_ttl_hours * 3600 / 4, 600.0)
        while True:
            try:
                await self.expire_old_drafts()
            except Exception:
                log.exception("old drafts could not be expired; trying again later")
            await asyncio.sleep(every)

    async def stop_expiring(self) -> None:
        task, self._expiring = self._expiring, None
        if task is not None:
            await cancelled(task)

    async def send_claimed(self, row: SendRow) -> Outcome:
        """One gateway call for a row already claimed (`sending`): a batch's recipient (bot/services/batch.py)."""
        return await self._send(row)

    async def _send(self, row: SendRow) -> Outcome:
        log.info("sending an SMS", extra={"send_id": row.id, "user_id": row.user_id})
        try:
            result = await self.gateway.send(row.msisdn, row.text, row.sender)
        except SendOutcomeUnknown as exc:
            written = await self.db.sends.mark_unknown(row.id, "no answer")
            self.tracker.changed(row.id)
            log.warning("SMS outcome unknown", extra={"send_id": row.id, "outcome": "unknown"})
            return Outcome(sent=True, row=written or await self._reload(row.id), error=exc)
        except (GatewayRejected, GatewayUnavailable) as exc:
            written = await self.db.sends.mark_failed(row.id, exc.code, type(exc).__name__)
            self.tracker.changed(row.id)
            log.info("SMS not sent: %s", type(exc).__name__, extra={"send_id": row.id, "outcome": "failed"})
            return Outcome(sent=True, row=written or await self._reload(row.id), error=exc)
        except BaseException:
            # Anything else (a bug, a cancellation): we cannot know whether it left, so it is `unknown`.
            with contextlib.suppress(Exception):
                await self.db.sends.mark_unknown(row.id, INTERRUPTED)
            raise
        first, interval, deadline = self.tracker.schedule_for_new()
        try:
            written = await self.db.sends.mark_accepted(
                row.id, result.message_id, result.balance, first_check_at=first, interval=interval, deadline_at=deadline
            )
        except Exception:
            # The row stays `sending` (unknown after a restart); the gateway's id must not be lost with it.
            log.error(
                "SMS accepted by the gateway as id %s, but the database did not record it",
                result.message_id,
                extra={"send_id": row.id, "outcome": "accepted"},
            )
            raise
        self.tracker.wake()
        self.tracker.changed(row.id)
        log.info("SMS accepted", extra={"send_id": row.id, "outcome": "accepted"})
        await self.check_low_balance(result.balance)
        return Outcome(sent=True, row=written or await self._reload(row.id))

    async def balance(self) -> Decimal | None:
        """The account's balance, or None when the gateway cannot tell right now."""
        try:
            return await self.gateway.balance()
        except GatewayError:
            return None

    async def _reload(self, send_id: int) -> SendRow:
        row = await self.db.sends.get(send_id)
        assert row is not None
        return row

    @property
    def inflight_count(self) -> int:
        return len(self._inflight)

    async def wait_inflight(self, timeout: float = 30.0) -> None:
        """Let sends that already started finish (bounded), e.g. before shutting down."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=timeout)

    async def recover(self, claimed_before: float | None = None) -> list[SendRow]:
        """At start-up, before the first update: sends interrupted by a crash become `unknown` with their
        outcome owed, in one write each (a few milliseconds for hundreds). Telling their operators is
        `tell_owed`'s, in the background: the bot answers new requests meanwhile.

        With replicas (`claimed_before`, epoch seconds) only sends claimed before then: a younger one may still
        be in flight on a live replica; an older one outlived any gateway call, so its replica died."""
        rows = await self.db.sends.interrupted()
        if claimed_before is not None:
            rows = [r for r in rows if r.claimed_at is None or seconds(r.claimed_at) < claimed_before]
        for row in rows:
            log.warning("send interrupted by a restart is now unknown", extra={"send_id": row.id})
            await self.db.sends.mark_unknown(row.id, INTERRUPTED)
            self.tracker.changed(row.id)
        return rows

    async def tell_owed(self) -> int:
        """Tell every owed outcome, at Telegram's pace (the notifier's limits), each marked shown once told: a
        crash or a stop while telling leaves the rest owed, and the next start tells them (never nobody). Sends
        interrupted by a restart are told so; sends that failed or went unknown just before a crash, before
        their operator saw it, are told what became of them. Returns how many were told."""
        told = 0
        for row in await self.db.sends.owed_outcomes():
            locale = await self.db.people.locale_for(row.user_id) or row.locale or self.settings.default_locale
            if row.state == "unknown" and row.error_text == INTERRUPTED:
                text = self.notices.interrupted(locale, row)
            else:
                log.warning("outcome of a send not shown before a restart: telling now", extra={"send_id": row.id})
                text = self.notices.owed_outcome(locale, row)
            await self._tell(row, text, self.notices.outcome_actions(locale, row))
            await self.db.sends.outcome_shown(row.id)
            told += 1
        return told

    def start_telling(self) -> asyncio.Task[int]:
        """`tell_owed` in its own task (App.start); `stop_telling` ends it."""
        if self._telling is None or self._telling.done():
            self._telling = asyncio.create_task(self._tell_owed_safely(), name="tell-owed-outcomes")
        return self._telling

    async def _tell_owed_safely(self) -> int:
        try:
            return await self.tell_owed()
        except Exception:
            log.exception("owed outcomes could not all be told; the rest are told at the next start")
            return 0

    async def stop_telling(self, timeout: float = 5.0) -> None:
        """Let the telling finish (bounded), else stop it: what is not told stays owed for the next start."""
        task, self._telling = self._telling, None
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            await cancelled(task)
            log.warning("stopped before every owed outcome was told; the rest go out at the next start")

    async def _tell(self, row: SendRow, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """The preview becomes `text`, and a reply makes the phone ring (both with `markup`)."""
        if row.preview_message_id is not None:
            await self.notifier.edit(row.chat_id, row.preview_message_id, text, markup)
        await self.notifier.send(row.chat_id, text, reply_to=row.preview_message_id, markup=markup)

    async def check_low_balance(self, balance: Decimal) -> None:
        """Warn the admins once when the balance falls below LOW_BALANCE_THRESHOLD; again only after it rose."""
        threshold = self.settings.low_balance_threshold
        if threshold is None:
            return
        warned = await self.db.kv.get(LOW_BALANCE_KEY) is not None
        if balance >= threshold:
            if warned:
                await self.db.kv.set(LOW_BALANCE_KEY, None)
            return
        if warned or not await self.db.kv.claim(LOW_BALANCE_KEY, str(balance)):  # another replica's send warned
            return
        for admin_id in self.settings.admin_ids:
            locale = await self.db.people.locale_for(admin_id) or self.settings.default_locale
            await self.notifier.send(admin_id, self.notices.low_balance(locale, balance, threshold))


def too_long(text: str) -> int | None:
    """The part count when the text is over MAX_PARTS, else None."""
    parts = count_parts(text).parts
    return parts if parts > MAX_PARTS else None
