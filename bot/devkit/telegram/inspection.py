"""What tests, the playground and the benchmarks read and wait for: the bot's messages, the updates not
yet fetched, Telegram's rate limits, "the bot is polling", "the bot is idle"."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from .core import ServerCore
from .models import BotEvent, BotMessage, FakeTelegramTimeout, MessageVersion, render_message
from .protocol import JsonDict

#: Methods that count as "messages" for Telegram's rate limits (see :meth:`FakeTelegram.max_rate`).
MESSAGE_METHODS: tuple[str, ...] = ("sendMessage", "editMessageText", "editMessageReplyMarkup")


class InspectionMixin(ServerCore):
    """Reading the server's records and waiting for the bot."""

    def messages(self, chat_id: int) -> list[BotMessage]:
        """The bot's messages in a chat (current state, deleted ones included)."""
        return list(self._chat_state(chat_id).bot_messages.values())

    def message(self, chat_id: int, message_id: int) -> BotMessage:
        message = self._chat_state(chat_id).bot_messages.get(message_id)
        if message is None:
            raise KeyError(f"the bot has no message #{message_id} in chat {chat_id}")
        return message

    @property
    def sent_messages(self) -> list[BotMessage]:
        """Every message the bot sent, in all chats, in the order it sent them."""
        return [e.message for state in self._chats.values() for e in state.events if e.kind == "message"]

    def render(self, message: BotMessage | BotEvent | MessageVersion) -> str:
        """Short plain text with numbered inline buttons, e.g. ``"Balance: 998 ₽\\n  [1] Refresh"``."""
        return render_message(message)

    async def push_update(self, update_type: str, payload: JsonDict) -> JsonDict:
        """Queue a raw update (``{"update_id": ..., update_type: payload}``); returns it."""
        return self._queue_update(update_type, payload)

    @property
    def pending_updates(self) -> list[JsonDict]:
        """Updates not yet confirmed by the bot (getUpdates offset) or not yet delivered to the webhook."""
        return list(self._pending)

    def max_rate(
        self,
        window: float = 1.0,
        *,
        chat_id: int | None = None,
        per_chat: bool = False,
        methods: Iterable[str] = MESSAGE_METHODS,
    ) -> int:
        """The largest number of ``methods`` calls inside any ``window`` seconds: overall, to one
        ``chat_id``, or the worst single chat (``per_chat=True``). Telegram's limits: ``max_rate() <= 30``
        and ``max_rate(per_chat=True) <= 1``."""
        if window <= 0:
            raise ValueError("window must be positive")
        names = {self._canonical(m) for m in methods}
        selected = [c for c in self.calls if c.method in names]
        if chat_id is not None:
            selected = [c for c in selected if c.params.get("chat_id") == chat_id]
        if per_chat:
            by_chat: dict[Any, list[float]] = {}
            for call in selected:
                by_chat.setdefault(call.params.get("chat_id"), []).append(call.time)
            return max((_max_in_window(times, window) for times in by_chat.values()), default=0)
        return _max_in_window([c.time for c in selected], window)

    async def wait_for_poll(self, timeout: float = 5.0) -> None:
        """Wait until the bot has a getUpdates request waiting (it is polling and has caught up)."""
        try:
            await self._signal.wait_until(lambda: True if self._polling > 0 and not self._pending else None, timeout)
        except TimeoutError:
            raise FakeTelegramTimeout(
                f"Timed out after {timeout:g}s waiting for the bot to long-poll getUpdates "
                f"({len(self.calls_to('getUpdates'))} getUpdates calls so far, {len(self._pending)} updates pending)"
            ) from None

    async def wait_idle(self, quiet: float = 0.2, timeout: float = 10.0) -> None:
        """Wait until the bot has fetched every update, no request is in flight and no request came for
        ``quiet`` seconds: "the answers are in" for the playground and benchmarks."""
        deadline = time.monotonic() + timeout
        while True:
            current = time.monotonic()
            busy = bool(self._pending) or self._inflight > 0
            idle_for = current - self._last_activity
            if not busy and idle_for >= quiet:
                return
            remaining = deadline - current
            if remaining <= 0:
                raise FakeTelegramTimeout(
                    f"Timed out after {timeout:g}s waiting for the bot to go idle: {len(self._pending)} updates "
                    f"not fetched, {self._inflight} requests in flight"
                )
            await self._signal.wait(remaining if busy else min(remaining, quiet - idle_for))


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = start = 0
    for index, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, index - start + 1)
    return best
