"""/escalation shows the ladder (anyone); `/escalation 5 duty, 15 Admins, 30 +7 904 176-49-95` sets it and
`/escalation off` turns it off (admins; audited; posted to the team feed). The engine is bot.services.escalation."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.handlers.book_common import post_change
from bot.services.directory import Directory
from bot.services.escalation_ladder import OFF_WORDS, LadderProblem, read_ladder
from bot.services.feed import TeamFeed
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.ui import escalation_texts

router = Router(name="escalation")


@router.message(Command("escalation"))
async def escalation(
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
    if not args:
        steps = await db.escalation.steps()
        await message.answer(escalation_texts.ladder(steps, settings.escalate_severities, operator.is_admin))
        return
    if not operator.is_admin:
        await message.answer(escalation_texts.admins_only())
        return
    if args.casefold() in OFF_WORDS:
        await db.escalation.set_steps([], operator.user_id)
        await post_change(db, feed, i18n, settings, operator.user_id, escalation_texts.feed_off)
        await message.answer(escalation_texts.ladder_off())
        return
    read = await read_ladder(args, directory)
    if isinstance(read, LadderProblem):
        await message.answer(escalation_texts.problem(read))
        return
    steps = await db.escalation.set_steps(read, operator.user_id)
    await post_change(db, feed, i18n, settings, operator.user_id, lambda by: escalation_texts.feed_set(by, steps))
    await message.answer(escalation_texts.ladder_set(steps))
