"""Callback data of the address book's buttons (contacts, groups, the recipient choice, the guided step's
one-tap recipients). Ids only — never a number or a name: a name or a number pending a choice is kept in the
operator's FSM data, and a press must match it."""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData

from bot.ui.callbacks import RowId, Small

#: A card's buttons (one handler: bot/handlers/cards.py): its card, 📨 Send (ask the text), 🗑 Delete; "sure": delete
#: what others rely on after the question; "keep": the question answered no; "undo": ↩️ after a delete; "repoint":
#: an admin's change of another's contact number, confirmed (the number is kept in FSM data, by message).
CardAction = Literal["send", "show", "del", "sure", "keep", "undo", "repoint"]


class ContactCb(CallbackData, prefix="ct"):
    action: CardAction
    contact_id: RowId


class ContactPageCb(CallbackData, prefix="ctp"):
    page: Small


class ContactAddCb(CallbackData, prefix="cta"):
    pass


class SharedCb(CallbackData, prefix="csh"):
    """Under a Telegram contact shared outside a flow: send it an SMS, or save it (the number is in FSM data,
    keyed by the message the buttons are on)."""

    action: Literal["send", "save"]


class PickCb(CallbackData, prefix="cpk"):
    """A one-tap recipient at the guided number step: a contact ('c') or this operator's earlier send ('s')."""

    kind: Literal["c", "s"]
    id: RowId


class ChoiceCb(CallbackData, prefix="cch"):
    """Several names matched: the one meant (an index into the choices kept in FSM data)."""

    index: Small


class DutyCb(CallbackData, prefix="dty"):
    """📨 under /duty: a send to whoever is on duty when it is pressed."""

    action: Literal["send"]


class GroupPageCb(CallbackData, prefix="grpp"):
    page: Small


class GroupCb(CallbackData, prefix="grp"):
    action: CardAction
    group_id: RowId
