"""/history: latest sends, newest first, a page at a time with ◀ ▶ buttons that edit in place."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.storage.db import Database
from bot.storage.escalation import ESCALATION_USER
from bot.storage.models import Operator
from bot.ui import escalation_texts, keyboards, texts
from bot.ui.callbacks import HistoryCb
from bot.ui.messages import show

router = Router(name="history")
PAGE = 5


async def history_page(
    db: Database, operator: Operator, settings: Settings, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    who = None if operator.is_admin else operator.user_id
    total = await db.sends.history_count(user_id=who)
    if total == 0:
        return texts.no_history(), None
    pages = (total + PAGE - 1) // PAGE
    page = min(max(page, 0), pages - 1)
    rows = await db.sends.history(user_id=who, limit=PAGE, offset=page * PAGE)
    names = await db.people.names() if operator.is_admin else None  # admins see who sent each SMS
    if names is not None:
        names[ESCALATION_USER] = escalation_texts.sender()  # an auto-SMS (issue 28)
    return texts.history_page(rows, page, pages, settings.tz, names), keyboards.history_paging(page, pages)


@router.message(Command("history"))
async def history(message: Message, db: Database, operator: Operator, settings: Settings) -> None:
    text, markup = await history_page(db, operator, settings, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(HistoryCb.filter())
async def history_paging(
    callback: CallbackQuery,
    callback_data: HistoryCb,
    db: Database,
    operator: Operator,
    settings: Settings,
    bot: Bot,
) -> None:
    text, markup = await history_page(db, operator, settings, callback_data.page)
    await callback.answer()
    await show(callback, bot, text, markup)
