"""The preview of one send to several recipients (`send.show_drafts` with more than one): every recipient, the
parts per SMS and the total, Send to N / Cancel (+ the sender). Nothing leaves before the press (bot/handlers/
batch.py)."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.handlers.previews import batch_shown
from bot.services import results
from bot.services.batch import new_batch
from bot.services.batch_view import BatchView, unique
from bot.services.sending import MAX_PARTS, SendingService, too_long
from bot.sms.clean import clean_sms_text
from bot.sms.phone import format_phone
from bot.sms.recipients import Recipient
from bot.ui import batch_keyboards, batch_texts, result_texts, texts


async def show_batch(
    message: Message,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    recipients: list[Recipient],
    text: str,
    locale: str,
    user_id: int | None = None,
    origin_id: int | None = None,
) -> bool:
    """The batch preview; False only when `origin_id`'s 🔁 Resend has a preview open already (a double press opens
    one)."""
    text = clean_sms_text(text)
    recipients = unique(recipients)
    if not recipients:
        await message.answer(texts.ask_number())
        return True
    if len(recipients) > settings.max_recipients:
        await message.answer(
            _("❌ Too many recipients: {count}. One send goes to at most {most}; split the list.").format(
                count=len(recipients), most=settings.max_recipients
            )
        )
        return True
    if not text.strip():
        await message.answer(
            _("✏️ The text is missing. Example: <code>/send +79041764995, +79041764996 Server db1 is down</code>")
        )
        return True
    parts = too_long(text)
    if parts is not None:
        await message.answer(texts.too_long(parts, MAX_PARTS))
        return True
    await state.clear()
    if user_id is None:
        user_id = message.from_user.id if message.from_user else message.chat.id
    batch = await new_batch(
        sending.db,
        settings,
        user_id=user_id,
        chat_id=message.chat.id,
        recipients=recipients,
        text=text,
        locale=locale,
        origin_id=origin_id,
    )
    if batch is None:
        return False
    view = BatchView(batch, await sending.db.batches.members(batch.id))
    hit = await sending.limits.hit(user_id, view.total_parts)
    markup = batch_keyboards.preview(batch, len(view.members), settings.smska_sender_ids, can_send=hit is None)
    body = batch_texts.preview(view, hit)
    seen = await results.recent_sends(sending.db, settings, [m.msisdn for m in view.members])
    if seen:  # the duplicate guard: sending stays possible
        shown = [m.name or format_phone(m.msisdn) for m in view.members if m.msisdn in seen]
        body += "\n\n" + result_texts.duplicates_in_batch(shown[:10], settings.duplicate_window_minutes)
    sent = await message.answer(body, reply_markup=markup)
    if hit is not None:
        await sending.limits.tell_admins(user_id, hit)
    if message.bot is not None:  # older open previews of the same SMS close
        await batch_shown(message.bot, sending.db, batch, sent.message_id)
    else:  # pragma: no cover - aiogram binds the bot to every message it hands over
        await sending.db.batches.set_preview(batch.id, sent.message_id)
    return True
