"""One operator's updates handled one at a time and in update order, whichever replica gets them (issue 27
point 4).

Two outer middlewares on `dp.update`, one object:
- `announce`, before the redelivery guard: the update is announced in its chat at once (it takes no waiting, so
  polling's confirmation of a batch is not held up by a busy chat);
- `wait`, right after the guard recorded the update: the update waits for its chat's turn, older updates of the
  chat first, before anything reads the chat's state (the person, the guided step, the FSM).
The chat is the update's chat, else its sender (an inline query).

On PostgreSQL the turns are the database's (`bot.replicas.chatlock`), across replicas. On SQLite (one process)
they are kept in memory (`LocalTurns`): no statement, nothing stored. Before them two quick messages of a guided
`/send` (the number, then the text) fetched in one batch were handled at once and both read the number step.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiogram.types import Chat, TelegramObject, Update, User

from bot.replicas.chatlock import WAIT, ChatLocks, Turn

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
TURN = "chat_turn"


class LocalTurns:
    """One process: a chat's announced updates take their turns in update_id order; an update still waiting
    after WAIT seconds goes on (a stuck handler must not silence the chat)."""

    def __init__(self) -> None:
        self._waiting: dict[int, list[int]] = {}  # chat -> announced update ids, sorted; the first one has the turn
        self._changed: dict[int, asyncio.Condition] = {}

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int, update_id: int) -> AsyncIterator[LocalTurn]:
        ids = self._waiting.setdefault(chat_id, [])
        bisect.insort(ids, update_id)
        changed = self._changed.setdefault(chat_id, asyncio.Condition())
        try:
            yield LocalTurn(self, chat_id, update_id)
        finally:
            ids.remove(update_id)
            if not ids:
                del self._waiting[chat_id], self._changed[chat_id]
            async with changed:
                changed.notify_all()

    async def locked(self, turn: LocalTurn) -> None:
        changed = self._changed[turn.chat_id]
        ids = self._waiting[turn.chat_id]
        try:
            async with changed:
                await asyncio.wait_for(changed.wait_for(lambda: ids[0] == turn.update_id), WAIT)
        except TimeoutError:
            log.warning("update %s goes on without its chat's turn: its turn did not come in time", turn.update_id)


class LocalTurn:
    def __init__(self, turns: LocalTurns, chat_id: int, update_id: int) -> None:
        self.turns = turns
        self.chat_id = chat_id
        self.update_id = update_id


class ChatOrder:
    def __init__(self, locks: ChatLocks | None) -> None:
        self.locks = locks  # None: SQLite, one process: the turns are kept in memory
        self.local = LocalTurns()

    async def announce(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat: Chat | None = data.get("event_chat")
        user: User | None = data.get("event_from_user")
        key = chat.id if chat is not None else user.id if user is not None else None
        if key is None or not isinstance(event, Update):
            return await handler(event, data)
        turns = self.local if self.locks is None else self.locks
        async with turns.turn(key, event.update_id) as turn:
            data[TURN] = turn
            return await handler(event, data)

    async def wait(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        turn: Turn | LocalTurn | None = data.get(TURN)
        if isinstance(turn, LocalTurn):
            await self.local.locked(turn)
        elif turn is not None and self.locks is not None:
            await self.locks.locked(turn)
        return await handler(event, data)
