"""📨 SMS to duty, under an alert's message: a preview addressed to whoever is on duty, with the alert's text cut
to 2 SMS parts. Nothing is sent without that preview's own Send press.

A resolved group offers nothing to send (the press says so). With nobody on duty, the press opens the recipient
step with the alert's text kept, and the team's contacts as one-tap picks: the pick becomes on duty (audited) and
the preview opens. A preview opened here belongs to its group: if the group resolves first, it is closed."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.handlers.send import show_drafts
from bot.services.alerts import AlertService
from bot.services.directory import Directory
from bot.services.sending import SendingService
from bot.sms.phone import format_phone
from bot.sms.recipients import Recipient
from bot.storage.db import Database
from bot.ui import access_texts, alert_texts
from bot.ui.alert_keyboards import PICKS, AlertCb, AlertDutyCb, AlertTakeCb, duty_picks
from bot.ui.messages import answer_press, show
from bot.ui.states import SendFlow

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
    alerts: AlertService,
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
    if group.status != "firing":
        await answer_press(callback, alert_texts.resolved_press(group, settings), show_alert=True)
        return
    text = alert_texts.sms_to_duty(group.alertname, group.summary)
    recipients = await directory.duty_recipients()
    if not recipients:
        await answer_press(callback)
        await state.clear()
        await state.set_state(SendFlow.number)  # a number or a name typed now gets the kept text
        await state.update_data(text=text, alert_group=group.id)
        contacts = await alerts.duty_candidates(PICKS)
        body = alert_texts.nobody_on_duty(bool(contacts)) + "\n\n" + alert_texts.text_kept(text)
        await message.answer(body, reply_markup=duty_picks(group.id, contacts))
        return
    await answer_press(callback, alert_texts.preparing())
    await open_preview(message, state, sending, settings, alerts, recipients, text, locale, callback, group.id)


@router.callback_query(AlertTakeCb.filter())
async def take_or_let_go(
    callback: CallbackQuery, callback_data: AlertTakeCb, settings: Settings, db: Database, alerts: AlertService
) -> None:
    """✋ takes the group (the first press wins), ↩️ lets it go; every copy is redrawn by the alert dispatcher."""
    message = callback.message
    # Only a press on this group's current message in the presser's own chat: a stale copy or forged data is told.
    genuine = isinstance(message, Message) and await db.alerts.delivered_to(
        callback_data.group_id, callback.from_user.id, message.message_id
    )
    group = await db.alerts.get(callback_data.group_id) if genuine else None
    if group is None:
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    user_id = callback.from_user.id
    outcome = await (alerts.take_group(group, user_id) if callback_data.take else alerts.let_go(group, user_id))
    text = alert_texts.take_answer(outcome.kind, outcome.group, outcome.holder, settings)
    await answer_press(callback, text, show_alert=outcome.kind in ("resolved", "gone"))


@router.callback_query(AlertDutyCb.filter())
async def duty_picked(
    callback: CallbackQuery,
    callback_data: AlertDutyCb,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    db: Database,
    locale: str,
    directory: Directory,
    alerts: AlertService,
    bot: Bot,
) -> None:
    """Nobody was on duty: the contact tapped becomes on duty, and the alert's SMS preview opens for them."""
    message = callback.message
    data = await state.get_data()
    kept = data.get("text")
    # Only the step this alert opened for this operator, still open: a stale or forged pick does nothing.
    asked = data.get("alert_group") == callback_data.group_id and isinstance(kept, str)
    group = await db.alerts.get(callback_data.group_id) if asked else None
    if group is None or not isinstance(message, Message) or not isinstance(kept, str):
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    if group.status != "firing":
        await state.clear()
        await answer_press(callback, alert_texts.resolved_press(group, settings), show_alert=True)
        await show(callback, bot, message.html_text)  # the question stays readable, without its picks
        return
    made = await alerts.make_on_duty(callback_data.contact_id, callback.from_user.id)
    recipients = await directory.duty_recipients()
    if not recipients:  # the contact was deleted meanwhile, and nobody is on duty
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    names = ", ".join(r.name or format_phone(r.msisdn) for r in recipients)
    toast = alert_texts.made_on_duty(made.name) if made is not None else alert_texts.already_on_duty(names)
    await answer_press(callback, toast)
    await show(callback, bot, alert_texts.now_on_duty(names))
    await open_preview(message, state, sending, settings, alerts, recipients, kept, locale, callback, group.id)


async def open_preview(
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    alerts: AlertService,
    recipients: list[Recipient],
    text: str,
    locale: str,
    callback: CallbackQuery,
    group_id: int,
) -> None:
    """The preview (one recipient or several), tied to the alert group it came from."""
    user_id = callback.from_user.id
    before = await sending.db.alerts.last_ids()
    await show_drafts(message, state, sending, settings, recipients, text, locale, user_id=user_id)
    await alerts.opened(group_id, user_id, before)
