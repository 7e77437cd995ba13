"""/rotation shows the duty rotation; `/rotation <members> <when>` sets it; `/rotation off` ends it (any operator;
audited). Who is on duty by it is read by bot.services.schedule."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.config import Settings
from bot.services.schedule import DutySchedule, RotationProblem
from bot.storage.models import Operator
from bot.ui import schedule_texts

router = Router(name="rotation")

OFF = {"off", "выкл", "выключить", "стоп"}


@router.message(Command("rotation"))
async def rotation(
    message: Message, command: CommandObject, operator: Operator, settings: Settings, schedule: DutySchedule
) -> None:
    args = (command.args or "").strip()
    if not args:
        await message.answer(schedule_texts.rotation_view(await schedule.rotation(), settings.tz))
    elif args.casefold() in OFF:
        await message.answer(schedule_texts.rotation_off(await schedule.rotation_off(operator.user_id)))
    else:
        result = await schedule.set_rotation(args, operator.user_id)
        if isinstance(result, RotationProblem):
            await message.answer(schedule_texts.rotation_problem(result))
        else:
            await message.answer(schedule_texts.rotation_view(result, settings.tz))
