"""Anything no other handler took: a hint instead of silence, so nobody wonders whether the bot is alive."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

router = Router(name="fallback")


@router.message()
async def unknown(message: Message) -> None:
    await message.answer(_("I did not understand that. /send sends an SMS; /help lists everything I can do."))
