"""The words of templates (/template, /templates, `#name` in /send), in the current locale (HTML)."""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.services.templates import TemplatePage, UnknownTemplate
from bot.sms.clean import clean_name
from bot.sms.parts import count_parts
from bot.sms.templates import MAX_TEMPLATE_PARTS, NAME_MAX, Problem, Refused
from bot.storage.templates import Saved, Template
from bot.ui.texts import EXAMPLE_NUMBER, first_words, when

EXAMPLE_NAME = "dbdown"


def tag(name: str) -> str:
    """`#name`, escaped, in bold."""
    return f"<b>#{html.escape(name)}</b>"


def _example(name: str = EXAMPLE_NAME, text: str | None = None) -> str:
    text = _("Server db1 is down") if text is None else text
    return _("Example: <code>/template {name}: {text}</code>").format(name=html.escape(name), text=html.escape(text))


def usage() -> str:
    return "\n".join(
        [
            _("📝 Templates are the team's saved SMS texts."),
            _("Save or replace one: <code>/template {name}: {text}</code>").format(
                name=EXAMPLE_NAME, text=_("Server db1 is down")
            ),
            _("Show it: <code>/template {name}</code> · all of them: /templates").format(name=EXAMPLE_NAME),
            _("Send it: <code>/send {number} #{name}</code>").format(number=EXAMPLE_NUMBER, name=EXAMPLE_NAME),
        ]
    )


def refused(why: Refused) -> str:
    name = html.escape(why.name)
    problem = why.problem
    if problem is Problem.USAGE:
        return usage()
    if problem is Problem.NO_COLON:
        head = _("❌ To save a template, put a colon after its name.")
        if why.suggestion is not None:
            return head + "\n" + _example(why.suggestion, why.name[len(why.suggestion) :].strip())
        return head + "\n" + _example()
    if problem is Problem.EMPTY_NAME:
        return _("❌ The name of the template is missing before the colon.") + "\n" + _example()
    if problem is Problem.NAME_TOO_LONG:
        return (
            _("❌ The name is {length} characters long; at most {max} are allowed.").format(
                length=len(why.name), max=NAME_MAX
            )
            + "\n"
            + _example()
        )
    if problem is Problem.NAME_CHARACTERS:
        head = _(
            "❌ “{name}” cannot be a template name. A template is written as #name, so a name is one word: "
            "letters, digits, _ and - only."
        ).format(name=name)
        return head + "\n" + _example(why.suggestion or EXAMPLE_NAME)
    if problem is Problem.NAME_NUMBER:
        return (
            _("❌ “{name}” looks like a number: a template name needs at least one letter.").format(name=name)
            + "\n"
            + _example()
        )
    if problem is Problem.EMPTY_TEXT:
        return _("❌ The text of the template is missing after the colon.") + "\n" + _example(why.name)
    if problem is Problem.TEXT_REFERENCE:
        return (
            _("❌ A template's text cannot be just #name: it would be read as another template. Write the text itself.")
            + "\n"
            + _example(why.name)
        )
    return _("❌ The text is too long for a template: {parts} SMS; at most {max} are allowed. Shorten it.").format(
        parts=why.parts, max=MAX_TEMPLATE_PARTS
    )


def _size(text: str) -> str:
    parts = count_parts(text)
    return _("{chars} characters, {parts} SMS").format(chars=parts.chars, parts=parts.parts)


def _quote(text: str) -> str:
    return f"<blockquote>{html.escape(text)}</blockquote>"


def saved(result: Saved) -> str:
    template = result.template
    if result.replaced is None:
        head = _("✅ Template {tag} saved: {size}.").format(tag=tag(template.name), size=_size(template.text))
    else:
        head = _("✅ Template {tag} replaced: {size}.").format(tag=tag(template.name), size=_size(template.text))
    lines = [head, _quote(template.text)]
    if result.replaced is not None:
        lines += [_("It was:"), _quote(result.replaced.text)]  # whole: a replaced text is not lost
    lines.append(
        _("Send it: <code>/send {number} #{name}</code>").format(number=EXAMPLE_NUMBER, name=html.escape(template.name))
    )
    return "\n".join(lines)


def card(template: Template, saved_by: str, tz: ZoneInfo) -> str:
    """/template <name>: the text, its size, who saved it and when."""
    who = html.escape(clean_name(saved_by)) or str(template.saved_by)
    return "\n".join(
        [
            _("📝 Template {tag}").format(tag=tag(template.name)),
            _("{size} · saved by {who}, {when}").format(
                size=_size(template.text), who=who, when=when(template.saved_at, tz)
            ),
            _quote(template.text),
        ]
    )


def _names(names: list[str], more: int) -> str:
    shown = ", ".join(tag(n) for n in names)
    if more:
        shown += " " + _("and {count} more (/templates)").format(count=more)
    return _("Templates: {names}").format(names=shown)


def not_found(name: str, names: list[str], more: int) -> str:
    """`/template <name>` of a name nobody saved."""
    lines = [_("❌ There is no template {tag}.").format(tag=tag(name))]
    if names:
        lines.append(_names(names, more))
    lines.append(_example(name))
    return "\n".join(lines)


def unknown(found: UnknownTemplate) -> str:
    """`#name` in place of an SMS text, and no such template: nothing is taken as the text."""
    lines = [_("❌ There is no template {tag}, so there is nothing to send yet.").format(tag=tag(found.name))]
    if found.names:
        lines.append(_names(found.names, found.more))
    else:
        lines.append(
            _("No templates are saved yet. To save one: <code>/template {name}: {text}</code>").format(
                name=html.escape(found.name), text=_("Server db1 is down")
            )
        )
    return "\n".join(lines)


def page(shown: TemplatePage) -> str:
    if shown.total == 0:
        return _("📝 No templates yet.") + "\n" + _example()
    if shown.pages > 1:
        head = _("📝 Templates: {count} (page {page} of {pages}). Tap one to send it.").format(
            count=shown.total, page=shown.page + 1, pages=shown.pages
        )
    else:
        head = _("📝 Templates: {count}. Tap one to send it.").format(count=shown.total)
    rows = [f"{tag(t.name)} — {first_words(t.text)}" for t in shown.templates]
    return "\n".join([head, "", *rows])


def asks_number(template: Template) -> str:
    """The Send button of a template: its text is kept, the recipient is asked."""
    return _("📝 Template {tag}: “{text}”.").format(tag=tag(template.name), text=first_words(template.text))


def chosen(template: Template) -> str:
    """In place of the text step's buttons once one was tapped."""
    return _("📝 Template {tag}").format(tag=tag(template.name))


def text_step_offer() -> str:
    """Under the guided text step's question, when there are templates."""
    return _("📝 Or tap a template:")


def deleted(template: Template) -> str:
    return "\n".join(
        [
            _("🗑 Template {tag} deleted. To bring it back:").format(tag=tag(template.name)),
            f"<code>/template {html.escape(template.name)}: {html.escape(template.text)}</code>",
        ]
    )


def not_yours(template: Template) -> str:
    """An alert (plain text): a Delete press of someone who may not."""
    return _("Only the one who saved #{name}, or an admin, can delete it.").format(name=template.name)


def gone() -> str:
    return _("This template no longer exists.")


def locked(template: Template, saver: str) -> str:
    """/template name: text over another's template: nothing changed."""
    return _("🔒 Only {who}, who saved #{name}, or an admin can change it. Nothing was changed.").format(
        who=html.escape(saver), name=html.escape(template.name)
    )
