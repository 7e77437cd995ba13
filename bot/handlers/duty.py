"""/duty shows who is on duty, with 📨 (a send to them); /duty <recipient> sets it (a contact, a group or a number;
any operator; audited). `duty` as a recipient is read by bot.services.directory."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.handlers.book_common import to_feed, who
from bot.handlers.recipients import ask_text_for
from bot.services.directory import Directory, MemberProblem
from bot.services.feed import TeamFeed
from bot.sms.phone import format_phone
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.ui import access_texts, card_texts, contact_keyboards, contact_texts
from bot.ui.contact_callbacks import DutyCb
from bot.ui.messages import answer_press

router = Router(name="duty")


@router.message(Command("duty"))
async def duty(
    message: Message,
    command: CommandObject,
    operator: Operator,
    db: Database,
    settings: Settings,
    directory: Directory,
    i18n: I18n,
    feed: TeamFeed | None = None,
) -> None:
    args = (command.args or "").strip()
    if args:
        result = await directory.set_duty(args, operator.user_id)
        if isinstance(result, MemberProblem):
            await message.answer(contact_texts.member_problem(result, "/duty " + contact_texts.example_name()))
            return
    now = await directory.duty()
    found = await directory.duty_recipients()
    markup = contact_keyboards.duty() if now is not None and found else None
    if args and now is not None and found:
        by = await who(db, operator.user_id)
        shown = now.group.name if now.group else now.contact.name if now.contact else format_phone(found[0].msisdn)
        to_feed(feed, i18n, settings, lambda: card_texts.feed_duty(by, shown))
        await message.answer(contact_texts.duty_set(found, now.group.name if now.group else None), reply_markup=markup)
        return
    set_by = await who(db, now.set_by) if now is not None else ""
    await message.answer(contact_texts.duty_now(now, found, set_by, settings.tz), reply_markup=markup)


@router.callback_query(DutyCb.filter())
async def send_to_duty(callback: CallbackQuery, state: FSMContext, db: Database, directory: Directory) -> None:
    """📨: the text step for whoever is on duty at the press (duty may have changed since /duty was shown)."""
    found = await directory.duty_recipients()
    if not isinstance(callback.message, Message):
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    if not found:
        await answer_press(callback, contact_texts.nobody_on_duty_plain(), show_alert=True)
        return
    await answer_press(callback)
    await ask_text_for(callback.message, state, found, db)
