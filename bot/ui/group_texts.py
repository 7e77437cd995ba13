"""What a person reads about groups (HTML, in the current locale); names always escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence

from aiogram.utils.i18n import gettext as _

from bot.services.directory import TooMany
from bot.storage.directory import Group, Member
from bot.ui.contact_texts import name, number, typed


def example() -> str:
    """The example /group command, in the current locale."""
    return _("/group Ops: Ivan Petrov, Olga, +7 904 176-49-95")


def member(m: Member) -> str:
    return f"{name(m.name)} ({number(m.msisdn)})" if m.name else number(m.msisdn)


def usage() -> str:
    return "\n".join(
        [
            _("👥 A group: its name, a colon, then its members (contacts or numbers) separated by commas."),
            _("Example: {example}").format(example=f"<code>{html.escape(example())}</code>"),
            _("/group <i>name</i> shows one; /groups lists them all."),
        ]
    )


FITS = 3500  # characters of a listing: a message holds 4,096, with room for what is said around it


def fitted(lines: Sequence[str], budget: int = FITS) -> list[str]:
    """As many lines as fit in `budget` characters, then "and N more" for the rest."""
    shown: list[str] = []
    used = 0
    for n, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            return [*shown, _("…and {count} more").format(count=len(lines) - n)]
        shown.append(line)
        used += len(line) + 1
    return shown


def card(group: Group, members: Sequence[Member]) -> str:
    lines = [_("👥 {name} · members: {count}").format(name=name(group.name), count=len(members))]
    lines += fitted(["• " + member(m) for m in members])
    return "\n".join(lines)


def saved(group: Group, members: Sequence[Member], replaced: bool) -> str:
    head = _("✅ Group replaced:") if replaced else _("✅ Group saved:")
    return (
        head
        + "\n"
        + card(group, members)
        + "\n"
        + _("Send to all of them: <code>/send {plain} text</code>").format(plain=html.escape(group.name))
    )


def too_many(found: TooMany) -> str:
    """/group with more members than MAX_RECIPIENTS: nothing was being sent, so nothing to split."""
    return _("❌ A group may hold at most {limit} members; this list has {count}. The group was not saved.").format(
        limit=found.limit, count=found.found
    )


def no_members() -> str:
    return (
        _("❌ A group needs at least one member.")
        + "\n"
        + _("Example: {example}").format(example=f"<code>{html.escape(example())}</code>")
    )


def listing(groups: Sequence[tuple[Group, int]], page: int = 0, pages: int = 1) -> str:
    if not groups:
        return _("👥 No groups yet. Make one: {example}").format(example=f"<code>{html.escape(example())}</code>")
    lines = [
        _("👥 Groups:") if pages == 1 else _("👥 Groups (page {page} of {pages}):").format(page=page + 1, pages=pages)
    ]
    lines += [_("• {name} · members: {count}").format(name=name(g.name), count=n) for g, n in groups]
    return "\n".join(lines)


def not_found(phrase: str) -> str:
    return _("🤷 No group named “{phrase}”.").format(phrase=typed(phrase)) + "\n" + usage()
