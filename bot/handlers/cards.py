"""One card handler for a contact and a group (issue 25 point 3): 👤/👥 show, 📨 Send, 🗑 Delete. Deleting what
others rely on (a contact on duty or in groups, a group on duty) says what changes and asks once; a delete offers
↩️ Undo; an admin's change of a number someone else added is asked first (issue 23 point 3). Duty cleared or put
back is posted to the team feed."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.handlers.book_common import to_feed, who
from bot.handlers.recipients import ask_text_for
from bot.services.directory import Directory, Locked, Refused
from bot.services.feed import TeamFeed
from bot.sms.recipients import Recipient
from bot.storage.db import Database
from bot.storage.directory import Contact, Group, NameTaken
from bot.storage.models import Operator
from bot.ui import access_texts, card_texts, contact_keyboards, contact_texts, group_texts
from bot.ui.contact_callbacks import ContactCb, GroupCb
from bot.ui.messages import answer_press, show

router = Router(name="cards")
REPOINTS = "repoint"  # FSM data: the numbers an admin was asked to confirm, by the question's message id


async def card_of(kind: str, row: Contact | Group, db: Database, settings: Settings) -> tuple[str, object]:
    if isinstance(row, Contact):
        return contact_texts.card(row, await who(db, row.added_by), settings.tz), contact_keyboards.card(row)
    members = await db.directory.members(row.id)
    return group_texts.card(row, members), contact_keyboards.group_card(row)


async def recipients_of(directory: Directory, row: Contact | Group) -> list[Recipient]:
    if isinstance(row, Contact):
        return await directory.recipients_of_contact(row.id)
    return await directory.recipients_of_group(row.id)


@router.callback_query(ContactCb.filter())
@router.callback_query(GroupCb.filter())
async def card_pressed(
    callback: CallbackQuery,
    callback_data: ContactCb | GroupCb,
    state: FSMContext,
    operator: Operator,
    db: Database,
    settings: Settings,
    directory: Directory,
    i18n: I18n,
    bot: Bot,
    feed: TeamFeed | None = None,
) -> None:
    kind = "contact" if isinstance(callback_data, ContactCb) else "group"
    row_id = callback_data.contact_id if isinstance(callback_data, ContactCb) else callback_data.group_id
    action, message = callback_data.action, callback.message
    if not isinstance(message, Message):
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    if action == "undo":
        await undo(callback, kind, row_id, operator, db, settings, i18n, bot, feed)
        return
    row: Contact | Group | None = await (directory.repo.contact if kind == "contact" else directory.repo.group)(row_id)
    if row is None:
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    if action == "show":
        await answer_press(callback)
        body, markup = await card_of(kind, row, db, settings)
        await message.answer(body, reply_markup=markup)  # type: ignore[arg-type]
    elif action == "send":
        found = await recipients_of(directory, row)
        await answer_press(callback)
        if not found:
            await message.answer(contact_texts.empty_group(row.name))
            return
        await ask_text_for(message, state, found, db)
    elif action == "keep":
        await answer_press(callback)
        await show(callback, bot, card_texts.kept(row.name))
    elif action == "repoint" and isinstance(row, Contact):
        await repoint(callback, row, state, operator, db, settings, directory, i18n, bot, feed)
    elif not await directory.may_delete(row, operator.user_id, operator.is_admin):
        await answer_press(callback, contact_texts.not_yours(await who(db, row.added_by)), show_alert=True)
    else:
        reliance = await db.directory.reliance(kind, row.id)
        if action == "del" and reliance.any:  # asked once
            await answer_press(callback)
            await show(
                callback, bot, card_texts.relied_on(kind, row.name, reliance), contact_keyboards.sure(kind, row.id)
            )
            return
        gone = await (db.directory.delete_contact if kind == "contact" else db.directory.delete_group)(
            row.id, operator.user_id
        )
        if gone is None:
            await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
            return
        await answer_press(callback)
        await show(callback, bot, card_texts.deleted(kind, row.name, reliance), contact_keyboards.undo(kind, row.id))
        if reliance.on_duty:
            name = await who(db, operator.user_id)
            to_feed(feed, i18n, settings, lambda: card_texts.feed_duty(name, None))


async def undo(
    callback: CallbackQuery,
    kind: str,
    row_id: int,
    operator: Operator,
    db: Database,
    settings: Settings,
    i18n: I18n,
    bot: Bot,
    feed: TeamFeed | None,
) -> None:
    """↩️: only the one who deleted it, or an admin; once."""
    deleted_by = await db.directory.deleted_by(kind, row_id)
    if deleted_by is None or (deleted_by != operator.user_id and not operator.is_admin):
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    try:
        found = await db.directory.restore(kind, row_id, operator.user_id)
    except NameTaken:
        kept = await db.directory.deleted_name(kind, row_id)
        await answer_press(callback, card_texts.undo_name_taken(kept), show_alert=True)
        return
    if found is None:
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    await answer_press(callback)
    body, markup = await card_of(kind, found.row, db, settings)
    await show(callback, bot, card_texts.restored(found, found.row.name) + "\n\n" + body, markup)  # type: ignore[arg-type]
    if found.duty:
        name, shown = await who(db, operator.user_id), found.row.name
        to_feed(feed, i18n, settings, lambda: card_texts.feed_duty(name, shown))


async def repoint(
    callback: CallbackQuery,
    contact: Contact,
    state: FSMContext,
    operator: Operator,
    db: Database,
    settings: Settings,
    directory: Directory,
    i18n: I18n,
    bot: Bot,
    feed: TeamFeed | None,
) -> None:
    """✅ Change: the number this admin was asked about, for this contact, from this very question."""
    asked = (await state.get_data()).get(REPOINTS) or {}
    entry = asked.get(str(callback.message.message_id)) if callback.message and isinstance(asked, dict) else None
    if not isinstance(entry, list) or entry[:1] != [contact.id]:
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    await state.update_data({REPOINTS: {k: v for k, v in asked.items() if v != entry}})
    result = await directory.save_contact(contact.name, str(entry[1]), operator.user_id, operator.is_admin)
    if isinstance(result, Locked | Refused):  # pragma: no cover - an admin, a name that was saved before
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    await answer_press(callback)
    await show(callback, bot, contact_texts.saved(result, contact.name), contact_keyboards.card(result.contact))
    if result.before is not None and result.before.msisdn != result.contact.msisdn:
        name = await who(db, operator.user_id)
        old, new = result.before.msisdn, result.contact.msisdn
        to_feed(feed, i18n, settings, lambda: card_texts.feed_number(name, contact.name, old, new))
