"""The buttons on a single send's notices (issue 17): 🔁 Try again, 📨 Send again, 👤 Other recipient, 🔍 Check
status / Check now. Each opens a NEW preview or asks something; nothing leaves without that preview's Send press.

Only the send's own operator may use them (the access gate has already let only active operators through, and
answered a stranger or a revoked operator in words); another's id, forged, is answered and shows nothing of it.
Pressed again, a button opens another fresh preview (the newer one replaces the older: same number and text).
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

import bot.handlers.recipients as recipients
from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.handlers.batch import own_view
from bot.handlers.send import show_drafts, show_preview
from bot.services import results
from bot.services.batch import BatchService
from bot.services.directory import Directory
from bot.services.results import Refusal
from bot.services.sending import SendingService
from bot.sms.recipients import Recipient
from bot.storage.models import Operator
from bot.ui import result_keyboards, result_texts
from bot.ui.batch_keyboards import BatchCb
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
        failed = await results.just_failed(sending.db, row)  # never offered as a one-tap pick
        await recipients.ask_number(
            message, state, directory, operator.user_id, note=result_texts.ask_other(row.text), exclude=failed
        )
        await state.update_data(text=row.text)  # the guided number step keeps it and shows the preview
        return
    await answer_press(callback, result_texts.new_preview())
    await show_preview(message, state, sending, settings, row.msisdn, row.text, locale, operator.user_id, row.id)


@router.callback_query(BatchCb.filter(F.action == "unknown"))
async def send_again_to_unknown(
    callback: CallbackQuery,
    callback_data: BatchCb,
    batches: BatchService,
    sending: SendingService,
    settings: Settings,
    state: FSMContext,
    locale: str,
) -> None:
    """A batch summary's unknown recipients: a new preview of just them, warned that they may get it twice (one:
    the single preview's note on the first SMS; several: the duplicate guard names them). Nothing is sent here."""
    view = await own_view(callback, batches, callback_data.batch_id)
    if view is None:
        return
    unknown = view.unknown()
    message = callback.message
    if not unknown or not isinstance(message, Message):
        await answer_press(callback, result_texts.nobody_unknown(), show_alert=True)
        return
    await answer_press(callback, result_texts.unknown_again(), show_alert=True)
    user_id = callback.from_user.id
    if len(unknown) == 1:
        one = unknown[0]
        await show_preview(
            message, state, sending, settings, one.msisdn, view.batch.text, locale, user_id, one.send_id, one.name
        )
        return
    chosen = [Recipient(m.msisdn, m.name) for m in unknown]
    await show_drafts(message, state, sending, settings, chosen, view.batch.text, locale, user_id=user_id)
