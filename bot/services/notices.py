"""What the services say on their own, as the services see it: the protocol they speak through.

The services deal in data; the words and buttons are the UI layer's (`bot/ui/notices.py`, `feed_texts.py`,
`batch_texts.py`, `alert_texts.py` implement these protocols; `bot.app` hands them over). The services import
this module, never `bot.ui` — not even for types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from aiogram.types import InlineKeyboardMarkup

from bot.sms.status import DeliveryStatus
from bot.storage.models import AccessRequest, SendRow
from bot.times import Epoch

if TYPE_CHECKING:
    from bot.services.batch_view import BatchView
    from bot.services.limits import LimitHit
    from bot.storage.alerts import AlertRow
    from bot.storage.batches import Member


@dataclass(frozen=True, slots=True)
class Notice:
    """A message ready to go: its text and, maybe, its buttons."""

    text: str
    markup: InlineKeyboardMarkup | None = None


class Notices(Protocol):
    """Delivery results, restarts, low balance, limits, access requests and decisions, in a person's language."""

    def delivery(self, locale: str, send: SendRow, status: DeliveryStatus | None, at: Epoch) -> str: ...

    def delivery_actions(
        self, locale: str, send: SendRow, status: DeliveryStatus | None
    ) -> InlineKeyboardMarkup | None: ...

    def outcome_actions(self, locale: str, row: SendRow) -> InlineKeyboardMarkup | None: ...

    def watchdog(self, locale: str, send: SendRow) -> Notice: ...

    def interrupted(self, locale: str, row: SendRow) -> str: ...

    def owed_outcome(self, locale: str, row: SendRow) -> str: ...

    def low_balance(self, locale: str, balance: Decimal, threshold: Decimal) -> str: ...

    def limit_reached(self, locale: str, user_id: int, name: str, username: str | None, hit: LimitHit) -> str: ...

    def access_request(self, locale: str, request: AccessRequest) -> Notice: ...

    def access_digest(self, locale: str, requests: list[AccessRequest]) -> str: ...

    def access_decided(self, locale: str, request: AccessRequest, *, approved: bool, admin: str) -> str: ...

    def draft_withdrawn(self, locale: str) -> str: ...

    def access_granted(self, locale: str) -> str: ...

    def access_declined(self, locale: str) -> str: ...


class FeedTexts(Protocol):
    """The team feed's lines (TEAM_CHAT_ID), in the team's language."""

    def send_line(self, row: SendRow, who: str) -> str: ...

    def batch_line(
        self, who: str, total: int, tally: Mapping[str, int], text: str | None = None, via: str | None = None
    ) -> str: ...


class BatchNotices(Protocol):
    """A send to several recipients: the progress board, the ringing notice, the word after a restart."""

    def board(self, locale: str, view: BatchView) -> tuple[str, InlineKeyboardMarkup | None]: ...

    def ringing(self, locale: str, view: BatchView) -> tuple[str, InlineKeyboardMarkup | None]: ...

    def restarted(self, locale: str, view: BatchView, in_flight: Sequence[Member], queued: int) -> str: ...


class AlertTexts(Protocol):
    """An incoming alert group as a message (who acted on it), its keyboard, the storm's digest, and a preview closed
    because its group resolved."""

    def message(
        self,
        group: AlertRow,
        locale: str,
        actor: str | None = None,
        taker: str | None = None,
        extra: Sequence[str] = (),
    ) -> str: ...

    def markup(self, group: AlertRow, locale: str, mine: bool = False) -> InlineKeyboardMarkup: ...

    def digest(self, groups: Sequence[AlertRow], started_at: Epoch, locale: str) -> str: ...

    def closed_preview(self, group: AlertRow, text: str, locale: str) -> str: ...
