"""Messages the bot sends on its own (delivery notices, crash recovery, low balance), within Telegram's limits.

Telegram allows about 30 messages a second overall and about one a second per chat; the notifier spaces its
calls to stay under both, and treats a blocked bot or a vanished message as a fact, not a crash. Among replicas
(bot/replicas/pace.py) each takes its share of the overall budget (`share`), and a chat's moments are shared
(`shared`), so the limits hold for the bot as a whole.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"
#: What a message is to show now (its text and buttons), or None when it shows that already.
Draw = Callable[[], Awaitable[tuple[str, InlineKeyboardMarkup | None] | None]]


async def edit(bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
    """Edit a message in place. True when it shows `text` now (edited, or it already did); False when it cannot
    be edited (gone, too old, or Telegram failed), so that the caller may send it anew."""
    try:
        await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup)
    except TelegramBadRequest as exc:
        if NOT_MODIFIED in exc.message:
            return True
        log.info("could not edit message %s in %s: %s", message_id, chat_id, exc.message)
        return False
    except TelegramAPIError as exc:
        log.warning("could not edit message %s in %s: %s", message_id, chat_id, exc.message)
        return False
    return True


class RateLimiter:
    """At most `overall` calls a second in all, and one per `per_chat` seconds in any one chat.

    Each call gets the earliest moment that is free in its chat and `1/overall` seconds away from every
    moment already given, so a chat waiting for its turn does not hold up the others."""

    def __init__(self, overall: float = 25.0, per_chat: float = 1.05) -> None:
        self.overall = overall
        self.spacing = 1.0 / overall
        self.per_chat = per_chat
        self.replicas = 1
        #: Among replicas: reserves a chat's next moment with the others and says how long to wait for it.
        self.shared: Callable[[int], Awaitable[float]] | None = None
        self._lock = asyncio.Lock()
        self._slots: list[float] = []  # moments given out, sorted; older ones are dropped
        self._next_chat: dict[int, float] = {}
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._chat_users: dict[int, int] = {}  # callers holding or waiting for a chat's lock

    def share(self, replicas: int) -> None:
        """`replicas` replicas are alive: this one takes its share of the overall budget."""
        replicas = max(1, replicas)
        if replicas != self.replicas:
            log.info("replicas alive: %d (Telegram budget here: %.1f messages/s)", replicas, self.overall / replicas)
        self.replicas = replicas
        self.spacing = replicas / self.overall

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

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        """`async with limiter.turn(chat_id):` make the call. Calls in one chat go one at a time, each starting
        `per_chat` after the previous one *finished*, so they reach Telegram that far apart however long the
        network held the previous one (spacing their starts alone let two arrive 0.85 s apart under load)."""
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        self._chat_users[chat_id] = self._chat_users.get(chat_id, 0) + 1
        try:
            async with lock:
                await self.wait(chat_id)
                if self.shared is not None:  # another replica may have spoken in this chat a moment ago
                    delay = await self.shared(chat_id)
                    if delay > 0:
                        await asyncio.sleep(delay)
                try:
                    yield
                finally:
                    done = time.monotonic() + self.per_chat
                    self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), done)
        finally:
            left = self._chat_users[chat_id] - 1
            if left:
                self._chat_users[chat_id] = left
            else:
                del self._chat_users[chat_id], self._chat_locks[chat_id]


class Notifier:
    def __init__(self, bot: Bot, limiter: RateLimiter | None = None) -> None:
        self.bot = bot
        self.limiter = limiter or RateLimiter()

    async def send(
        self, chat_id: int, text: str, *, reply_to: int | None = None, markup: InlineKeyboardMarkup | None = None
    ) -> int | None:
        """Send a message; its id, or None when Telegram would not take it (blocked, chat gone)."""
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        try:
            async with self.limiter.turn(chat_id):
                sent = await self.bot.send_message(chat_id, text, reply_parameters=reply, reply_markup=markup)
        except TelegramForbiddenError:
            log.info("chat %s blocked the bot; notice dropped", chat_id)
            return None
        except TelegramAPIError as exc:
            log.warning("could not send a notice to %s: %s", chat_id, exc.message)
            return None
        return sent.message_id

    async def edit(self, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        """Edit a message in place (its buttons become `markup`); False when it is gone (the caller may send a
        new one instead)."""
        async with self.limiter.turn(chat_id):
            return await edit(self.bot, chat_id, message_id, text, markup)

    async def edit_drawn(self, chat_id: int, message_id: int, draw: Draw) -> bool | None:
        """Edit a message with what `draw` gives when the chat's turn comes, not when the edit was asked for: a
        message that moved on while it waited for its turn shows where it is now, in one edit instead of a stale
        one and another a second later. None when `draw` had nothing new (nothing was called); else as `edit`."""
        async with self.limiter.turn(chat_id):
            drawn = await draw()
            if drawn is None:
                return None
            return await edit(self.bot, chat_id, message_id, *drawn)
