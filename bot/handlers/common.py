"""/start, /help, /cancel and /language."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.callbacks import FlowCancelCb, LanguageCb
from bot.storage.db import Database
from bot.storage.models import Operator

router = Router(name="common")


def help_text(is_admin: bool) -> str:
    text = _(
        "📨 I send SMS through the smska.net gateway and tell you when each one is delivered.\n\n"
        "/send — send an SMS (step by step)\n"
        "/send <i>number text</i> — send in one message\n"
        "/balance — money left on the SMS account\n"
        "/status <i>id</i> — delivery status of an SMS\n"
        "/history — your latest SMS\n"
        "/language — Русский / English\n"
        "/cancel — stop what you are doing\n\n"
        "Example: <code>/send +7 904 176-49-95 Server db1 is down</code>\n"
        "Nothing leaves before you press «Send» under the preview."
    )
    if is_admin:
        text += "\n\n" + _(
            "Admin:\n/users — who has access\n/allow <i>id</i> — give access\n/deny <i>id</i> — take access away"
        )
    return text


@router.message(CommandStart())
async def start(message: Message, operator: Operator, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("👋 Hello! You have access.") + "\n\n" + help_text(operator.is_admin))


@router.message(Command("help"))
async def help_(message: Message, operator: Operator) -> None:
    await message.answer(help_text(operator.is_admin))


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(_("Nothing to cancel."))
        return
    await state.clear()
    await message.answer(_("Cancelled. Nothing was sent."))


@router.callback_query(FlowCancelCb.filter())
async def cancel_button(callback: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(_("Cancelled. Nothing was sent."))


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="🇷🇺 Русский", callback_data=LanguageCb(code="ru").pack()),
                InlineKeyboardButton(text="🇬🇧 English", callback_data=LanguageCb(code="en").pack()),
            ]
        ]
    )


@router.message(Command("language"))
async def language(message: Message) -> None:
    await message.answer(_("Choose your language:"), reply_markup=language_keyboard())


@router.callback_query(LanguageCb.filter(F.code.in_({"ru", "en"})))
async def language_chosen(callback: CallbackQuery, callback_data: LanguageCb, db: Database, i18n: I18n) -> None:
    await db.people.set_locale(callback.from_user.id, callback_data.code)
    with i18n.use_locale(callback_data.code):
        text = _("Language: English. Send /help to see the commands.")
        await callback.answer()
        if isinstance(callback.message, Message):
            await callback.message.edit_text(text)
