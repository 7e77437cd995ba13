"""/send: one message (`/send <number> <text>`) or guided (number -> text), then a preview with Send / Cancel.

Nothing leaves before the Send press; the press is handled by SendingService.confirm, exactly once.
"""

from __future__ import annotations

import html
import logging
import re

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.callbacks import FlowCancelCb, SendCb, SenderCb
from bot.config import Settings
from bot.gateway.errors import GatewayError, InsufficientCredits
from bot.services.sending import MAX_PARTS, SendingService, outcome_text, state_text, too_long
from bot.sms.parts import count_parts
from bot.sms.phone import PhoneError, PhoneProblem, format_phone, normalize_phone
from bot.storage.db import Database
from bot.storage.models import SendRow
from bot.texts import money

router = Router(name="send")
log = logging.getLogger(__name__)

EXAMPLE_NUMBER = "+7 904 176-49-95"
NUMBER_WORD = re.compile(r"^[+\d()\-.]+$")


class SendFlow(StatesGroup):
    number = State()
    text = State()


# --- texts and keyboards -----------------------------------------------------------------------------------
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


def flow_cancel_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("✖️ Cancel"), callback_data=FlowCancelCb().pack())]]
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


def preview_keyboard(row: SendRow, senders: list[str]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(text=_("✅ Send"), callback_data=SendCb(action="go", draft_id=row.id).pack()),
            InlineKeyboardButton(text=_("✖️ Cancel"), callback_data=SendCb(action="cancel", draft_id=row.id).pack()),
        ]
    ]
    if len(senders) > 1:
        rows.append(
            [
                InlineKeyboardButton(
                    text=_("✉️ Sender: {sender}").format(sender=row.sender),
                    callback_data=SendCb(action="senders", draft_id=row.id).pack(),
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def senders_keyboard(row: SendRow, senders: list[str]) -> InlineKeyboardMarkup:
    buttons = [
        [
            InlineKeyboardButton(
                text=("• " if name == row.sender else "") + name,
                callback_data=SenderCb(draft_id=row.id, index=i).pack(),
            )
        ]
        for i, name in enumerate(senders)
    ]
    return InlineKeyboardMarkup(inline_keyboard=buttons)


# --- composing ---------------------------------------------------------------------------------------------
def split_number(args: str) -> tuple[str | None, str, PhoneProblem | None]:
    """'+7 904 176-49-95 Server down' -> ('79041764995', 'Server down', None).

    People put spaces inside numbers, so the shortest run of leading words that reads as a valid number wins.
    When none does, the problem reported is that of all the leading words that look like parts of a number.
    """
    words = args.split()
    for k in range(1, min(len(words), 6) + 1):
        try:
            msisdn = normalize_phone(" ".join(words[:k]))
        except PhoneError:
            continue
        rest = args.strip()
        for word in words[:k]:
            rest = rest[rest.index(word) + len(word) :]
        return msisdn, rest.strip(), None
    numeric = 0
    while numeric < len(words) and NUMBER_WORD.match(words[numeric]):
        numeric += 1
    try:
        normalize_phone(" ".join(words[: max(numeric, 1)]))
    except PhoneError as exc:
        return None, args, exc.reason
    return None, args, PhoneProblem.INVALID  # pragma: no cover - a valid number was found above


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
    sent = await message.answer(preview_text(row), reply_markup=preview_keyboard(row, settings.smska_sender_ids))
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
        await message.answer(
            _("📱 Who gets the SMS? Send a number (e.g. <code>{example}</code>) or share a contact.").format(
                example=EXAMPLE_NUMBER
            ),
            reply_markup=flow_cancel_keyboard(),
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
        reply_markup=flow_cancel_keyboard(),
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
        _("I need a phone number: type it or share a contact. /cancel to stop."), reply_markup=flow_cancel_keyboard()
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
        _("I need the text of the SMS as a plain message. /cancel to stop."), reply_markup=flow_cancel_keyboard()
    )


async def balance_line(sending: SendingService) -> str:
    try:
        amount = await sending.gateway.balance()
    except GatewayError:
        return _("The balance could not be read right now.")
    return _("Balance: {amount}").format(amount=money(amount))


# --- the preview's buttons ---------------------------------------------------------------------------------
async def _answer(callback: CallbackQuery, text: str | None = None, show_alert: bool = False) -> None:
    """Answer a press. Telegram refuses an answer to an expired query (~15 s: a slow send outlives it) or to one
    already answered (a press delivered again after a restart), or fails (5xx, network); none of that may stop
    the outcome being shown."""
    try:
        await callback.answer(text, show_alert=show_alert)
    except TelegramAPIError as exc:
        log.info("could not answer a button press: %s", exc.message)


async def _edit(callback: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    if not isinstance(callback.message, Message):
        return
    try:
        await callback.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise


@router.callback_query(SendCb.filter(F.action == "go"))
async def confirm(callback: CallbackQuery, callback_data: SendCb, sending: SendingService, bot: Bot) -> None:
    try:
        outcome = await sending.confirm(callback_data.draft_id, callback.from_user.id)
    except LookupError:
        await _answer(callback, _("This preview is no longer valid."), show_alert=True)
        return
    if not outcome.sent:
        # A double tap, a stale preview, a press after Cancel: answered, nothing sent.
        await _answer(callback, state_text(outcome.row), show_alert=True)
        return
    await _answer(callback)
    text = outcome_text(outcome)
    if isinstance(outcome.error, InsufficientCredits):
        text += "\n" + await balance_line(sending)
    shown_in = await _show_outcome(callback, bot, text)
    if outcome.row.state in ("failed", "unknown"):
        await sending.db.sends.outcome_shown(outcome.row.id)
    if outcome.row.state == "accepted":
        await sending.db.sends.set_result_message(outcome.row.id, shown_in)


async def _show_outcome(callback: CallbackQuery, bot: Bot, text: str) -> int:
    """The preview becomes the outcome. When it cannot be edited (deleted, too old, Telegram failed), the
    outcome goes in a new message: an operator always learns what became of the press. Returns the message id."""
    message = callback.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text)
            return message.message_id
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return message.message_id
            log.info("could not edit the preview, sending the outcome anew: %s", exc.message)
        except TelegramAPIError as exc:
            log.warning("could not edit the preview, sending the outcome anew: %s", exc.message)
    chat_id = message.chat.id if message is not None else callback.from_user.id
    return (await bot.send_message(chat_id, text)).message_id


@router.callback_query(SendCb.filter(F.action == "cancel"))
async def cancel_draft(callback: CallbackQuery, callback_data: SendCb, db: Database) -> None:
    if await db.sends.cancel(callback_data.draft_id, callback.from_user.id) is not None:
        await _answer(callback)
        await _edit(callback, _("Cancelled. Nothing was sent."))
        return
    row = await db.sends.get(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id:
        await _answer(callback, _("This preview is no longer valid."), show_alert=True)
        return
    await _answer(callback, state_text(row), show_alert=True)


@router.callback_query(SendCb.filter(F.action == "senders"))
async def choose_sender(callback: CallbackQuery, callback_data: SendCb, db: Database, settings: Settings) -> None:
    row = await db.sends.get(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id:
        await _answer(callback, _("This preview is no longer valid."), show_alert=True)
        return
    if row.state != "draft":
        await _answer(callback, state_text(row), show_alert=True)
        return
    await _answer(callback, _("Choose the sender"))
    await _edit(callback, preview_text(row), senders_keyboard(row, settings.smska_sender_ids))


@router.callback_query(SenderCb.filter())
async def sender_chosen(callback: CallbackQuery, callback_data: SenderCb, db: Database, settings: Settings) -> None:
    senders = settings.smska_sender_ids
    row = await db.sends.get(callback_data.draft_id)
    if row is None or row.user_id != callback.from_user.id or not 0 <= callback_data.index < len(senders):
        await _answer(callback, _("This preview is no longer valid."), show_alert=True)
        return
    updated = await db.sends.set_sender(row.id, senders[callback_data.index])
    if updated is None:
        await _answer(callback, state_text(row), show_alert=True)
        return
    row = updated
    await _answer(callback)
    await _edit(callback, preview_text(row), preview_keyboard(row, senders))
