"""Templates: the team's saved SMS texts. `#name` in place of a text becomes that text (`final_text`, the one
hook the send flow calls before its preview); the guided text step offers the most used; who may delete."""

from __future__ import annotations

from dataclasses import dataclass

from bot.sms.templates import key, reference
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.storage.templates import Template

PAGE = 10  # templates a page of /templates
TEXT_STEP_BUTTONS = 6  # templates offered at the guided text step
NAMES_SHOWN = 20  # names listed under an unknown `#name`


@dataclass(frozen=True, slots=True)
class UnknownTemplate:
    """`#name` and no template has that name: the names there are (the first NAMES_SHOWN by name) and how many
    more."""

    name: str
    names: list[str]
    more: int


@dataclass(frozen=True, slots=True)
class TemplatePage:
    templates: list[Template]
    page: int  # from 0
    pages: int
    total: int


async def final_text(db: Database, text: str) -> str | UnknownTemplate:
    """The text that goes into the preview: a template's text for `#name`, any other text as it is."""
    name = reference(text)
    if name is None:
        return text
    found = await db.templates.by_key(key(name))
    if found is None:
        known = await db.templates.by_name(NAMES_SHOWN)
        total = await db.templates.count()
        return UnknownTemplate(name, [t.name for t in known], total - len(known))
    await db.templates.used(found.id)
    return found.text


async def picked(db: Database, template_id: int) -> Template | None:
    """A template chosen by a button (its use counted), or None when it is gone."""
    found = await db.templates.get(template_id)
    if found is not None:
        await db.templates.used(found.id)
    return found


async def for_text_step(db: Database) -> list[Template]:
    return await db.templates.popular(TEXT_STEP_BUTTONS)


async def page(db: Database, number: int) -> TemplatePage:
    total = await db.templates.count()
    pages = max(1, (total + PAGE - 1) // PAGE)
    number = min(max(number, 0), pages - 1)
    return TemplatePage(await db.templates.by_name(PAGE, number * PAGE), number, pages, total)


def may_delete(template: Template, operator: Operator) -> bool:
    """The one who saved it first (replacing it keeps them) or an admin: to delete it, or to replace its text."""
    return operator.is_admin or template.saved_by == operator.user_id
