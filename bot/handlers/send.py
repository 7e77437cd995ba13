"""/send: one message (`/send <number> <text>`) or guided (number -> text), then a preview with Send / Cancel.

Nothing leaves before the Send press; the press is handled by SendingService.confirm, exactly once.
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.gateway.errors import GatewayError, InsufficientCredits
from bot.services.sending import MAX_PARTS, SendingService, outcome_text, state_text, too_long
from bot.sms.parts import count_parts
from bot.sms.phone import PhoneError, PhoneProblem, format_phone, normalize_phone
from bot.sms.recipients import split_number
from bot.storage.db import Database
from bot.storage.models import SendRow
from bot.texts import money
from bot.ui import keyboards
from bot.ui.callbacks import SendCb, SenderCb
from bot.ui.messages import answer_press, show
from bot.ui.states import SendFlow

router = Router(name="send")
log = logging.getLogger(__name__)

EXAMPLE_NUMBER = "+7 904 176-49-95"


# --- texts -----------------------------------------------------------------------------------------------
def phone_problem_text(problem: PhoneProblem) -> str:
    reasons = {
        PhoneProblem.EMPTY: _("No number given."),
        PhoneProblem.NOT_A_NUMBER: _("That does not look like a phone number."),
        PhoneProblem.TOO_SHORT: _("Too few digits for a phone number."),
        PhoneProblem.TOO_LONG: _("Too many digits for a phone number."),
        PhoneProblem.INTERNATIONAL_PREFIX: _("Write the number with +7 or 8 (not 810 or 00)."),
        PhoneProblem.NOT_RUSSIAN: _("Only Russian mobile numbers can be used."),
        PhoneProblem.NOT_MOBILE: _("This is not a mobile number: SMS go to mobiles only."),
        PhoneProblem.INVALID: _("This number does not exist in the Russian numbering plan."),
    }
    return (
        "❌ "
        + reasons.get(problem, reasons[PhoneProblem.INVALID])
        + "\n"
        + _("Example: <code>{example}</code>").format(example=EXAMPLE_NUMBER)
    )


def preview_text(row: SendRow) -> str:
    parts = count_parts(row.text)
    return "\n".join(
        [
            _("📨 <b>Check before sending</b>"),
            _("To: {number}").format(number=format_phone(row.msisdn)),
            _("From: {sender}").format(sender=html.escape(row.sender)),
            _("Text: {chars} characters, {parts} SMS ({encoding})").format(
                chars=parts.chars, parts=parts.parts, encoding=parts.encoding
            ),
            "",
            f"<blockquote>{html.escape(row.text)}</blockquote>",
        ]
    )


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
        await message.answer(
            _("❌ The text is too long: {parts} SMS. At most {max} are allowed; shorten it and send again.").format(
                parts=parts, max=MAX_PARTS
            )
        )
        return
    await state.clear()
    user_id = message.from_user.id if message.from_user else message.chat.id
    row = await sending.create_draft(user_id=user_id, chat_id=message.chat.id, msisdn=msisdn, text=text, locale=locale)
    sent = await message.answer(preview_text(row), reply_markup=keyboards.preview(row, settings.smska_sender_ids))
    await sending.db.update_draft(row.id, preview_message_id=sent.message_id)


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
        await message.answer(
            _("📱 Who gets the SMS? Send a number (e.g. <code>{example}</code>) or share a contact.").format(
                example=EXAMPLE_NUMBER
            ),
            reply_markup=keyboards.flow_cancel(),
        )
        return
    msisdn, text, problem = split_number(args)
    if msisdn is None:
        await message.answer(phone_problem_text(problem or PhoneProblem.INVALID))
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
        await message.answer(phone_problem_text(exc.reason))
        return
    await ask_for_text(message, state, msisdn)


async def ask_for_text(message: Message, state: FSMContext, msisdn: str) -> None:
    await state.set_state(SendFlow.text)
    await state.update_data(msisdn=msisdn)
    await message.answer(
        _("✏️ To {number}. Now send the text of the SMS.").format(number=format_phone(msisdn)),
        reply_markup=keyboards.flow_cancel(),
    )


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


async def balance_line(sending: SendingService) -> str:
    try:
        amount = await sending.gateway.balance()
    except GatewayError:
        return _("The balance could not be read right now.")
    return _("Balance: {amount}").format(amount=money(amount))


# --- the preview's buttons ---------------------------------------------------------------------------------
@router.callback_query(SendCb.filter(F.action == "go"))
async def confirm(callback: CallbackQuery, callback_data: SendCb, sending: SendingService, bot: Bot) -> None:
    try:
        outcome = await sending.confirm(callback_data.draft_id, callback.from_user.id)
    except LookupError:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    if not outcome.sent:
        # A double tap, a stale preview, a press after Cancel: answered, nothing sent.
        await answer_press(callback, state_text(outcome.row), show_alert=True)
        return
    await answer_press(callback)
    text = outcome_text(outcome)
    if isinstance(outcome.error, InsufficientCredits):
        text += "\n" + await balance_line(sending)
    shown_in = await show(callback, bot, text)
    if outcome.row.state in ("failed", "unknown"):
        await sending.db.outcome_shown(outcome.row.id)
    if outcome.row.state == "accepted":
        await sending.db.set_result_message(outcome.row.id, shown_in)


@router.callback_query(SendCb.filter(F.action == "cancel"))
async def cancel_draft(callback: CallbackQuery, callback_data: SendCb, db: Database, bot: Bot) -> None:
    if await db.cancel_draft(callback_data.draft_id, callback.from_user.id):
        await answer_press(callback)
        await show(callback, bot, _("Cancelled. Nothing was sent."))
        return
    row = await db.get_send(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    await answer_press(callback, state_text(row), show_alert=True)


@router.callback_query(SendCb.filter(F.action == "senders"))
async def choose_sender(
    callback: CallbackQuery, callback_data: SendCb, db: Database, settings: Settings, bot: Bot
) -> None:
    row = await db.get_send(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    if row.state != "draft":
        await answer_press(callback, state_text(row), show_alert=True)
        return
    await answer_press(callback, _("Choose the sender"))
    await show(callback, bot, preview_text(row), keyboards.senders(row, settings.smska_sender_ids))


@router.callback_query(SenderCb.filter())
async def sender_chosen(
    callback: CallbackQuery, callback_data: SenderCb, db: Database, settings: Settings, bot: Bot
) -> None:
    senders = settings.smska_sender_ids
    row = await db.get_send(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id or not 0 <= callback_data.index < len(senders):
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    if not await db.update_draft(row.id, sender=senders[callback_data.index]):
        await answer_press(callback, state_text(row), show_alert=True)
        return
    row = await db.get_send(row.id)
    assert row is not None
    await answer_press(callback)
    await show(callback, bot, preview_text(row), keyboards.preview(row, senders))
