"""/duty shows who is on duty (since, until, next, and where that comes from: an override, the calendar, the
rotation, or set by hand), with 📨 (a send to them); /duty <recipient> sets it (a contact, a group or a number;
any operator; audited; posted to the team feed) — while a schedule runs, until its next handoff. `duty` as a
recipient is read by bot.services.directory."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.handlers.book_common import post_change, who
from bot.handlers.recipients import ask_text_for
from bot.services.directory import Directory, MemberProblem
from bot.services.feed import TeamFeed
from bot.services.schedule import DutySchedule
from bot.sms.phone import format_phone
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.ui import access_texts, card_texts, contact_keyboards, contact_texts, schedule_texts
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
    schedule: DutySchedule,
    i18n: I18n,
    feed: TeamFeed | None = None,
) -> None:
    args = (command.args or "").strip()
    if args:
        item = await directory.duty_item(args)
        if isinstance(item, MemberProblem):
            await message.answer(contact_texts.member_problem(item, "/duty " + contact_texts.example_name()))
            return
        entry = item.entries[0] if item.entries else None
        until = await schedule.override_until_handoff(
            operator.user_id,
            contact_id=entry.id if entry is not None and entry.kind == "contact" else None,
            group_id=entry.id if entry is not None and entry.kind == "group" else None,
            msisdn=item.msisdn,
        )
        found = await directory.duty_recipients()
        markup = contact_keyboards.duty() if found else None
        if until is not None:  # a schedule runs: an override, posted to the feed as a handoff
            await message.answer(schedule_texts.override_set(found, entry, until, settings.tz), reply_markup=markup)
            return
        await directory.set_duty(args, operator.user_id)
        now = await directory.duty()
        found = await directory.duty_recipients()
        if now is not None and found:
            shown = now.group.name if now.group else now.contact.name if now.contact else format_phone(found[0].msisdn)
            await post_change(db, feed, i18n, settings, operator.user_id, lambda by: card_texts.feed_duty(by, shown))
            await message.answer(
                contact_texts.duty_set(found, now.group.name if now.group else None),
                reply_markup=contact_keyboards.duty(),
            )
            return
    current = await schedule.now()
    found = await directory.duty_recipients()
    markup = contact_keyboards.duty() if current is not None and found else None
    set_by = await who(db, current.set_by) if current is not None and current.set_by is not None else ""
    if current is None or current.source == "hand":  # no schedule: as before
        text = contact_texts.duty_now(await directory.duty(), found, set_by, settings.tz)
    else:
        text = schedule_texts.on_duty(current, found, set_by, settings.tz)
    await message.answer(text, reply_markup=markup)


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
