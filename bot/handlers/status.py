"""/status <id>: the delivery status in words, with what the send log knows about it."""

from __future__ import annotations

import logging
import re

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.gateway.errors import GatewayError
from bot.sms.status import DeliveryStatus
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.ui import texts
from bot.ui.messages import working

router = Router(name="status")
log = logging.getLogger(__name__)

MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


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
    message_id = (command.args or "").strip()
    if not MESSAGE_ID.match(message_id):
        await message.answer(texts.status_usage())
        return
    row = await db.sends.by_gateway_id(message_id)
    if row is not None and not operator.is_admin and row.user_id != operator.user_id:
        row = None  # someone else's SMS: the gateway's answer only, none of their facts
    result: DeliveryStatus | GatewayError
    if row is not None and row.final and row.status_code is not None:
        result = DeliveryStatus(row.status_code, row.status_name or "")
    else:
        try:
            async with working(bot, message.chat.id):
                result = await gateway.query(message_id)
        except GatewayError as exc:
            log.info("status query failed: %s", type(exc).__name__)
            result = exc
    await message.answer(texts.status_report(message_id, row, result, settings.tz))
