"""Rows as the rest of the bot sees them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.times import Epoch


@dataclass(frozen=True, slots=True)
class Operator:
    user_id: int
    role: str  # 'admin' | 'operator'
    name: str
    added_by: int | None
    added_at: Epoch
    active: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    name: str
    username: str | None
    locale: str | None
    last_locale: str | None
    last_seen_at: Epoch | None


@dataclass(frozen=True, slots=True)
class AccessRequest:
    id: int
    user_id: int
    name: str
    username: str | None
    locale: str | None
    status: str  # 'pending' | 'approved' | 'denied'
    created_at: Epoch
    decided_by: int | None
    decided_at: Epoch | None


@dataclass(frozen=True, slots=True)
class SendRow:
    id: int
    user_id: int
    chat_id: int
    msisdn: str
    sender: str
    text: str
    encoding: str
    parts: int
    state: str  # draft | sending | accepted | failed | unknown | cancelled
    preview_message_id: int | None
    result_message_id: int | None
    gateway_id: str | None
    balance_after: str | None
    error_code: int | None
    error_text: str | None
    status_code: int | None
    status_name: str | None
    final: int
    locale: str | None
    created_at: Epoch
    sent_at: Epoch | None
    final_at: Epoch | None
    updated_at: Epoch
    outcome_owed_at: Epoch | None  # failed or unknown, and its operator not shown that yet
    notice_owed_at: Epoch | None  # tracking ended, and its operator not told yet
    claimed_at: Epoch | None = None  # the Send press that moved it out of `draft` (spend limits count from it)
    erased_at: Epoch | None = None  # RETENTION_DAYS: its text and number were erased then
    expired_at: Epoch | None = None  # a draft older than DRAFT_TTL_HOURS: it can no longer send
    recipient_name: str | None = None  # the contact's name when it was addressed by one (issue 16)
    recipient_via: str | None = None  # how it was chosen: "duty", "group:<name>" (Recipient.via; issue 23.11)


@dataclass(frozen=True, slots=True)
class TrackingRow:
    send_id: int
    next_check_at: float
    interval: float
    attempts: int
    deadline_at: float
