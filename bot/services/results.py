"""Acting on a single send's result (issue 17): who may press its buttons, what the new preview should warn
about, 🔍 Check status, and the duplicate guard's look-up (also for the batch preview: give it every number).

Nothing here sends: each action ends in a new preview, and only that preview's Send press sends.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import times
from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.gateway.errors import GatewayError
from bot.sms.status import DeliveryStatus, StatusKind
from bot.storage.db import Database
from bot.storage.models import SendRow
from bot.storage.results import SentTo
from bot.times import Epoch, epoch

log = logging.getLogger(__name__)

#: Final statuses of an SMS that did not reach the phone.
NOT_REACHED = (StatusKind.REJECTED, StatusKind.EXPIRED, StatusKind.DELETED)

#: States of a send whose notice has buttons (it left the draft: pressed and handled).
HANDLED = ("failed", "accepted", "unknown")


class Refusal(enum.Enum):
    INVALID = "invalid"  # not this operator's send, not a send with that button, or no such send
    ERASED = "erased"  # RETENTION_DAYS erased its text and number: nothing to send again


class First(enum.Enum):
    """What a 📨 Send again preview says about the first SMS."""

    MAY_HAVE_GONE = "may_have_gone"  # unknown: it may have gone out
    NOT_FINAL = "not_final"  # accepted, no final status yet: it may still arrive
    DELIVERED = "delivered"  # it was delivered after all


def refusal(row: SendRow | None, user_id: int, action: str) -> Refusal | None:
    """Why this press cannot be acted on, or None when it can. Only the send's own operator may use its buttons
    (a forged press with another's id is refused, and shows nothing of that send); 🔁 Try again only for a send
    the gateway refused."""
    if row is None or row.user_id != user_id or row.state not in HANDLED:
        return Refusal.INVALID
    if action == "retry" and row.state != "failed":
        return Refusal.INVALID
    if action != "check" and row.erased_at is not None:
        return Refusal.ERASED
    return None


def first_attempt(row: SendRow) -> First | None:
    """What the new preview of 📨 Send again should say about the SMS it repeats (None: nothing to warn of)."""
    if row.state == "unknown":
        return First.MAY_HAVE_GONE
    if row.state != "accepted":
        return None
    status = DeliveryStatus(row.status_code or 0, row.status_name or "")
    if row.final and status.kind is StatusKind.DELIVERED:
        return First.DELIVERED
    if not row.final:
        return First.MAY_HAVE_GONE if row.final_at is not None else First.NOT_FINAL
    return None


async def check(gateway: SmskaClient, row: SendRow) -> DeliveryStatus | GatewayError | None:
    """🔍 Check status: the stored final status, else the gateway's answer (or why there is none); None when
    no id is known (the gateway never answered the send), so there is nothing to ask about."""
    if row.gateway_id is None:
        return None
    if row.final and row.status_code is not None:
        return DeliveryStatus(row.status_code, row.status_name or "")
    try:
        return await gateway.query(row.gateway_id)
    except GatewayError as exc:
        log.info("status check failed: %s", type(exc).__name__, extra={"send_id": row.id})
        return exc


RECENT_FAILURES = 10  # this operator's latest sends looked at for numbers that just failed


def did_not_reach(row: SendRow) -> bool:
    """The gateway refused it, or the carrier rejected, expired or deleted it: the number certainly did not get it."""
    if row.state == "failed":
        return True
    status = DeliveryStatus(row.status_code or 0, row.status_name or "")
    return row.state == "accepted" and bool(row.final) and status.kind in NOT_REACHED


async def just_failed(db: Database, row: SendRow) -> set[str]:
    """👤 Other recipient: the numbers its one-tap picks must not offer — this SMS's own, and every number whose
    latest SMS from this operator did not reach it."""
    latest: dict[str, SendRow] = {}
    for sent in await db.sends.recent(row.user_id, RECENT_FAILURES):
        latest.setdefault(sent.msisdn, sent)
    return {row.msisdn} | {msisdn for msisdn, sent in latest.items() if did_not_reach(sent)}


# --- what a preview says under its text -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PreviewFacts:
    recent: SentTo | None  # the duplicate guard: the latest SMS to this number in the window (not the one repeated)
    first: First | None  # 📨 Send again: what became of the SMS this draft repeats


async def preview_facts(
    db: Database, settings: Settings, draft: SendRow, *, repeats: bool | None = None
) -> PreviewFacts:
    """Looked up each time the preview is shown (another sender, plain characters), so that its warnings stay
    and stay current. `repeats=False`: the caller knows the draft repeats no send (one look-up less)."""
    since = duplicate_since(settings)
    recent = (await db.results.sent_to([draft.msisdn], since, draft_id=draft.id)).get(draft.msisdn)
    origin = await db.results.origin_of(draft.id) if repeats is not False else None
    first = first_attempt(origin) if origin is not None and origin.state != "failed" else None
    return PreviewFacts(recent, first)


# --- the duplicate guard ------------------------------------------------------------------------------------
def duplicate_since(settings: Settings, now: datetime | None = None) -> Epoch:
    """The start (epoch seconds) of the DUPLICATE_WINDOW_MINUTES window ending `now`."""
    return (epoch(now) if now is not None else times.now()) - int(settings.duplicate_window_minutes * 60)


async def recent_sends(
    db: Database,
    settings: Settings,
    msisdns: str | Sequence[str],
    *,
    exclude: Sequence[int] = (),
    now: datetime | None = None,
) -> dict[str, SentTo]:
    """The duplicate guard: for each number (one, or a batch's list) that got an SMS from anyone on the team in
    the last DUPLICATE_WINDOW_MINUTES, the latest one (who, when, its status) and how many; drafts, cancelled
    and refused sends do not count; sends in `exclude` (row ids) are left out. Render with
    `bot.ui.result_texts.duplicate`."""
    numbers = [msisdns] if isinstance(msisdns, str) else list(msisdns)
    return await db.results.sent_to(numbers, duplicate_since(settings, now), exclude=exclude)
