"""What a send to several recipients looks like as data: each recipient's fate, the batch with its recipients,
what a press did. Pure: no I/O."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from bot.services.limits import LimitHit
from bot.sms.recipients import Recipient
from bot.storage.batches import BatchRow, Member

DELIVERED = 4  # the gateway's status code of a delivered SMS


class Fate(enum.StrEnum):
    """What became of one recipient's SMS, as the summary groups them."""

    DRAFT = "draft"  # not pressed yet
    QUEUED = "queued"  # pressed, not attempted yet
    SENDING = "sending"  # the gateway call is in flight
    PENDING = "pending"  # accepted, not final yet
    DELIVERED = "delivered"
    REJECTED = "rejected"  # final, not delivered (rejected, expired, deleted)
    FAILED = "failed"  # the gateway refused it: it did not go out
    UNKNOWN = "unknown"  # no answer, interrupted, or no final status within DELIVERY_TRACK_HOURS


def fate(member: Member) -> Fate:
    if member.state is None:
        return Fate.DRAFT
    if member.state == "sending":
        return Fate.SENDING if member.attempted_at is not None else Fate.QUEUED
    if member.state == "failed":
        return Fate.FAILED
    if member.state == "accepted":
        if member.final_at is None:
            return Fate.PENDING
        if not member.final:
            return Fate.UNKNOWN
        return Fate.DELIVERED if member.status_code == DELIVERED else Fate.REJECTED
    return Fate.UNKNOWN


OPEN_FATES = frozenset({Fate.QUEUED, Fate.SENDING, Fate.PENDING})
RESEND_FATES = frozenset({Fate.FAILED, Fate.REJECTED})  # certainly did not reach the phone


@dataclass(frozen=True, slots=True)
class BatchView:
    batch: BatchRow
    members: list[Member]

    def fates(self) -> list[tuple[Member, Fate]]:
        return [(m, fate(m)) for m in self.members]

    def count(self, *kinds: Fate) -> int:
        return sum(1 for _, f in self.fates() if f in kinds)

    @property
    def total_parts(self) -> int:
        return self.batch.parts * len(self.members)

    @property
    def sending(self) -> bool:
        return self.batch.state == "pressed" and self.batch.sent_all_at is None

    @property
    def all_final(self) -> bool:
        return self.batch.sent_all_at is not None and not self.count(*OPEN_FATES)

    def to_resend(self) -> list[Recipient]:
        return [Recipient(m.msisdn, m.name) for m, f in self.fates() if f in RESEND_FATES]

    def unknown(self) -> list[Member]:
        """Those whose SMS may or may not have gone out (their own button: send again if it is urgent)."""
        return [m for m, f in self.fates() if f is Fate.UNKNOWN and m.msisdn]


@dataclass(frozen=True, slots=True)
class Press:
    """What one press on a batch preview did: `pressed` only for the press that sent it."""

    batch: BatchRow
    pressed: bool
    limit: LimitHit | None = None
    expired: bool = False


def unique(recipients: Sequence[Recipient]) -> list[Recipient]:
    """Each number once (the first mention, with its name, wins), in the order given."""
    seen: dict[str, Recipient] = {}
    for r in recipients:
        if r.msisdn not in seen or (seen[r.msisdn].name is None and r.name is not None):
            seen[r.msisdn] = r
    return list(seen.values())
