"""What a person reads about the guided steps themselves (bot/middlewares/steps.py)."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _


def expired(minutes: int) -> str:
    return _("⌛ The unfinished step expired after {minutes} min. Your message is read as a new one.").format(
        minutes=minutes
    )
