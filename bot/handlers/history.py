"""/history: latest sends, newest first, a page at a time with ◀ ▶ buttons that edit in place."""

from __future__ import annotations

import html

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.callbacks import HistoryCb
from bot.config import Settings
from bot.sms.phone import format_phone
from bot.sms.status import DeliveryStatus
from bot.storage.db import Database
from bot.storage.models import Operator, SendRow
from bot.texts import status_icon, status_words, when

router = Router(name="history")
PAGE = 5
SNIPPET = 40


def row_state(row: SendRow) -> str:
    if row.state == "accepted" and row.status_code is not None:
        status = DeliveryStatus(row.status_code, row.status_name or "")
        if not row.final and row.final_at is not None:
            return "❔ " + _("no final status (unknown)")
        return f"{status_icon(status)} {status_words(status)}"
    if row.state == "failed":
        return "❌ " + _("not sent (gateway error {code})").format(code=row.error_code if row.error_code else "—")
    if row.state == "unknown":
        return "⚠️ " + _("unknown: may or may not have gone out")
    return "⏳ " + _("sending")


def snippet(text: str) -> str:
    flat = " ".join(text.split())
    return html.escape(flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…")


async def history_page(
    db: Database, operator: Operator, settings: Settings, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    who = None if operator.is_admin else operator.user_id
    total = await db.sends.history_count(user_id=who)
    if total == 0:
        return _("No SMS sent yet. /send to send one."), None
    pages = (total + PAGE - 1) // PAGE
    page = min(max(page, 0), pages - 1)
    rows = await db.sends.history(user_id=who, limit=PAGE, offset=page * PAGE)
    names = await db.people.names() if operator.is_admin else {}
    lines = [_("📜 SMS sent, newest first (page {page} of {pages}):").format(page=page + 1, pages=pages)]
    for row in rows:
        head = f"<b>{when(row.created_at, settings.tz)}</b> · {format_phone(row.msisdn)}"
        if operator.is_admin:
            head += " · " + html.escape(names.get(row.user_id) or str(row.user_id))
        lines.append("")
        lines.append(head)
        lines.append(f"{row_state(row)}" + (f" · <code>{row.gateway_id}</code>" if row.gateway_id else ""))
        lines.append(f"<i>{snippet(row.text)}</i>")
    buttons = []
    if page > 0:
        buttons.append(InlineKeyboardButton(text="◀", callback_data=HistoryCb(page=page - 1).pack()))
    if page < pages - 1:
        buttons.append(InlineKeyboardButton(text="▶", callback_data=HistoryCb(page=page + 1).pack()))
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None


@router.message(Command("history"))
async def history(message: Message, db: Database, operator: Operator, settings: Settings) -> None:
    text, markup = await history_page(db, operator, settings, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(HistoryCb.filter())
async def history_paging(
    callback: CallbackQuery, callback_data: HistoryCb, db: Database, operator: Operator, settings: Settings
) -> None:
    text, markup = await history_page(db, operator, settings, callback_data.page)
    await callback.answer()
    if isinstance(callback.message, Message):
        try:
            await callback.message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:
                raise
