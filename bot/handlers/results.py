"""The buttons on a single send's notices (issue 17): 🔁 Try again, 📨 Send again, 👤 Other recipient, 🔍 Check
status / Check now. Each opens a NEW preview or asks something; nothing leaves without that preview's Send press.

Only the send's own operator may use them (the access gate has already let only active operators through, and
answered a stranger or a revoked operator in words); another's id, forged, is answered and shows nothing of it.
Pressed again, a button opens another fresh preview (the newer one replaces the older: same number and text).
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

import bot.handlers.recipients as recipients
from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.handlers.send import show_preview
from bot.services import results
from bot.services.directory import Directory
from bot.services.results import Refusal
from bot.services.sending import SendingService
from bot.storage.models import Operator
from bot.ui import result_keyboards, result_texts
from bot.ui.messages import answer_press, working
from bot.ui.result_callbacks import ResultCb

router = Router(name="results")


@router.callback_query(ResultCb.filter())
async def result_pressed(
    callback: CallbackQuery,
    callback_data: ResultCb,
    state: FSMContext,
    sending: SendingService,
    gateway: SmskaClient,
    settings: Settings,
    operator: Operator,
    locale: str,
    bot: Bot,
    directory: Directory,
) -> None:
    row = await sending.db.sends.get(callback_data.send_id)
    action = callback_data.action
    refused = results.refusal(row, operator.user_id, action)
    message = callback.message
    if refused is not None or row is None or not isinstance(message, Message):
        words = result_texts.erased() if refused is Refusal.ERASED else result_texts.no_longer_valid()
        await answer_press(callback, words, show_alert=True)
        return
    if action == "check":
        await answer_press(callback, result_texts.checking())
        async with working(bot, message.chat.id):
            result = await results.check(gateway, row)
        await message.reply(
            result_texts.check_report(row, result, settings.tz), reply_markup=result_keyboards.for_check(row, result)
        )
        return
    if action == "other":
        await answer_press(callback)
        await state.clear()
        await recipients.ask_number(
            message, state, directory, operator.user_id, note=result_texts.ask_other(row.text), exclude=row.msisdn
        )
        await state.update_data(text=row.text)  # the guided number step keeps it and shows the preview
        return
    await answer_press(callback, result_texts.new_preview())
    await show_preview(message, state, sending, settings, row.msisdn, row.text, locale, operator.user_id, row.id)
