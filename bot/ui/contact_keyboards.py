"""Inline keyboards of the address book (built in an i18n context). Names on buttons are plain text:
Telegram never parses a button's text."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services.directory import Ambiguous, Pick
from bot.sms.phone import format_phone
from bot.storage.directory import Contact, Group
from bot.ui import name_buttons
from bot.ui.callbacks import FlowCancelCb
from bot.ui.contact_callbacks import (
    CardAction,
    ChoiceCb,
    ContactAddCb,
    ContactCb,
    ContactPageCb,
    DutyCb,
    GroupCb,
    GroupPageCb,
    PickCb,
    SharedCb,
)
from bot.ui.contact_texts import choice_label


def contacts_page(contacts: Sequence[Contact], page: int, pages: int) -> InlineKeyboardMarkup:
    """📨 per contact, one a row; ◀ ▶; ➕ Add."""
    kb = InlineKeyboardBuilder()
    sizes = name_buttons.add(
        kb, [("📨 " + c.name, ContactCb(action="send", contact_id=c.id)) for c in contacts], per_row=1
    )
    nav = 0
    if page > 0:
        kb.button(text="◀", callback_data=ContactPageCb(page=page - 1))
        nav += 1
    if page < pages - 1:
        kb.button(text="▶", callback_data=ContactPageCb(page=page + 1))
        nav += 1
    if nav:
        sizes.append(nav)
    kb.button(text=_("➕ Add"), callback_data=ContactAddCb())
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def add_only() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("➕ Add"), callback_data=ContactAddCb())
    return kb.as_markup()


def card(contact: Contact) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📨 Send"), callback_data=ContactCb(action="send", contact_id=contact.id))
    kb.button(text=_("🗑 Delete"), callback_data=ContactCb(action="del", contact_id=contact.id))
    return kb.as_markup()


def several(contacts: Sequence[Contact]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.adjust(
        *name_buttons.add(
            kb, [("👤 " + c.name, ContactCb(action="show", contact_id=c.id)) for c in contacts[:10]], per_row=1
        )
    )
    return kb.as_markup()


def shared() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📨 Send SMS"), callback_data=SharedCb(action="send"))
    kb.button(text=_("💾 Save contact"), callback_data=SharedCb(action="save"))
    return kb.as_markup()


def picks(found: Sequence[Pick]) -> InlineKeyboardMarkup:
    """The guided number step: one tap per recent or often used recipient, two a row when they show whole; then
    Cancel."""
    kb = InlineKeyboardBuilder()
    sizes = name_buttons.add(
        kb,
        [("👤 " + p.label if p.label else "📱 " + format_phone(p.msisdn), PickCb(kind=p.kind, id=p.id)) for p in found],
    )
    kb.button(text=_("✖️ Cancel"), callback_data=FlowCancelCb())
    kb.adjust(*sizes, 1)
    return kb.as_markup()


def choices(problem: Ambiguous) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    shown = [(choice_label(entry), ChoiceCb(index=i)) for i, entry in enumerate(problem.choices[:20])]
    sizes = name_buttons.add(kb, shown, per_row=1)
    kb.button(text=_("✖️ Cancel"), callback_data=FlowCancelCb())
    kb.adjust(*sizes, 1)
    return kb.as_markup()


def group_card(group: Group) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📨 Send"), callback_data=GroupCb(action="send", group_id=group.id))
    kb.button(text=_("🗑 Delete"), callback_data=GroupCb(action="del", group_id=group.id))
    return kb.as_markup()


def groups(found: Sequence[Group], page: int = 0, pages: int = 1) -> InlineKeyboardMarkup | None:
    """A page of /groups: one button a group, one a row; ◀ ▶."""
    if not found:
        return None
    kb = InlineKeyboardBuilder()
    sizes = name_buttons.add(kb, [("👥 " + g.name, GroupCb(action="show", group_id=g.id)) for g in found], per_row=1)
    nav = 0
    if page > 0:
        kb.button(text="◀", callback_data=GroupPageCb(page=page - 1))
        nav += 1
    if page < pages - 1:
        kb.button(text="▶", callback_data=GroupPageCb(page=page + 1))
        nav += 1
    kb.adjust(*sizes, *([nav] if nav else []))
    return kb.as_markup()


def duty() -> InlineKeyboardMarkup:
    """Under /duty: one tap to an SMS to whoever is on duty."""
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📨 SMS to duty"), callback_data=DutyCb(action="send"))
    return kb.as_markup()


def _card_cb(kind: str, row_id: int, action: CardAction) -> ContactCb | GroupCb:
    if kind == "contact":
        return ContactCb(action=action, contact_id=row_id)
    return GroupCb(action=action, group_id=row_id)


def sure(kind: str, row_id: int) -> InlineKeyboardMarkup:
    """The question before deleting what others rely on."""
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🗑 Delete anyway"), callback_data=_card_cb(kind, row_id, "sure"))
    kb.button(text=_("✖️ Keep"), callback_data=_card_cb(kind, row_id, "keep"))
    return kb.as_markup()


def undo(kind: str, row_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("↩️ Undo"), callback_data=_card_cb(kind, row_id, "undo"))
    return kb.as_markup()


def repoint(contact_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Change"), callback_data=ContactCb(action="repoint", contact_id=contact_id))
    kb.button(text=_("✖️ Keep"), callback_data=ContactCb(action="keep", contact_id=contact_id))
    return kb.as_markup()
