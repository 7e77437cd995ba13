"""/send: one message (`/send <number> <text>`) or guided (number -> text), then a preview with Send / Cancel.

Nothing leaves before the Send press; the press is handled by SendingService.confirm, exactly once.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.gateway.errors import InsufficientCredits
from bot.services.sending import MAX_PARTS, Outcome, SendingService, too_long
from bot.sms.phone import PhoneError, PhoneProblem, normalize_phone
from bot.sms.recipients import split_number
from bot.storage.db import Database
from bot.ui import keyboards, texts
from bot.ui.callbacks import SendCb, SenderCb
from bot.ui.messages import answer_press, show
from bot.ui.states import SendFlow

router = Router(name="send")
log = logging.getLogger(__name__)


# --- composing ---------------------------------------------------------------------------------------------
async def show_preview(
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    msisdn: str,
    text: str,
    locale: str,
) -> None:
    parts = too_long(text)
    if parts is not None:
        await message.answer(texts.too_long(parts, MAX_PARTS))
        return
    await state.clear()
    user_id = message.from_user.id if message.from_user else message.chat.id
    row = await sending.create_draft(user_id=user_id, chat_id=message.chat.id, msisdn=msisdn, text=text, locale=locale)
    sent = await message.answer(texts.preview(row), reply_markup=keyboards.preview(row, settings.smska_sender_ids))
    await sending.db.sends.set_preview(row.id, sent.message_id)


@router.message(Command("send"))
async def send_command(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
) -> None:
    args = (command.args or "").strip()
    if not args:
        await state.set_state(SendFlow.number)
        await message.answer(texts.ask_number(), reply_markup=keyboards.flow_cancel())
        return
    msisdn, text, problem = split_number(args)
    if msisdn is None:
        await message.answer(texts.phone_problem(problem or PhoneProblem.INVALID))
        return
    if not text:
        await ask_for_text(message, state, msisdn)
        return
    await show_preview(message, state, sending, settings, msisdn, text, locale)


async def take_number(message: Message, state: FSMContext, raw: str) -> None:
    """A number typed or shared: on to the text step, or the reason it cannot be used (the step stays)."""
    try:
        msisdn = normalize_phone(raw)
    except PhoneError as exc:
        await message.answer(texts.phone_problem(exc.reason))
        return
    await ask_for_text(message, state, msisdn)


async def ask_for_text(message: Message, state: FSMContext, msisdn: str) -> None:
    await state.set_state(SendFlow.text)
    await state.update_data(msisdn=msisdn)
    await message.answer(texts.ask_text(msisdn), reply_markup=keyboards.flow_cancel())


@router.message(SendFlow.number, F.contact)
@router.message(StateFilter(None), F.contact)  # a contact shared outside the flow starts a send to it
async def number_from_contact(message: Message, state: FSMContext) -> None:
    assert message.contact is not None
    await take_number(message, state, message.contact.phone_number)


@router.message(SendFlow.number, F.text, ~F.text.startswith("/"))
async def number_typed(message: Message, state: FSMContext) -> None:
    assert message.text is not None
    await take_number(message, state, message.text)


@router.message(SendFlow.number)
async def number_other(message: Message) -> None:
    await message.answer(
        _("I need a phone number: type it or share a contact. /cancel to stop."), reply_markup=keyboards.flow_cancel()
    )


@router.message(SendFlow.text, F.text, ~F.text.startswith("/"))
async def text_typed(
    message: Message, state: FSMContext, sending: SendingService, settings: Settings, locale: str
) -> None:
    assert message.text is not None
    data = await state.get_data()
    msisdn = data.get("msisdn")
    if not isinstance(msisdn, str):
        await state.clear()
        await message.answer(_("Let's start again: /send"))
        return
    await show_preview(message, state, sending, settings, msisdn, message.text, locale)


@router.message(SendFlow.text)
async def text_other(message: Message) -> None:
    await message.answer(
        _("I need the text of the SMS as a plain message. /cancel to stop."), reply_markup=keyboards.flow_cancel()
    )


# --- the preview's buttons ---------------------------------------------------------------------------------
@router.callback_query(SendCb.filter(F.action == "go"))
async def confirm(
    callback: CallbackQuery, callback_data: SendCb, sending: SendingService, settings: Settings, bot: Bot
) -> None:
    try:
        pressed = callback.message.message_id if callback.message is not None else None
        outcome = await sending.confirm(
            callback_data.draft_id,
            callback.from_user.id,
            pressed,
            on_claimed=lambda: answer_press(callback, _("Sending…")),  # the toast: the sign of work
        )
    except LookupError:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    if outcome.expired:
        await offer_fresh_preview(callback, sending, settings, bot, outcome)
        return
    if not outcome.sent:
        # A double tap, a stale preview, a press after Cancel: answered, nothing sent.
        await answer_press(callback, texts.draft_state(outcome.row), show_alert=True)
        return
    text = texts.outcome(outcome)
    if isinstance(outcome.error, InsufficientCredits):
        text += "\n" + texts.balance_line(await sending.balance())
    shown_in = await show(callback, bot, text)
    if outcome.row.state in ("failed", "unknown"):
        await sending.db.sends.outcome_shown(outcome.row.id)
    if outcome.row.state == "accepted":
        written = await sending.db.sends.set_result_message(outcome.row.id, shown_in)
        if written is not None:
            await sending.tracker.settle(written, shown_in)  # delivery may have been seen meanwhile


async def offer_fresh_preview(
    callback: CallbackQuery, sending: SendingService, settings: Settings, bot: Bot, outcome: Outcome
) -> None:
    """A press on a preview older than DRAFT_TTL_HOURS: it says so, and a fresh preview of the same SMS follows."""
    hours = f"{settings.draft_ttl_hours:g}"
    await answer_press(callback, _("This preview is older than {hours} h and can no longer send.").format(hours=hours))
    old = outcome.row
    await show(
        callback, bot, _("⌛ Expired: this preview is older than {hours} h. Nothing was sent.").format(hours=hours)
    )
    fresh = await sending.renew(old)
    sent = await bot.send_message(
        old.chat_id,
        _("Here it is again, fresh:") + "\n\n" + texts.preview(fresh),
        reply_markup=keyboards.preview(fresh, settings.smska_sender_ids),
    )
    await sending.db.sends.set_preview(fresh.id, sent.message_id)


@router.callback_query(SendCb.filter(F.action == "cancel"))
async def cancel_draft(callback: CallbackQuery, callback_data: SendCb, db: Database, bot: Bot) -> None:
    if await db.sends.cancel(callback_data.draft_id, callback.from_user.id) is not None:
        await answer_press(callback)
        await show(callback, bot, _("Cancelled. Nothing was sent."))
        return
    row = await db.sends.get(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    await answer_press(callback, texts.draft_state(row), show_alert=True)


@router.callback_query(SendCb.filter(F.action == "senders"))
async def choose_sender(
    callback: CallbackQuery, callback_data: SendCb, db: Database, settings: Settings, bot: Bot
) -> None:
    row = await db.sends.get(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    if row.state != "draft":
        await answer_press(callback, texts.draft_state(row), show_alert=True)
        return
    await answer_press(callback, _("Choose the sender"))
    await show(callback, bot, texts.preview(row), keyboards.senders(row, settings.smska_sender_ids))


@router.callback_query(SenderCb.filter())
async def sender_chosen(
    callback: CallbackQuery, callback_data: SenderCb, db: Database, settings: Settings, bot: Bot
) -> None:
    senders = settings.smska_sender_ids
    row = await db.sends.get(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id or not 0 <= callback_data.index < len(senders):
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    updated = await db.sends.set_sender(row.id, senders[callback_data.index])
    if updated is None:
        await answer_press(callback, texts.draft_state(row), show_alert=True)
        return
    row = updated
    await answer_press(callback)
    await show(callback, bot, texts.preview(row), keyboards.preview(row, senders))
