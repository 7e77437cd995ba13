"""A guided step (➕ Add's name and number, naming a shared contact, /send's number and text) never traps a
command: any command but /cancel and /start leaves the step and is then carried out as outside it. A step left
alone for `STEP_MINUTES` expires: the next message is read as outside a step, after one line that says so.

Registered on `message` and `callback_query` (outer: before the state filters), after aiogram's FSM middleware
has put `state` and `raw_state` in the handler data."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, TelegramObject

from bot.storage.db import Database
from bot.storage.fsm import key_text
from bot.times import seconds
from bot.ui import step_texts

STEP_MINUTES = 30.0
OWN_COMMANDS = frozenset({"/cancel", "/start"})  # they end the step themselves, and say so
KEPT = ("shared", "repoint")  # FSM data that belongs to no step (buttons under shared contacts, ✅ Change)


def command_of(event: TelegramObject) -> str | None:
    """`/duty` of `/duty@OnCallBot Olga`; None for anything that is not a command."""
    if not isinstance(event, Message) or not event.text or not event.text.startswith("/"):
        return None
    word = event.text.split(maxsplit=1)[0]
    return word.split("@", 1)[0].lower()


async def leave(state: FSMContext) -> None:
    """The step ends; its data goes with it (a kept text, a number), except what belongs to no step."""
    data = await state.get_data()
    await state.set_state(None)
    await state.set_data({k: data[k] for k in KEPT if k in data})


class StepsMiddleware(BaseMiddleware):
    def __init__(self, *, db: Database, minutes: float = STEP_MINUTES, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.minutes = minutes
        self.clock = clock  # the tests move it on instead of waiting half an hour

    async def expired(self, state: FSMContext) -> bool:
        changed = await self.db.fsm.changed_at(key_text(state.key))
        if changed is None:
            return False
        return self.clock() - seconds(changed) > self.minutes * 60

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        state = data.get("state")
        if data.get("raw_state") is None or not isinstance(state, FSMContext):
            return await handler(event, data)
        command = command_of(event)
        if command in OWN_COMMANDS:
            return await handler(event, data)
        expired = await self.expired(state)
        if command is not None or expired:
            await leave(state)
            data["raw_state"] = None  # the state filters now see no step
            if expired and command is None and isinstance(event, Message):
                await event.answer(step_texts.expired(int(self.minutes)))
        return await handler(event, data)
