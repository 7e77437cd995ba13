"""/duty shows who is on duty (since, until, next, and where that comes from: an override, the calendar, the
rotation, or set by hand); /duty <recipient> sets it (a contact, a group or a number; any operator; audited) —
while a schedule runs, until its next handoff. `duty` as a recipient is read by bot.services.directory."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.config import Settings
from bot.handlers.contacts import who
from bot.services.directory import Directory, MemberProblem
from bot.services.schedule import DutySchedule
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.ui import contact_texts, schedule_texts

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
        if until is not None:
            found = await directory.duty_recipients()
            await message.answer(schedule_texts.override_set(found, entry, until, settings.tz))
            return
        await directory.set_duty(args, operator.user_id)
        now = await directory.duty()
        found = await directory.duty_recipients()
        if now is not None and found:
            await message.answer(contact_texts.duty_set(found, now.group.name if now.group else None))
            return
    current = await schedule.now()
    found = await directory.duty_recipients()
    set_by = await who(db, current.set_by) if current is not None and current.set_by is not None else ""
    if current is None or current.source == "hand":  # no schedule: as before
        await message.answer(contact_texts.duty_now(await directory.duty(), found, set_by, settings.tz))
        return
    await message.answer(schedule_texts.on_duty(current, found, set_by, settings.tz))
