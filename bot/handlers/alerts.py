"""📨 SMS to duty, under an alert's message: a preview addressed to whoever is on duty, with the alert's text cut
to 2 SMS parts. Nothing is sent without that preview's own Send press."""

from __future__ import annotations

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.handlers.send import show_drafts
from bot.services.directory import Directory
from bot.services.sending import SendingService
from bot.storage.db import Database
from bot.ui import access_texts, alert_texts
from bot.ui.alert_keyboards import AlertCb
from bot.ui.messages import answer_press

router = Router(name="alerts")


@router.callback_query(AlertCb.filter())
async def sms_to_duty(
    callback: CallbackQuery,
    callback_data: AlertCb,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    db: Database,
    locale: str,
    directory: Directory,
) -> None:
    message = callback.message
    # Only a press on a message this group was posted in, in the presser's own chat: forged data does nothing.
    genuine = isinstance(message, Message) and await db.alerts.delivered_to(
        callback_data.group_id, callback.from_user.id, message.message_id
    )
    group = await db.alerts.get(callback_data.group_id) if genuine else None
    if group is None or not isinstance(message, Message):
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    recipients = await directory.duty_recipients()
    if not recipients:
        await answer_press(callback, alert_texts.nobody_on_duty(), show_alert=True)
        return
    await answer_press(callback, alert_texts.preparing())
    text = alert_texts.sms_to_duty(group.alertname, group.summary)
    await show_drafts(message, state, sending, settings, recipients, text, locale, user_id=callback.from_user.id)
