"""Messages the bot sends on its own (delivery notices, crash recovery, low balance), within Telegram's limits.

Telegram allows about 30 messages a second overall and about one a second per chat; the notifier spaces its
calls to stay under both, and treats a blocked bot or a vanished message as a fact, not a crash.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

log = logging.getLogger(__name__)


class RateLimiter:
    """At most `overall` calls a second in all, and one per `per_chat` seconds in any one chat.

    Each call gets the earliest moment that is free in its chat and `1/overall` seconds away from every
    moment already given, so a chat waiting for its turn does not hold up the others."""

    def __init__(self, overall: float = 25.0, per_chat: float = 1.05) -> None:
        self.spacing = 1.0 / overall
        self.per_chat = per_chat
        self._lock = asyncio.Lock()
        self._slots: list[float] = []  # moments given out, sorted; older ones are dropped
        self._next_chat: dict[int, float] = {}

    async def wait(self, chat_id: int) -> None:
        async with self._lock:
            now = time.monotonic()
            at = max(now, self._next_chat.get(chat_id, 0.0))
            del self._slots[: bisect.bisect_right(self._slots, now - self.spacing)]
            for slot in self._slots:
                if slot <= at - self.spacing:
                    continue
                if slot >= at + self.spacing:
                    break
                at = slot + self.spacing
            bisect.insort(self._slots, at)
            self._next_chat[chat_id] = at + self.per_chat
            if len(self._next_chat) > 10_000:
                self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class Notifier:
    def __init__(self, bot: Bot, limiter: RateLimiter | None = None) -> None:
        self.bot = bot
        self.limiter = limiter or RateLimiter()

    async def send(
        self, chat_id: int, text: str, *, reply_to: int | None = None, markup: InlineKeyboardMarkup | None = None
    ) -> int | None:
        """Send a message; its id, or None when Telegram would not take it (blocked, chat gone)."""
        await self.limiter.wait(chat_id)
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        try:
            sent = await self.bot.send_message(chat_id, text, reply_parameters=reply, reply_markup=markup)
        except TelegramForbiddenError:
            log.info("chat %s blocked the bot; notice dropped", chat_id)
            return None
        except TelegramAPIError as exc:
            log.warning("could not send a notice to %s: %s", chat_id, exc.message)
            return None
        return sent.message_id

    async def edit(self, chat_id: int, message_id: int, text: str) -> bool:
        """Edit a message in place; False when it is gone (the caller may send a new one instead)."""
        await self.limiter.wait(chat_id)
        try:
            await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return True
            log.info("could not edit message %s in %s: %s", message_id, chat_id, exc.message)
            return False
        except TelegramAPIError as exc:
            log.info("could not edit message %s in %s: %s", message_id, chat_id, exc.message)
            return False
        return True
