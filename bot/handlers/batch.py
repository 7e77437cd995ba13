"""The buttons of a send to several recipients: Send to N (one press, one SMS per recipient), Cancel, the
sender, and the summary's Resend to those that failed (a new preview of just those; nothing leaves without its
press). A press by anyone but the batch's operator changes nothing."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.handlers.send import show_drafts
from bot.services.batch import BatchService
from bot.services.batch_view import BatchView
from bot.services.sending import SendingService
from bot.storage.batches import BatchRow
from bot.ui import batch_keyboards, batch_texts, texts
from bot.ui.batch_keyboards import BatchCb, BatchSenderCb
from bot.ui.messages import answer_press, show

router = Router(name="batch")


async def own_view(callback: CallbackQuery, batches: BatchService, batch_id: int) -> BatchView | None:
    """The batch when the one pressing is its operator; else the press is answered as no longer valid."""
    view = await batches.view(batch_id)
    if view is None or view.batch.user_id != callback.from_user.id:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return None
    return view


def preview_markup(view: BatchView, settings: Settings, can_send: bool = True) -> InlineKeyboardMarkup:
    return batch_keyboards.preview(view.batch, len(view.members), settings.smska_sender_ids, can_send=can_send)


@router.callback_query(BatchCb.filter(F.action == "go"))
async def send_to_all(
    callback: CallbackQuery, callback_data: BatchCb, batches: BatchService, settings: Settings, bot: Bot
) -> None:
    pressed = callback.message.message_id if callback.message is not None else None
    try:
        outcome = await batches.press(callback_data.batch_id, callback.from_user.id, pressed)
    except LookupError:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    if outcome.pressed:
        await answer_press(callback, _("Sending…"))  # the message itself shows the progress
        return
    if outcome.expired:
        await answer_press(callback, _("This preview is too old to send."), show_alert=True)
        await show(callback, bot, batch_texts.expired(settings.draft_ttl_hours))
        return
    if outcome.limit is not None:
        await answer_press(callback, texts.over_limit(outcome.limit), show_alert=True)
        view = await batches.view(outcome.batch.id)
        assert view is not None
        await show(callback, bot, batch_texts.preview(view, outcome.limit), preview_markup(view, settings, False))
        return
    await answer_press(callback, batch_texts.press_refused(outcome.batch), show_alert=True)


@router.callback_query(BatchCb.filter(F.action == "cancel"))
async def cancel(callback: CallbackQuery, callback_data: BatchCb, batches: BatchService, bot: Bot) -> None:
    view = await own_view(callback, batches, callback_data.batch_id)
    if view is None:
        return
    cancelled = await batches.db.batches.cancel(view.batch.id, callback.from_user.id)
    if cancelled is None:
        await answer_press(callback, batch_texts.press_refused(view.batch), show_alert=True)
        return
    await answer_press(callback)
    await show(callback, bot, batch_texts.closed(cancelled))


@router.callback_query(BatchCb.filter(F.action == "senders"))
async def choose_sender(
    callback: CallbackQuery, callback_data: BatchCb, batches: BatchService, settings: Settings, bot: Bot
) -> None:
    view = await own_view(callback, batches, callback_data.batch_id)
    if view is None:
        return
    if view.batch.state != "draft":
        await answer_press(callback, batch_texts.press_refused(view.batch), show_alert=True)
        return
    await answer_press(callback, _("Choose the sender"))
    await show(callback, bot, batch_texts.preview(view), batch_keyboards.senders(view.batch, settings.smska_sender_ids))


@router.callback_query(BatchSenderCb.filter())
async def sender_chosen(
    callback: CallbackQuery, callback_data: BatchSenderCb, batches: BatchService, settings: Settings, bot: Bot
) -> None:
    senders = settings.smska_sender_ids
    view = await own_view(callback, batches, callback_data.batch_id)
    if view is None:
        return
    if not 0 <= callback_data.index < len(senders):
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    updated: BatchRow | None = await batches.db.batches.set_sender(
        view.batch.id, callback.from_user.id, senders[callback_data.index]
    )
    if updated is None:
        await answer_press(callback, batch_texts.press_refused(view.batch), show_alert=True)
        return
    view = BatchView(updated, view.members)
    hit = await batches.limit_hit(view)
    await answer_press(callback)
    await show(callback, bot, batch_texts.preview(view, hit), preview_markup(view, settings, hit is None))


@router.callback_query(BatchCb.filter(F.action == "resend"))
async def resend_to_failed(
    callback: CallbackQuery,
    callback_data: BatchCb,
    batches: BatchService,
    sending: SendingService,
    settings: Settings,
    state: FSMContext,
    locale: str,
) -> None:
    """A new preview of just those that certainly did not get it (failed to send, rejected, expired, deleted)."""
    view = await own_view(callback, batches, callback_data.batch_id)
    if view is None:
        return
    recipients = view.to_resend()
    message = callback.message
    if not recipients or not isinstance(message, Message):
        await answer_press(callback, _("Nobody to resend to: no SMS of this send failed."), show_alert=True)
        return
    opened = await show_drafts(
        message, state, sending, settings, recipients, view.batch.text, locale, callback.from_user.id, view.batch.id
    )
    await answer_press(callback, None if opened else _("Its preview is already open below."))
