"""Buttons of templates and their callback data (ids only, never a text: see bot.ui.callbacks)."""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services.templates import TemplatePage
from bot.storage.templates import Template
from bot.ui import name_buttons
from bot.ui.callbacks import FlowCancelCb, RowId, Small


class TemplateCb(CallbackData, prefix="tp"):
    """`send`: start a send with its text (asks the recipient); `use`: its text at the guided text step (the
    preview); `delete`: the one who saved it or an admin."""

    action: Literal["send", "use", "delete"]
    template_id: RowId


class TemplatePageCb(CallbackData, prefix="tpp"):
    page: Small


def label(template: Template) -> str:
    return "#" + template.name  # fitted to its button by bot.ui.name_buttons


def card(template: Template, can_delete: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📨 Send"), callback_data=TemplateCb(action="send", template_id=template.id))
    if can_delete:
        kb.button(text=_("🗑 Delete"), callback_data=TemplateCb(action="delete", template_id=template.id))
    return kb.as_markup()


def page(shown: TemplatePage) -> InlineKeyboardMarkup | None:
    """One button a template (starts a send with it), two a row; ◀ ▶ below when there are several pages."""
    if not shown.templates:
        return None
    kb = InlineKeyboardBuilder()
    sizes = name_buttons.add(
        kb, [("📨 " + label(t), TemplateCb(action="send", template_id=t.id)) for t in shown.templates]
    )
    paging = 0
    if shown.page > 0:
        kb.button(text="◀", callback_data=TemplatePageCb(page=shown.page - 1))
        paging += 1
    if shown.page < shown.pages - 1:
        kb.button(text="▶", callback_data=TemplatePageCb(page=shown.page + 1))
        paging += 1
    kb.adjust(*sizes, *([paging] if paging else []))
    return kb.as_markup()


def text_step(templates: list[Template]) -> InlineKeyboardMarkup:
    """The guided text step: a button a template (one tap: the preview), two a row, and Cancel."""
    kb = InlineKeyboardBuilder()
    sizes = name_buttons.add(kb, [(label(t), TemplateCb(action="use", template_id=t.id)) for t in templates])
    kb.button(text=_("✖️ Cancel"), callback_data=FlowCancelCb())
    kb.adjust(*sizes, 1)
    return kb.as_markup()
