"""FSM states of the guided flows."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class SendFlow(StatesGroup):
    number = State()
    text = State()
