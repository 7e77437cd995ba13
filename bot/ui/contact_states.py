"""FSM states of the address book's guided steps."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class ContactFlow(StatesGroup):
    """➕ Add: the name, then the number (typed or a shared contact)."""

    name = State()
    number = State()
