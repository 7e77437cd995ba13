"""/send's recipients by name (issues 16 and 17): `/send <recipient>, <recipient> ... <text>` and the guided number
step read numbers, contacts, groups and `duty` (bot.services.directory); several matches get buttons to choose
from; the number step offers one-tap recent and often used recipients. Everything ends in
`bot.handlers.send.show_drafts` (the preview): nothing leaves without its Send press.

This router comes before `send`'s: a plain number keeps today's path there (`send.compose`: the lone-digit
question, the number asked again with the text kept).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

import bot.handlers.send as send
from bot.config import Settings
from bot.services import templates
from bot.services.directory import (
    Ambiguous,
    Directory,
    NoMatch,
    Resolved,
    Unsure,
    slots_from_data,
    slots_to_data,
    unsure_to_data,
)
from bot.services.sending import SendingService
from bot.sms.recipients import Recipient, lone_digit, split_number
from bot.storage.db import Database
from bot.ui import (
    access_texts,
    contact_keyboards,
    contact_texts,
    keyboards,
    recipient_keyboards,
    recipient_texts,
    template_keyboards,
    template_texts,
    texts,
)
from bot.ui.contact_callbacks import ChoiceCb, PickCb
from bot.ui.messages import answer_press, show
from bot.ui.states import SendFlow

router = Router(name="recipients")


def recipients_data(found: Sequence[Recipient]) -> list[list[str | None]]:
    return [r.to_data() for r in found]


def recipients_from(data: Any) -> list[Recipient] | None:
    if not isinstance(data, list) or not data:
        return None
    try:
        return [Recipient.from_data(r) for r in data]
    except (TypeError, ValueError):
        return None


async def ask_text_for(message: Message, state: FSMContext, found: list[Recipient], db: Database) -> None:
    """The text step for recipients picked by name or button (one or several), with the templates as buttons."""
    await state.set_state(SendFlow.text)
    await state.update_data(
        msisdn=found[0].msisdn if len(found) == 1 else None, recipients=recipients_data(found), choice_slots=None
    )
    offered = await templates.for_text_step(db)
    body = contact_texts.ask_text_for(found) + ("\n" + template_texts.text_step_offer() if offered else "")
    asked = await message.answer(body, reply_markup=template_keyboards.text_step(offered))
    await state.update_data(text_question=asked.message_id)  # its template buttons answer this step only


async def drafts(
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    found: list[Recipient],
    text: str,
    locale: str,
    user_id: int | None = None,
) -> None:
    """`send.show_drafts`, with `#name` read as that template for several recipients too (one recipient's preview
    reads it itself); an unknown one is said, and the text step stays open for the same recipients."""
    if len(found) > 1:
        final = await templates.final_text(sending.db, text)
        if isinstance(final, templates.UnknownTemplate):
            await message.answer(template_texts.unknown(final))
            await ask_text_for(message, state, found, sending.db)
            return
        text = final
    await send.show_drafts(message, state, sending, settings, found, text, locale, user_id)


async def ask_number(
    message: Message,
    state: FSMContext,
    directory: Directory,
    user_id: int,
    note: str | None = None,
    exclude: Collection[str] = (),
) -> None:
    """The guided number step, with one-tap recent and often used recipients; `note` above the question (a
    template's Send: which text is kept)."""
    await state.set_state(SendFlow.number)
    found = await directory.quick_picks(user_id, exclude)
    duty = await directory.duty() if await directory.duty_recipients() else None
    body = texts.ask_number() + ("\n" + contact_texts.ask_number_or_pick() if found or duty else "")
    markup = recipient_keyboards.with_duty_first(contact_keyboards.picks(found), duty)
    await message.answer(body if note is None else note + "\n" + body, reply_markup=markup)


async def go_on(
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    resolved: Resolved,
    user_id: int,
) -> None:
    """Recipients known: the preview when the text is, else the text step; a choice to make: its buttons; a
    problem: said in words (the step stays at the number, the text kept)."""
    found = resolved.problem
    if found is None:
        if resolved.text:
            await drafts(message, state, sending, settings, resolved.recipients, resolved.text, locale, user_id)
        else:
            await ask_text_for(message, state, resolved.recipients, sending.db)
        return
    await state.set_state(SendFlow.number)
    await state.update_data(text=resolved.text or None)
    if isinstance(found, Ambiguous):
        await state.update_data(choice_slots=slots_to_data(resolved.slots))
        await message.answer(contact_texts.choose(found), reply_markup=contact_keyboards.choices(found))
        return
    if isinstance(found, Unsure) or (isinstance(found, NoMatch) and found.near):
        await ask_which(message, state, resolved, found)
        return
    answer = contact_texts.problem(found)
    if resolved.text:
        answer += "\n\n" + contact_texts.kept_under(found, resolved.text)
    await message.answer(answer, reply_markup=keyboards.flow_cancel())


async def ask_which(message: Message, state: FSMContext, resolved: Resolved, found: Unsure | NoMatch) -> None:
    """A recipient the text seems to start with (issue 23.1), or a name not found (23.8): the closest names as
    buttons, and "It is the text" when recipients were read before it. The list read so far is kept."""
    question = found if isinstance(found, Unsure) else found.as_unsure()
    so_far = [r for slot in resolved.slots if not isinstance(slot, Ambiguous) for r in slot]
    await state.update_data(choice_slots=slots_to_data(resolved.slots), unsure=unsure_to_data(question))
    if isinstance(found, Unsure):
        body, markup = recipient_texts.unsure(found, so_far), recipient_keyboards.question(found)
    else:
        body, markup = recipient_texts.did_you_mean(found), recipient_keyboards.question(question, as_text=False)
    await message.answer(body, reply_markup=markup)


@router.message(Command("send"))
async def send_command(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    directory: Directory,
) -> None:
    args = (command.args or "").strip()
    user_id = message.from_user.id if message.from_user else message.chat.id
    await state.clear()  # a new /send: nothing of an earlier step is used
    if not args:
        await ask_number(message, state, directory, user_id)
        return
    resolved = await directory.read(args)
    if resolved.typed_number:  # today's path for a typed number (the lone-digit question, a bad number)
        await send.compose(message, state, sending, settings, locale, split_number(args), lone_digit(args))
        return
    await go_on(message, state, sending, settings, locale, resolved, user_id)


async def starts_with_name(message: Message, directory: Directory) -> bool:
    """A filter: a plain message that starts with a contact's or group's name, or with `duty`."""
    return await directory.starts_with_name(message.text or "")


@router.message(StateFilter(None), F.text, ~F.text.startswith("/"), starts_with_name)
async def name_outside_a_flow(
    message: Message, state: FSMContext, sending: SendingService, settings: Settings, locale: str, directory: Directory
) -> None:
    """`дежурный Сервер упал`, `Иван Петров disk full` without /send are taken as /send (issue 23.13)."""
    assert message.text is not None
    user_id = message.from_user.id if message.from_user else message.chat.id
    await go_on(message, state, sending, settings, locale, await directory.read(message.text), user_id)


@router.message(SendFlow.number, F.text, ~F.text.startswith("/"))
async def number_typed(
    message: Message, state: FSMContext, sending: SendingService, settings: Settings, locale: str, directory: Directory
) -> None:
    """A number, a name (or several) typed at the number step; the text kept from a one-shot /send is used."""
    assert message.text is not None
    resolved = await directory.read(message.text)
    if resolved.typed_number:
        await send.take_number(message, state, sending, settings, locale, message.text)
        return
    kept = (await state.get_data()).get("text")
    if not resolved.text and isinstance(kept, str):
        resolved.text = kept
    user_id = message.from_user.id if message.from_user else message.chat.id
    await go_on(message, state, sending, settings, locale, resolved, user_id)


async def has_recipients(message: Message, state: FSMContext) -> dict[str, list[Recipient]] | bool:
    """A filter: the text step was opened for recipients picked here (else it is `send`'s, by `msisdn` alone —
    `ask_for_text` writes only that, so recipients left from an earlier step never take its place)."""
    data = await state.get_data()
    found = recipients_from(data.get("recipients"))
    if not found or data.get("msisdn") != (found[0].msisdn if len(found) == 1 else None):
        return False
    return {"recipients": found}


@router.message(SendFlow.text, F.text, ~F.text.startswith("/"), has_recipients)
async def text_typed(
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    recipients: list[Recipient],
) -> None:
    assert message.text is not None
    await drafts(message, state, sending, settings, recipients, message.text, locale)


async def picked(
    callback: CallbackQuery,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    found: list[Recipient],
    text: str | None,
) -> None:
    """A recipient chosen by a button: the question stays readable without its buttons; then the text step, or
    the preview when the text is known."""
    message = callback.message
    if not isinstance(message, Message):
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    await answer_press(callback)
    await show(callback, bot, message.html_text)
    if text:
        await drafts(message, state, sending, settings, found, text, locale, user_id=callback.from_user.id)
    else:
        await ask_text_for(message, state, found, sending.db)


async def picked_at_number(
    callback: CallbackQuery,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    found: list[Recipient],
) -> None:
    """A one-tap recipient: `picked`, with the text kept from a one-shot /send when the step is at the number."""
    data = await state.get_data()
    kept = data.get("text") if await state.get_state() == SendFlow.number.state else None
    await picked(callback, state, sending, settings, locale, bot, found, kept if isinstance(kept, str) else None)


async def answered(
    callback: CallbackQuery,
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    resolved: Resolved,
) -> None:
    """A question about the list answered: the preview (or the text step) when the list is whole, else on with it."""
    if resolved.problem is None:
        await picked(callback, state, sending, settings, locale, bot, resolved.recipients, resolved.text)
        return
    await answer_press(callback)
    await show(callback, bot, message.html_text)
    await go_on(message, state, sending, settings, locale, resolved, callback.from_user.id)


@router.callback_query(PickCb.filter())
async def pick_pressed(
    callback: CallbackQuery,
    callback_data: PickCb,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    db: Database,
    directory: Directory,
) -> None:
    """A one-tap recipient: a contact (the team's: any operator may) or one of this operator's own sends."""
    if callback_data.kind == "c":
        found = await directory.recipients_of_contact(callback_data.id)
    else:
        row = await db.sends.get(callback_data.id)
        ok = row is not None and row.user_id == callback.from_user.id and row.erased_at is None and row.msisdn
        found = [Recipient(row.msisdn)] if ok and row is not None else []
    if not found:
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    await picked_at_number(callback, state, sending, settings, locale, bot, found)


@router.callback_query(ChoiceCb.filter())
async def choice_pressed(
    callback: CallbackQuery,
    callback_data: ChoiceCb,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    directory: Directory,
) -> None:
    """One of several matching names: only a choice this operator was offered and has not made yet."""
    data = await state.get_data()
    slots = slots_from_data(data.get("choice_slots"))
    kept = data.get("text")
    text = kept if isinstance(kept, str) else ""
    resolved = await directory.choose(slots, callback_data.index, text) if slots else None
    message = callback.message
    if resolved is None or not isinstance(message, Message):
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    await state.update_data(choice_slots=None)
    await answered(callback, message, state, sending, settings, locale, bot, resolved)
