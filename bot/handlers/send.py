"""/send: one message (`/send <number> <text>`) or guided (number -> text), then a preview with Send / Cancel.

Nothing leaves before the Send press; the press is handled by SendingService.confirm, exactly once.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.gateway.errors import InsufficientCredits
from bot.handlers.batch_preview import show_batch
from bot.handlers.previews import offer_fresh_preview, single_shown
from bot.services import results, templates
from bot.services.batch_view import unique
from bot.services.sending import MAX_PARTS, SendingService, too_long
from bot.sms.clean import clean_sms_text
from bot.sms.parts import count_parts
from bot.sms.phone import PhoneProblem
from bot.sms.plain import plainer
from bot.sms.recipients import LoneDigit, NumberSplit, Recipient, lone_digit, split_number
from bot.storage.db import Database
from bot.storage.models import SendRow
from bot.ui import keyboards, result_keyboards, result_texts, template_keyboards, template_texts, texts
from bot.ui.callbacks import DigitCb, SendCb, SenderCb
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
    user_id: int | None = None,
    origin: int | None = None,
    name: str | None = None,
) -> None:
    """The draft and its preview; `user_id` when `message` is not the operator's (a button's message); `origin`:
    the send it repeats (📨 Send again, 🔁 Try again); `name`: the contact's, when it was addressed by one (the
    preview shows it)."""
    text = clean_sms_text(text)  # no NUL, no bidi override reaches the gateway
    if not text.strip():
        await ask_for_text(message, state, msisdn, sending)
        return
    final = await templates.final_text(sending.db, text)  # `#name`: that template's text
    if isinstance(final, templates.UnknownTemplate):
        await ask_for_text(message, state, msisdn, sending, note=template_texts.unknown(final))
        return
    text = final
    parts = too_long(text)
    if parts is not None:
        await message.answer(texts.too_long(parts, MAX_PARTS))
        return
    await state.clear()
    if user_id is None:
        user_id = message.from_user.id if message.from_user else message.chat.id
    row = await sending.create_draft(
        user_id=user_id, chat_id=message.chat.id, msisdn=msisdn, text=text, locale=locale, name=name
    )
    if origin is not None:
        await sending.db.results.set_origin(row.id, origin)
    hit = await sending.limits.hit(user_id, row.parts)
    body = await preview_text(sending.db, settings, row, repeats=origin is not None)
    if hit is not None:
        body += "\n\n" + texts.over_limit(hit)
    markup = keyboards.preview(row, settings.smska_sender_ids, can_send=hit is None)
    sent = await message.answer(body, reply_markup=markup)
    if hit is not None:
        await sending.limits.tell_admins(user_id, hit)
    if message.bot is not None:  # older open previews of the same SMS close
        await single_shown(message.bot, sending.db, row, sent.message_id)
    else:  # pragma: no cover - aiogram binds the bot to every message it hands over
        await sending.db.sends.set_preview(row.id, sent.message_id)


async def preview_text(db: Database, settings: Settings, row: SendRow, repeats: bool | None = None) -> str:
    """The preview, and under it the duplicate guard and what became of the SMS it repeats (issue 17)."""
    facts = await results.preview_facts(db, settings, row, repeats=repeats)
    window = settings.duplicate_window_minutes
    return texts.preview(row) + result_texts.preview_notes(facts.recent, row.user_id, window, facts.first)


async def show_drafts(
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    recipients: list[Recipient],
    text: str,
    locale: str,
    user_id: int | None = None,
    origin_batch: int | None = None,
) -> bool:
    """The seam every way of picking recipients ends in (a number, a contact, a group, duty, a button): one
    recipient gets today's preview; several get one batch preview (issue 17). False only when `origin_batch`'s
    🔁 Resend has its preview open already."""
    recipients = unique(recipients)  # each number once
    if len(recipients) == 1:
        one = recipients[0]
        await show_preview(message, state, sending, settings, one.msisdn, text, locale, user_id, name=one.name)
        return True
    return await show_batch(message, state, sending, settings, recipients, text, locale, user_id, origin_batch)


# `/send` itself, and what is typed at the number step, are read in bot/handlers/recipients.py (numbers, contact
# and group names, duty), whose router comes first; a plain number comes back here (`compose`, `take_number`).


async def compose(
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    split: NumberSplit,
    digit: LoneDigit | None = None,
) -> None:
    """What `/send <number> <text>` (or a message that starts with a number) asks for: the preview, the text
    when only a number came, or the number again — with the text kept — when the number is not good.

    `8 904 176 49 9 5 серверов упало` (`digit`): the number is whole only with the 5 that may start the text.
    Guessing either way at 3 a.m. is worse than one tap: taken into the number, the SMS may go to a stranger
    and the text loses its first word; left in the text, the number is short. So the bot asks, showing both
    readings in full; typing the number again works too (the text with the digit is kept)."""
    if digit is not None:
        await state.set_state(SendFlow.number)
        await state.update_data(text=digit.text_with, digit_msisdn=digit.msisdn, digit_text=digit.text)
        await message.answer(texts.lone_digit(digit), reply_markup=keyboards.lone_digit(digit))
        return
    if split.msisdn is None:
        await state.set_state(SendFlow.number)
        await state.update_data(text=split.text or None)
        answer = texts.phone_problem(split.problem or PhoneProblem.INVALID)
        if split.text:
            answer += "\n\n" + texts.text_kept(split.text)
        await message.answer(answer, reply_markup=keyboards.flow_cancel())
        return
    if not split.text:
        await ask_for_text(message, state, split.msisdn, sending)
        return
    await show_preview(message, state, sending, settings, split.msisdn, split.text, locale)


async def take_number(
    message: Message, state: FSMContext, sending: SendingService, settings: Settings, locale: str, raw: str
) -> None:
    """A number typed or shared at the number step: the preview when the text is known (kept from a one-shot
    /send, or typed after the number), else on to the text step; or why it cannot be used (the step stays)."""
    split = split_number(raw)
    if split.msisdn is None:
        await message.answer(texts.phone_problem(split.problem or PhoneProblem.INVALID))
        return
    kept = (await state.get_data()).get("text")
    text = split.text or (kept if isinstance(kept, str) else "")
    digit = lone_digit(raw) if split.text else None  # the same question as after /send
    await compose(message, state, sending, settings, locale, NumberSplit(split.msisdn, text, None), digit)


async def ask_for_text(
    message: Message, state: FSMContext, msisdn: str, sending: SendingService, note: str | None = None
) -> None:
    """The guided text step (with the templates as buttons); `note`: why it is asked again."""
    await state.set_state(SendFlow.text)
    await state.update_data(msisdn=msisdn)
    offered = await templates.for_text_step(sending.db)
    question = texts.ask_text(msisdn) + ("\n" + template_texts.text_step_offer() if offered else "")
    body = question if note is None else note + "\n\n" + question
    asked = await message.answer(body, reply_markup=template_keyboards.text_step(offered))
    await state.update_data(text_question=asked.message_id)  # its template buttons answer this step only


@router.message(SendFlow.number, F.contact)  # outside a flow a shared contact is offered Send / Save (contacts.py)
async def number_from_contact(
    message: Message, state: FSMContext, sending: SendingService, settings: Settings, locale: str
) -> None:
    assert message.contact is not None
    await take_number(message, state, sending, settings, locale, message.contact.phone_number)


async def starts_with_number(message: Message) -> dict[str, NumberSplit] | bool:
    """A filter: the message starts with a valid number (then handed on as `split`)."""
    split = split_number(message.text or "")
    return {"split": split} if split.msisdn is not None else False


@router.message(StateFilter(None), F.text, ~F.text.startswith("/"), starts_with_number)
async def number_outside_a_flow(
    message: Message, state: FSMContext, sending: SendingService, settings: Settings, locale: str, split: NumberSplit
) -> None:
    """`+7 904 176-49-95 Server down` without /send is taken as /send."""
    await compose(message, state, sending, settings, locale, split, lone_digit(message.text or ""))


@router.callback_query(DigitCb.filter())
async def digit_chosen(
    callback: CallbackQuery,
    callback_data: DigitCb,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
) -> None:
    data = await state.get_data()
    msisdn, text, kept = data.get("digit_msisdn"), data.get("digit_text"), data.get("text")
    message = callback.message
    if not (isinstance(msisdn, str) and isinstance(text, str) and isinstance(kept, str)) or not isinstance(
        message, Message
    ):
        await answer_press(callback, _("This question is no longer open."), show_alert=True)
        return
    await answer_press(callback)
    await state.update_data(digit_msisdn=None, digit_text=None)
    await show(callback, bot, message.html_text)  # the question stays readable, without its buttons
    if callback_data.choice == "number":
        await show_preview(message, state, sending, settings, msisdn, text, locale, user_id=callback.from_user.id)
        return
    await message.answer(texts.text_kept(kept) + "\n" + texts.ask_number(), reply_markup=keyboards.flow_cancel())


@router.message(SendFlow.number)
async def number_other(message: Message) -> None:
    await message.answer(
        _("I need a phone number or a contact's name: type it or share a contact. /cancel to stop."),
        reply_markup=keyboards.flow_cancel(),
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
async def own_draft(callback: CallbackQuery, db: Database, draft_id: int) -> SendRow | None:
    """The draft when the one pressing is its operator; else the press is answered as no longer valid (as
    batch.own_view does for a batch)."""
    row = await db.sends.get(draft_id)
    if row is None or row.user_id != callback.from_user.id:
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return None
    return row


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
    if outcome.limit is not None:
        await answer_press(callback, texts.over_limit(outcome.limit), show_alert=True)
        row = outcome.row
        body = await preview_text(sending.db, settings, row) + "\n\n" + texts.over_limit(outcome.limit)
        await show(callback, bot, body, keyboards.preview(row, settings.smska_sender_ids, can_send=False))
        return
    if not outcome.sent:
        # A double tap, a stale preview, a press after Cancel: answered, nothing sent.
        await answer_press(callback, texts.draft_state(outcome.row), show_alert=True)
        return
    text = texts.outcome(outcome)
    if isinstance(outcome.error, InsufficientCredits):
        text += "\n" + texts.balance_line(await sending.balance())
    shown_in = await show(callback, bot, text, result_keyboards.for_row(outcome.row))  # what to do next (issue 17)
    if outcome.row.state in ("failed", "unknown"):
        await sending.db.sends.outcome_shown(outcome.row.id)
    if outcome.row.state == "accepted":
        written = await sending.db.sends.set_result_message(outcome.row.id, shown_in)
        if written is not None:
            await sending.tracker.settle(written, shown_in)  # delivery may have been seen meanwhile


@router.callback_query(SendCb.filter(F.action == "cancel"))
async def cancel_draft(callback: CallbackQuery, callback_data: SendCb, db: Database, bot: Bot) -> None:
    if await db.sends.cancel(callback_data.draft_id, callback.from_user.id) is not None:
        await answer_press(callback)
        await show(callback, bot, _("Cancelled. Nothing was sent."))
        return
    row = await own_draft(callback, db, callback_data.draft_id)
    if row is not None:
        await answer_press(callback, texts.draft_state(row), show_alert=True)


@router.callback_query(SendCb.filter(F.action == "senders"))
async def choose_sender(
    callback: CallbackQuery, callback_data: SendCb, db: Database, settings: Settings, bot: Bot
) -> None:
    row = await own_draft(callback, db, callback_data.draft_id)
    if row is None:
        return
    if row.state != "draft":
        await answer_press(callback, texts.draft_state(row), show_alert=True)
        return
    await answer_press(callback, _("Choose the sender"))
    await show(callback, bot, await preview_text(db, settings, row), keyboards.senders(row, settings.smska_sender_ids))


@router.callback_query(SenderCb.filter())
async def sender_chosen(
    callback: CallbackQuery, callback_data: SenderCb, db: Database, settings: Settings, bot: Bot
) -> None:
    senders = settings.smska_sender_ids
    row = await own_draft(callback, db, callback_data.draft_id)
    if row is None:
        return
    if not 0 <= callback_data.index < len(senders):
        await answer_press(callback, _("This preview is no longer valid."), show_alert=True)
        return
    updated = await db.sends.set_sender(row.id, senders[callback_data.index])
    if updated is None:
        await answer_press(callback, texts.draft_state(row), show_alert=True)
        return
    row = updated
    await answer_press(callback)
    await show(callback, bot, await preview_text(db, settings, row), keyboards.preview(row, senders))


@router.callback_query(SendCb.filter(F.action == "plain"))
async def plain_characters(
    callback: CallbackQuery, callback_data: SendCb, db: Database, settings: Settings, bot: Bot
) -> None:
    """One tap: the typographic characters that made the text cost more parts become plain ones."""
    row = await own_draft(callback, db, callback_data.draft_id)
    if row is None:
        return
    found = plainer(row.text)
    parts = count_parts(found.text) if found is not None else None
    updated = None
    if found is not None and parts is not None:
        updated = await db.sends.set_text(row.id, row.user_id, found.text, parts.encoding, parts.parts)
    if updated is None:
        await answer_press(callback, texts.draft_state(row), show_alert=True)
        return
    await answer_press(callback)
    body = await preview_text(db, settings, updated)
    await show(callback, bot, body, keyboards.preview(updated, settings.smska_sender_ids))
