"""Answers to the questions `recipients` asks about a recipient list (issue 23.1: a recipient the text seems to
start with; 23.8: did you mean), and 🧑‍🚒 the one on duty at the guided number step (23.13). Each answer ends
where a typed list does: the preview (`recipients.picked`, `recipients.go_on`); nothing leaves without Send."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.config import Settings
from bot.handlers.recipients import answered, picked_at_number
from bot.services.directory import Directory, slots_from_data, unsure_from_data
from bot.services.sending import SendingService
from bot.ui import access_texts, recipient_texts
from bot.ui.messages import answer_press
from bot.ui.recipient_callbacks import AsTextCb, DutyPickCb, NearCb

router = Router(name="recipient_answers")


async def settle(
    callback: CallbackQuery,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    directory: Directory,
    index: int | None,
) -> None:
    """The answer to a question of `ask_which`: only the one this operator was asked and has not answered."""
    data = await state.get_data()
    slots = slots_from_data(data.get("choice_slots"))
    question = unsure_from_data(data.get("unsure"))
    kept = data.get("text")
    text = kept if isinstance(kept, str) else ""
    resolved = None
    if slots is not None and question is not None and (index is not None or slots):
        resolved = await directory.settle(slots, question, index, text)
    message = callback.message
    if resolved is None or not isinstance(message, Message):
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    await state.update_data(choice_slots=None, unsure=None)
    await answered(callback, message, state, sending, settings, locale, bot, resolved)


@router.callback_query(NearCb.filter())
async def near_pressed(
    callback: CallbackQuery,
    callback_data: NearCb,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    directory: Directory,
) -> None:
    await settle(callback, state, sending, settings, locale, bot, directory, callback_data.index)


@router.callback_query(AsTextCb.filter())
async def as_text_pressed(
    callback: CallbackQuery,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    directory: Directory,
) -> None:
    await settle(callback, state, sending, settings, locale, bot, directory, None)


@router.callback_query(DutyPickCb.filter())
async def duty_pressed(
    callback: CallbackQuery,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
    directory: Directory,
) -> None:
    """🧑‍🚒 at the guided number step: whoever is on duty at the press (the text kept from a one-shot /send)."""
    found = await directory.duty_recipients()
    if not found:
        await answer_press(callback, recipient_texts.nobody_on_duty(), show_alert=True)
        return
    await picked_at_number(callback, state, sending, settings, locale, bot, found)
