"""/status <id>: the delivery status in words, with what the send log knows about it."""

from __future__ import annotations

import html
import logging
import re

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.gateway.errors import GatewayError
from bot.sms.phone import format_phone
from bot.sms.status import DeliveryStatus
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.texts import gateway_error, status_icon, status_words, when

router = Router(name="status")
log = logging.getLogger(__name__)

MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def describe_status(status: DeliveryStatus) -> str:
    tail = _("final") if status.final else _("not final yet")
    return f"{status_icon(status)} {status_words(status)} ({tail})"


@router.message(Command("status"))
async def status(
    message: Message,
    command: CommandObject,
    gateway: SmskaClient,
    db: Database,
    operator: Operator,
    settings: Settings,
) -> None:
    message_id = (command.args or "").strip()
    if not MESSAGE_ID.match(message_id):
        await message.answer(
            _("Send the SMS id after the command, for example:\n<code>/status ah1acugxz98a27t9z</code>")
        )
        return
    row = await db.sends.by_gateway_id(message_id)
    if row is not None and not operator.is_admin and row.user_id != operator.user_id:
        row = None  # someone else's SMS: the gateway's answer only, none of their facts
    lines = [_("SMS <code>{id}</code>").format(id=html.escape(message_id))]
    if row is not None:
        lines.append(
            _("To {number}, sent {time}").format(number=format_phone(row.msisdn), time=when(row.sent_at, settings.tz))
        )
    if row is not None and row.final and row.status_code is not None:
        lines.append(describe_status(DeliveryStatus(row.status_code, row.status_name or "")))
    else:
        try:
            lines.append(describe_status(await gateway.query(message_id)))
        except GatewayError as exc:
            log.info("status query failed: %s", type(exc).__name__)
            lines.append(gateway_error(exc))
    await message.answer("\n".join(lines))
