"""/duty shows who is on duty; /duty <recipient> sets it (a contact, a group or a number; any operator; audited).
`duty` as a recipient is read by bot.services.directory."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.config import Settings
from bot.handlers.contacts import who
from bot.services.directory import Directory, MemberProblem
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.ui import contact_texts

router = Router(name="duty")


@router.message(Command("duty"))
async def duty(
    message: Message, command: CommandObject, operator: Operator, db: Database, settings: Settings, directory: Directory
) -> None:
    args = (command.args or "").strip()
    if args:
        result = await directory.set_duty(args, operator.user_id)
        if isinstance(result, MemberProblem):
            await message.answer(contact_texts.member_problem(result, "/duty " + contact_texts.example_name()))
            return
    now = await directory.duty()
    found = await directory.duty_recipients()
    if args and now is not None and found:
        await message.answer(contact_texts.duty_set(found, now.group.name if now.group else None))
        return
    set_by = await who(db, now.set_by) if now is not None else ""
    await message.answer(contact_texts.duty_now(now, found, set_by, settings.tz))
