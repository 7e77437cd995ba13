"""Words beside the recipients. How a recipient was chosen (issue 23.11): "👥 Night (7): …", "duty — Ivan Petrov". A leaf:
gettext only, so every renderer (preview, summary, notices, feed) may use it. `via` is `Recipient.via`."""

from __future__ import annotations

import html

from aiogram.utils.i18n import gettext as _

VIA_DUTY = "duty"
DUTY_GROUP = "duty:"
GROUP = "group:"


def labelled(via: str | None, count: int, who: str) -> str:
    """`who` (HTML: the recipients as shown) with how they were chosen; `count`: how many `who` names."""
    if not via:
        return who
    if via == VIA_DUTY:
        return _("duty — {who}").format(who=who)
    if via.startswith(DUTY_GROUP):
        group = "👥 " + html.escape(via[len(DUTY_GROUP) :]) + f" ({count})"
        return _("duty — {group}: {who}").format(group=group, who=who)
    if via.startswith(GROUP):
        return "👥 " + html.escape(via[len(GROUP) :]) + f" ({count}): " + who
    return who


def group_label(via: str | None, count: int) -> str | None:
    """A send to several recipients chosen one way, named by it (the team feed's line): "👥 Night (7)", "duty —
    👥 Admins (3)"; None when they were not chosen by a group or duty."""
    if via is not None and via.startswith(DUTY_GROUP):
        return _("duty — {group}").format(group="👥 " + html.escape(via[len(DUTY_GROUP) :]) + f" ({count})")
    if via is not None and via.startswith(GROUP):
        return "👥 " + html.escape(via[len(GROUP) :]) + f" ({count})"
    return None


def text_start_phone_like(start: str) -> str:
    """Under a preview whose text starts with something phone-like (issue 23.1): it goes out as text."""
    return _("⚠️ The text starts with “{start}”: it is sent as text, not as a recipient.").format(
        start=html.escape(start)
    )


def phone_like_note(start: str | None) -> list[str]:
    return [] if start is None else [text_start_phone_like(start)]
