"""Spend limits: how many SMS parts one operator may send in the last hour and day (OPERATOR_PARTS_PER_HOUR,
OPERATOR_PARTS_PER_DAY). A stolen or shared phone must not drain the account in seconds.

The limit holds in the claim itself (`SendsRepository.claim`), so presses on many drafts at once cannot pass it
together; this service says which limit a draft is over, and tells the admins once per operator and window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.services.notifier import Notifier
from bot.storage.db import Database
from bot.times import Epoch, epoch, seconds

if TYPE_CHECKING:
    from bot.services.notices import Notices

log = logging.getLogger(__name__)

HOUR, DAY = "hour", "day"
WINDOW_SECONDS = {HOUR: 3600, DAY: 86400}
WARNED_KEY = "limit_warned:{user_id}:{window}"


@dataclass(frozen=True, slots=True)
class LimitHit:
    """A draft of `parts` parts would take this operator over `limit` parts per `window` ("hour" | "day"), of
    which `used` are spent."""

    window: str
    limit: int
    used: int
    parts: int


class SpendLimits:
    def __init__(self, *, db: Database, settings: Settings, notifier: Notifier, notices: Notices) -> None:
        self.db = db
        self.settings = settings
        self.notifier = notifier
        self.notices = notices

    def _limits(self) -> list[tuple[str, int]]:
        pairs = [(HOUR, self.settings.operator_parts_per_hour), (DAY, self.settings.operator_parts_per_day)]
        return [(window, most) for window, most in pairs if most is not None]

    @staticmethod
    def _since(window: str, now: datetime) -> Epoch:
        return epoch(now) - WINDOW_SECONDS[window]

    def bounds(self, now: datetime | None = None) -> list[tuple[Epoch, int]]:
        """(since, parts) for each limit that is set, for the claim's condition."""
        now = now or datetime.now(UTC)
        return [(self._since(window, now), most) for window, most in self._limits()]

    async def hit(self, user_id: int, parts: int) -> LimitHit | None:
        """The first limit a draft of `parts` parts is over, or None when it may be sent."""
        now = datetime.now(UTC)
        limits = self._limits()
        spent = await self.db.sends.parts_spent(user_id, [self._since(window, now) for window, _ in limits])
        for (window, most), used in zip(limits, spent, strict=True):
            if used + parts > most:
                return LimitHit(window=window, limit=most, used=used, parts=parts)
        return None

    async def tell_admins(self, user_id: int, hit: LimitHit) -> None:
        """Every admin hears of an operator over a limit once per window (again only a window later)."""
        key = WARNED_KEY.format(user_id=user_id, window=hit.window)
        now = datetime.now(UTC)
        last = await self.db.kv.get(key)
        # The kv value: epoch seconds (older files: ISO text, read alike by bot.times.seconds).
        if last is not None and seconds(last) > epoch(now) - WINDOW_SECONDS[hit.window]:
            return
        await self.db.kv.set(key, str(epoch(now)))
        log.warning("an operator reached a spend limit", extra={"user_id": user_id, "action": f"limit_{hit.window}"})
        person = await self.db.people.get(user_id)
        name, username = (person.name, person.username) if person is not None else ("", None)
        for admin_id in self.settings.admin_ids:
            locale = await self.db.people.locale_for(admin_id) or self.settings.default_locale
            await self.notifier.send(admin_id, self.notices.limit_reached(locale, user_id, name, username, hit))
