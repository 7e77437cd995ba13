"""Admin commands: /users, /allow <id>, /deny <id>, and the Approve / Deny buttons of access requests."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, MagicData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.services.access import AccessService
from bot.storage.db import Database
from bot.ui import access_texts, texts
from bot.ui.callbacks import AccessCb

router = Router(name="admin")
router.message.filter(MagicData(F.is_admin))
router.callback_query.filter(MagicData(F.is_admin))


def parse_user_id(args: str | None) -> int | None:
    value = (args or "").strip()
    # ASCII digits only: str.isdigit() is also true for '²' or '①', which int() refuses.
    if value.isascii() and value.isdigit() and 0 < int(value) < 2**53:
        return int(value)
    return None


@router.message(Command("allow"))
async def allow(message: Message, command: CommandObject, access: AccessService) -> None:
    user_id = parse_user_id(command.args)
    if user_id is None or message.from_user is None:
        await message.answer(_("Send the Telegram id after the command, for example: <code>/allow 123456789</code>"))
        return
    if await access.grant(user_id, message.from_user):
        await message.answer(_("✅ {id} can now use the bot.").format(id=user_id))
    else:
        await message.answer(_("{id} already has access.").format(id=user_id))


@router.message(Command("deny"))
async def deny(message: Message, command: CommandObject, access: AccessService) -> None:
    user_id = parse_user_id(command.args)
    if user_id is None or message.from_user is None:
        await message.answer(_("Send the Telegram id after the command, for example: <code>/deny 123456789</code>"))
        return
    if user_id in access.admin_ids:
        await message.answer(_("{id} is an admin (ADMIN_IDS); change the settings to remove them.").format(id=user_id))
        return
    if await access.revoke(user_id, message.from_user):
        await message.answer(_("🚫 {id} no longer has access.").format(id=user_id))
    else:
        await message.answer(_("{id} had no access.").format(id=user_id))


@router.message(Command("users"))
async def users(message: Message, db: Database) -> None:
    await message.answer(texts.users(await db.people.operators(), await db.people.names()))


@router.callback_query(AccessCb.filter())
async def decide(callback: CallbackQuery, callback_data: AccessCb, db: Database, access: AccessService) -> None:
    request = await db.access.request(callback_data.request_id)
    if request is None:
        await callback.answer(_("This request no longer exists."))
        return
    if request.status == "pending":
        if await access.decide(request.id, callback_data.approve, callback.from_user) is not None:
            await callback.answer()
            return
        request = await db.access.request(request.id)  # decided a moment ago by another press or command
        assert request is not None
    await callback.answer(access_texts.already_decided(request.status == "approved", await access.decided_by(request)))
