"""What a person reads when a contact or a group others rely on is deleted or repointed, and after ↩️ Undo; the
team feed's lines about duty and numbers (HTML; names escaped)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from aiogram.utils.i18n import gettext as _

from bot.sms.phone import format_phone
from bot.storage.directory_deletes import Reliance, Restored
from bot.ui.contact_texts import name
from bot.ui.group_texts import fitted


def _groups(names: Sequence[str]) -> str:
    return ", ".join(fitted([name(n) for n in names], 1500))


def relied_on(kind: str, shown: str, reliance: Reliance) -> str:
    """Before a delete: what changes for others, and the question (asked once)."""
    lines = []
    if reliance.on_duty:
        lines.append(_("🧑‍🚒 {name} is on duty now: after the delete nobody is.").format(name=name(shown)))
    if reliance.groups:
        lines.append(
            _("👥 {name} is in groups {groups}: they lose this member.").format(
                name=name(shown), groups=_groups(reliance.groups)
            )
        )
    ask = _("Delete the contact anyway?") if kind == "contact" else _("Delete the group anyway?")
    return "⚠️ " + "\n".join([*lines, ask])


def deleted(kind: str, shown: str, reliance: Reliance) -> str:
    head = (_("🗑 Deleted: {name}.") if kind == "contact" else _("🗑 Group deleted: {name}.")).format(name=name(shown))
    lines = [head]
    if reliance.on_duty:
        lines.append(_("Nobody is on duty now: /duty name sets who is."))
    if reliance.groups:
        lines.append(_("Removed from groups: {groups}.").format(groups=_groups(reliance.groups)))
    return "\n".join(lines)


def restored(found: Restored, shown: str) -> str:
    lines = [_("↩️ Restored: {name}.").format(name=name(shown))]
    if found.groups:
        lines.append(_("Back in its groups: {count}.").format(count=found.groups))
    if found.duty:
        lines.append(_("On duty again."))
    return "\n".join(lines)


def undo_name_taken(shown: str) -> str:
    """Plain text: an alert."""
    return _("“{name}” is taken by another contact or group now: nothing was restored.").format(name=shown)


def repoint(shown: str, added_by: str, old: str, new: str, reliance: Reliance) -> str:
    """An admin changes the number of a contact someone else added: what changes, and the question."""
    lines = [
        _("⚠️ {name} was added by {who}. Change its number from {old} to {new}?").format(
            name=name(shown), who=html.escape(added_by), old=format_phone(old), new=format_phone(new)
        )
    ]
    if reliance.on_duty:
        lines.append(_("It is on duty now: SMS to duty will go to the new number."))
    if reliance.groups:
        lines.append(_("Groups that send to it: {groups}.").format(groups=_groups(reliance.groups)))
    return "\n".join(lines)


def kept(shown: str) -> str:
    return _("Nothing was changed: {name} stays as it was.").format(name=name(shown))


# --- the team feed ---------------------------------------------------------------------------------------------
def feed_duty(who: str, on_duty: str | None) -> str:
    if on_duty is None:
        return _("🧑‍🚒 {who}: nobody is on duty now.").format(who=html.escape(who))
    return _("🧑‍🚒 {who} set on duty: {name}.").format(who=html.escape(who), name=name(on_duty))


def feed_number(who: str, shown: str, old: str, new: str) -> str:
    return _("📒 {who} changed the number of {name}: {old} → {new}.").format(
        who=html.escape(who), name=name(shown), old=format_phone(old), new=format_phone(new)
    )
