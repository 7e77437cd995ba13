"""Groups of recipients (issue 17): /group <name>: <member>, ... creates or replaces one, /group <name> shows it
(📨 Send, 🗑 Delete), /groups lists them. A group's name is a recipient wherever a contact's is."""

from __future__ import annotations

import math

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.handlers.book_common import who
from bot.services.directory import Directory, Locked, MemberProblem, Refused, TooMany
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.ui import contact_keyboards, contact_texts, group_texts
from bot.ui.contact_callbacks import GroupPageCb
from bot.ui.messages import answer_press, show

router = Router(name="groups")
PAGE = 10  # groups a page of /groups


@router.message(Command("group"))
async def group(
    message: Message, command: CommandObject, operator: Operator, db: Database, directory: Directory
) -> None:
    args = (command.args or "").strip()
    if not args:
        await message.answer(group_texts.usage())
        return
    if ":" not in args:
        found = await directory.group_named(args)
        if found is None:
            await message.answer(group_texts.not_found(args))
            return
        members = await directory.repo.members(found.id)
        await message.answer(group_texts.card(found, members), reply_markup=contact_keyboards.group_card(found))
        return
    name, _, rest = args.partition(":")
    phrases = [p.strip() for p in rest.split(",") if p.strip()]
    if not phrases and name.strip():
        await message.answer(group_texts.no_members())
        return
    result = await directory.save_group(name, phrases, operator.user_id, operator.is_admin)
    if isinstance(result, Locked):
        await message.answer(contact_texts.locked(result.name, await who(db, result.added_by)))
    elif isinstance(result, Refused):
        await message.answer(contact_texts.name_refused(result))
    elif isinstance(result, MemberProblem):
        await message.answer(contact_texts.member_problem(result, group_texts.example()))
    elif isinstance(result, TooMany):
        await message.answer(group_texts.too_many(result))
    else:
        saved, before, members = result
        await message.answer(
            group_texts.saved(saved, members, before is not None), reply_markup=contact_keyboards.group_card(saved)
        )


async def page_of(directory: Directory, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    """A page of /groups (PAGE a page: a listing always fits one message)."""
    pages = max(1, math.ceil(await directory.repo.group_count() / PAGE))
    page = min(max(page, 0), pages - 1)
    counted = await directory.repo.groups(PAGE, page * PAGE)
    found = [g for g, _ in counted]
    return group_texts.listing(counted, page, pages), contact_keyboards.groups(found, page, pages)


@router.message(Command("groups"))
async def groups(message: Message, directory: Directory) -> None:
    body, markup = await page_of(directory, 0)
    await message.answer(body, reply_markup=markup)


@router.callback_query(GroupPageCb.filter())
async def groups_page(callback: CallbackQuery, callback_data: GroupPageCb, directory: Directory, bot: Bot) -> None:
    body, markup = await page_of(directory, callback_data.page)
    await answer_press(callback)
    await show(callback, bot, body, markup)
