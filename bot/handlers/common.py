"""/start, /help, /cancel and /language."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.storage.db import Database
from bot.storage.models import Operator
from bot.ui import batch_texts, commands, keyboards, texts
from bot.ui.callbacks import FlowCancelCb, LanguageCb
from bot.ui.messages import edit, show

router = Router(name="common")


@router.message(CommandStart())
async def start(message: Message, operator: Operator, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("👋 Hello! You have access.") + "\n\n" + commands.help_text(operator.is_admin))


@router.message(Command("help"))
async def help_(message: Message, operator: Operator) -> None:
    await message.answer(commands.help_text(operator.is_admin))


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext, db: Database, operator: Operator, bot: Bot) -> None:
    """The current step and every open draft of this operator: their previews say so and can no longer send."""
    in_flow = await state.get_state() is not None
    await state.clear()
    drafts = await db.sends.cancel_open(operator.user_id)
    for row in drafts:
        if row.preview_message_id is not None:
            await edit(bot, row.chat_id, row.preview_message_id, texts.closed_preview(row))
    batches = await db.batches.cancel_open(operator.user_id)  # sends to several recipients (issue 17)
    for batch in batches:
        if batch.preview_message_id is not None:
            await edit(bot, batch.chat_id, batch.preview_message_id, batch_texts.closed(batch))
    if not in_flow and not drafts and not batches:
        await message.answer(_("Nothing to cancel."))
        return
    if drafts or batches:
        await message.answer(_("Cancelled, and the open previews can no longer send. Nothing was sent."))
        return
    await message.answer(_("Cancelled. Nothing was sent."))


@router.callback_query(FlowCancelCb.filter())
async def cancel_button(callback: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    await state.clear()
    await callback.answer()
    await show(callback, bot, _("Cancelled. Nothing was sent."))


@router.message(Command("language"))
async def language(message: Message) -> None:
    await message.answer(_("Choose your language:"), reply_markup=keyboards.language())


@router.callback_query(LanguageCb.filter(F.code.in_({"ru", "en"})))
async def language_chosen(
    callback: CallbackQuery, callback_data: LanguageCb, db: Database, i18n: I18n, bot: Bot
) -> None:
    await db.people.set_locale(callback.from_user.id, callback_data.code)
    with i18n.use_locale(callback_data.code):
        text = _("Language: English. Send /help to see the commands.")
        await callback.answer()
        await show(callback, bot, text)
