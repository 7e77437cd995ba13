"""/balance with a Refresh button that edits the answer in place."""

from __future__ import annotations

import logging
from datetime import datetime

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.gateway.client import SmskaClient
from bot.gateway.errors import GatewayError
from bot.ui import keyboards, texts
from bot.ui.callbacks import BalanceCb
from bot.ui.messages import answer_press, show, working

router = Router(name="balance")
log = logging.getLogger(__name__)


async def balance_text(gateway: SmskaClient, settings: Settings) -> str:
    try:
        amount = await gateway.balance()
    except GatewayError as exc:
        log.info("balance query failed: %s", type(exc).__name__)
        return texts.gateway_error(exc)
    return texts.balance(amount, datetime.now(settings.tz))


@router.message(Command("balance"))
async def balance(message: Message, gateway: SmskaClient, settings: Settings, bot: Bot) -> None:
    async with working(bot, message.chat.id):
        text = await balance_text(gateway, settings)
    await message.answer(text, reply_markup=keyboards.balance_refresh())


@router.callback_query(BalanceCb.filter())
async def refresh(callback: CallbackQuery, gateway: SmskaClient, settings: Settings, bot: Bot) -> None:
    # The toast first: the sign of work while the gateway answers (and, when the balance has not changed, the
    # only visible sign that the press did something).
    await answer_press(callback, _("Checking the balance…"))
    text = await balance_text(gateway, settings)
    await show(callback, bot, text, keyboards.balance_refresh())
