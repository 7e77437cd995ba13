"""/status [id]: the delivery status in words, with what the send log knows about it; without an id, this
operator's latest SMS, with buttons for the few before it and 🔄 Refresh."""

from __future__ import annotations

import logging
import re

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.gateway.errors import ArgumentValidationFailed, GatewayError
from bot.sms.status import DeliveryStatus
from bot.storage.db import Database
from bot.storage.models import Operator, SendRow
from bot.ui import keyboards, result_keyboards, status_texts
from bot.ui.callbacks import StatusCb
from bot.ui.messages import answer_press, show, working

router = Router(name="status")
log = logging.getLogger(__name__)

MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EARLIER = 3  # buttons for the SMS before the one shown


async def query(gateway: SmskaClient, row: SendRow | None, message_id: str) -> DeliveryStatus | GatewayError:
    """The stored final status when there is one, else the gateway's answer (or why there is none)."""
    if row is not None and row.final and row.status_code is not None:
        return DeliveryStatus(row.status_code, row.status_name or "")
    try:
        return await gateway.query(message_id)
    except GatewayError as exc:
        log.info("status query failed: %s", type(exc).__name__)
        return exc


async def of_row(
    row: SendRow, db: Database, gateway: SmskaClient, operator: Operator, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    """One send of this operator's: its status, 🔄 Refresh, and buttons for their latest others."""
    result = await query(gateway, row, row.gateway_id) if row.gateway_id else None
    text = status_texts.status_report(row.gateway_id, row, result, settings.tz)
    recent = await db.sends.recent(operator.user_id, EARLIER + 1)
    others = [(r, status_texts.other_label(r, settings.tz)) for r in recent if r.id != row.id][:EARLIER]
    return text, keyboards.status(row, others, result_keyboards.for_status(row))


@router.message(Command("status"))
async def status(
    message: Message,
    command: CommandObject,
    gateway: SmskaClient,
    db: Database,
    operator: Operator,
    settings: Settings,
    bot: Bot,
) -> None:
    async with working(bot, message.chat.id):  # "typing" while the gateway is asked: the sign of work
        await _status(message, (command.args or "").strip(), gateway, db, operator, settings)


async def _status(
    message: Message, message_id: str, gateway: SmskaClient, db: Database, operator: Operator, settings: Settings
) -> None:
    if not message_id:
        latest = await db.sends.recent(operator.user_id, 1)
        if not latest:
            await message.answer(status_texts.no_sms_yet())
            return
        text, markup = await of_row(latest[0], db, gateway, operator, settings)
        await message.answer(text, reply_markup=markup)
        return
    if not MESSAGE_ID.match(message_id):
        await message.answer(status_texts.status_usage())
        return
    row = await db.sends.by_gateway_id(message_id) or await db.sends.by_gateway_id(message_id.lower())
    if row is not None and not operator.is_admin and row.user_id != operator.user_id:
        row = None  # someone else's SMS: the gateway's answer only, none of their facts
    if row is not None and row.user_id == operator.user_id:
        text, markup = await of_row(row, db, gateway, operator, settings)
        await message.answer(text, reply_markup=markup)
        return
    result = await query(gateway, row, row.gateway_id if row is not None and row.gateway_id else message_id)
    if row is None and isinstance(result, ArgumentValidationFailed):
        await message.answer(status_texts.unknown_id(message_id))  # the gateway does not know it either
        return
    await message.answer(status_texts.status_report(message_id, row, result, settings.tz))


@router.callback_query(StatusCb.filter())
async def status_pressed(
    callback: CallbackQuery,
    callback_data: StatusCb,
    gateway: SmskaClient,
    db: Database,
    operator: Operator,
    settings: Settings,
    bot: Bot,
) -> None:
    row = await db.sends.get(callback_data.send_id)
    if row is None or row.user_id != operator.user_id:
        await answer_press(callback, _("This button is no longer valid."), show_alert=True)
        return
    text, markup = await of_row(row, db, gateway, operator, settings)
    await answer_press(callback, _("Status updated"))
    await show(callback, bot, text, markup)
