"""Anything no other handler took: a hint instead of silence, so nobody wonders whether the bot is alive."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.ui import access_texts

router = Router(name="fallback")


@router.message()
async def unknown(message: Message) -> None:
    await message.answer(_("I did not understand that. /send sends an SMS; /help lists everything I can do."))


@router.callback_query()
async def unknown_press(callback: CallbackQuery) -> None:
    """A button no handler knows (an old keyboard, forged data, an id out of range): answered, never a spinner."""
    await callback.answer(access_texts.no_longer_valid(), show_alert=True)
