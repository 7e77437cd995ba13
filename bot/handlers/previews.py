"""What a new preview does to the older ones (issue 24): it closes this operator's older open previews of the same
SMS (bot/services/previews.py), each of which says so; and a press on an expired preview opens one fresh preview.

Helpers of `send` and `batch_preview`, no router of their own.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.services import previews
from bot.services.sending import Outcome, SendingService
from bot.storage.batches import BatchRow
from bot.storage.db import Database
from bot.storage.models import SendRow
from bot.storage.sends import CANCELLED_BY_OPERATOR, REPLACED
from bot.ui import batch_texts, keyboards, texts
from bot.ui.messages import answer_press, edit, show

#: Why a preview was closed before its message was known, when its message should say so (the Cancel button and
#: a withdrawal edit it themselves).
SAID_ON_CLOSED = (REPLACED, CANCELLED_BY_OPERATOR)


async def show_closed(bot: Bot, closed: previews.Closed) -> None:
    """Each closed preview says why it can no longer send."""
    for row in closed.sends:
        if row.preview_message_id is not None:
            await edit(bot, row.chat_id, row.preview_message_id, texts.closed_preview(row))
    for batch in closed.batches:
        if batch.preview_message_id is not None:
            await edit(bot, batch.chat_id, batch.preview_message_id, batch_texts.closed(batch))


async def single_shown(bot: Bot, db: Database, row: SendRow, message_id: int) -> None:
    """The single preview `message_id` of `row` is out: it closes the older ones of the same SMS (also when a press
    overtook this, which keeps the preview's id). When a newer preview or /cancel closed `row` before its message
    was known, the message says so now (else it would look live)."""
    if await db.sends.set_preview(row.id, message_id) is None:
        current = await db.sends.get(row.id)
        if current is not None and current.state == "cancelled" and current.error_text in SAID_ON_CLOSED:
            await edit(bot, row.chat_id, message_id, texts.closed_preview(current))
    await show_closed(bot, await previews.close_older_than_send(db, row))


async def batch_shown(bot: Bot, db: Database, batch: BatchRow, message_id: int) -> None:
    """As `single_shown`, for a batch preview."""
    if await db.batches.set_preview(batch.id, message_id) is None:
        current = await db.batches.get(batch.id)
        if current is not None and current.state == "cancelled" and current.cancel_reason in SAID_ON_CLOSED:
            await edit(bot, batch.chat_id, message_id, batch_texts.closed(current))
    await show_closed(bot, await previews.close_older_than_batch(db, batch))


async def offer_fresh_preview(
    callback: CallbackQuery, sending: SendingService, settings: Settings, bot: Bot, outcome: Outcome
) -> None:
    """A press on a preview older than DRAFT_TTL_HOURS: it says so, and — for the one press that retired it — a
    fresh preview of the same SMS follows (four presses open one)."""
    hours = f"{settings.draft_ttl_hours:g}"
    await answer_press(callback, _("This preview is older than {hours} h and can no longer send.").format(hours=hours))
    if not outcome.renew:
        return
    old = outcome.row
    await show(
        callback, bot, _("⌛ Expired: this preview is older than {hours} h. Nothing was sent.").format(hours=hours)
    )
    fresh = await sending.renew(old)
    sent = await bot.send_message(
        old.chat_id,
        _("Here it is again, fresh:") + "\n\n" + texts.preview(fresh),
        reply_markup=keyboards.preview(fresh, settings.smska_sender_ids),
    )
    await single_shown(bot, sending.db, fresh, sent.message_id)
