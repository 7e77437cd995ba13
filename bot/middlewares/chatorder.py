"""One operator's updates handled one at a time and in update order, whichever replica gets them (PostgreSQL;
issue 27 point 4). The turns themselves are `bot.replicas.chatlock`.

Two outer middlewares on `dp.update`, one object:
- `announce`, before the redelivery guard: the update is announced in its chat at once (it takes no waiting, so
  polling's confirmation of a batch is not held up by a busy chat);
- `wait`, right after the guard recorded the update: the chat's lock is taken, older updates of the chat first,
  before anything reads the chat's state (the person, the guided step, the FSM).
The chat is the update's chat, else its sender (an inline query).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import Chat, TelegramObject, Update, User

from bot.replicas.chatlock import ChatLocks, Turn

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
TURN = "chat_turn"


class ChatOrder:
    def __init__(self, locks: ChatLocks) -> None:
        self.locks = locks

    async def announce(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat: Chat | None = data.get("event_chat")
        user: User | None = data.get("event_from_user")
        key = chat.id if chat is not None else user.id if user is not None else None
        if key is None or not isinstance(event, Update):
            return await handler(event, data)
        async with self.locks.turn(key, event.update_id) as turn:
            data[TURN] = turn
            return await handler(event, data)

    async def wait(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        turn: Turn | None = data.get(TURN)
        if turn is not None:
            await self.locks.locked(turn)
        return await handler(event, data)
