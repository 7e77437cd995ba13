"""The team's address book (issue 16): /contacts (paged, 📨 per contact, ➕ Add), /contact <name> <number> to save
or update, /contact <name> to show (📨 Send, 🗑 Delete), and a Telegram contact shared outside a flow (📨 Send SMS,
💾 Save contact). Any operator may add; the one who added a contact or an admin may delete it."""

from __future__ import annotations

import math

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

import bot.handlers.send as send
from bot.config import Settings
from bot.handlers.book_common import to_feed, who
from bot.handlers.cards import REPOINTS
from bot.services.directory import Directory, Locked, Refused, Saved
from bot.services.feed import TeamFeed
from bot.services.sending import SendingService
from bot.sms.names import clean_contact_name, name_key, name_problem, split_contact_args
from bot.sms.phone import PhoneError, PhoneProblem, normalize_phone
from bot.storage.db import Database
from bot.storage.directory import Contact
from bot.storage.models import Operator
from bot.ui import access_texts, card_texts, contact_keyboards, contact_texts, group_texts, keyboards, texts
from bot.ui.contact_callbacks import ContactAddCb, ContactPageCb, SharedCb
from bot.ui.contact_states import ContactFlow
from bot.ui.messages import answer_press, show

router = Router(name="contacts")
Teller = tuple[TeamFeed | None, I18n, Settings]  # what number_to_feed needs
PAGE = 10
SHARED_KEPT = 5  # shared contacts whose buttons still work


# --- /contacts -----------------------------------------------------------------------------------------------
async def page_of(directory: Directory, page: int) -> tuple[str, object]:
    total = await directory.repo.contact_count()
    if total == 0:
        return contact_texts.no_contacts(), contact_keyboards.add_only()
    pages = math.ceil(total / PAGE)
    page = min(page, pages - 1)
    contacts = await directory.repo.contacts(PAGE, page * PAGE)
    return contact_texts.contacts_page(contacts, page, pages), contact_keyboards.contacts_page(contacts, page, pages)


@router.message(Command("contacts"))
async def contacts(message: Message, directory: Directory) -> None:
    body, markup = await page_of(directory, 0)
    await message.answer(body, reply_markup=markup)  # type: ignore[arg-type]


@router.callback_query(ContactPageCb.filter())
async def contacts_page(callback: CallbackQuery, callback_data: ContactPageCb, directory: Directory, bot: Bot) -> None:
    body, markup = await page_of(directory, callback_data.page)
    await answer_press(callback)
    await show(callback, bot, body, markup)  # type: ignore[arg-type]


# --- /contact ------------------------------------------------------------------------------------------------
async def answer_saved(message: Message, result: Saved | Refused | Locked, typed: str, db: Database) -> None:
    if isinstance(result, Locked):
        await message.answer(contact_texts.locked(result.name, await who(db, result.added_by)))
        return
    if isinstance(result, Refused):
        await message.answer(contact_texts.name_refused(result))
        return
    await message.answer(contact_texts.saved(result, typed), reply_markup=contact_keyboards.card(result.contact))


async def show_card(message: Message, contact: Contact, db: Database, settings: Settings) -> None:
    body = contact_texts.card(contact, await who(db, contact.added_by), settings.tz)
    await message.answer(body, reply_markup=contact_keyboards.card(contact))


async def ask_repoint(message: Message, state: FSMContext, db: Database, found: Contact, msisdn: str) -> None:
    """What changes for others, asked once (bot.handlers.cards answers ✅ Change / ✖️ Keep)."""
    reliance = await db.directory.reliance("contact", found.id)
    body = card_texts.repoint(found.name, await who(db, found.added_by), found.msisdn, msisdn, reliance)
    asked = await message.answer(body, reply_markup=contact_keyboards.repoint(found.id))
    kept = dict((await state.get_data()).get(REPOINTS) or {})
    kept[str(asked.message_id)] = [found.id, msisdn]
    await state.update_data({REPOINTS: dict(list(kept.items())[-SHARED_KEPT:])})


def number_to_feed(saved: object, by: str, feed: TeamFeed | None, i18n: I18n, settings: Settings) -> None:
    """A contact's number changed: one line in the team feed."""
    if isinstance(saved, Saved) and saved.before is not None and saved.before.msisdn != saved.contact.msisdn:
        old, new, shown = saved.before.msisdn, saved.contact.msisdn, saved.contact.name
        to_feed(feed, i18n, settings, lambda: card_texts.feed_number(by, shown, old, new))


@router.message(Command("contact"))
async def contact(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    operator: Operator,
    db: Database,
    settings: Settings,
    directory: Directory,
    i18n: I18n,
    feed: TeamFeed | None = None,
) -> None:
    args = (command.args or "").strip()
    if not args:
        await message.answer(contact_texts.contact_usage())
        return
    split = split_contact_args(args)
    if split.problem is not None:
        await message.answer(texts.phone_problem(split.problem) + "\n" + contact_texts.contact_usage())
        return
    if split.msisdn is not None:
        exact = [c for c in await directory.find_contacts(split.name) if name_key(c.name) == name_key(split.name)]
        if exact and exact[0].added_by != operator.user_id and operator.is_admin and exact[0].msisdn != split.msisdn:
            await ask_repoint(message, state, db, exact[0], split.msisdn)  # an admin repoints another's contact
            return
        saved = await directory.save_contact(split.name, split.msisdn, operator.user_id, operator.is_admin)
        await answer_saved(message, saved, split.name, directory.db)
        number_to_feed(saved, await who(db, operator.user_id), feed, i18n, settings)
        return
    found = await directory.find_contacts(split.name)
    if len(found) == 1:
        await show_card(message, found[0], db, settings)
    elif found:
        await message.answer(contact_texts.several_contacts(split.name), reply_markup=contact_keyboards.several(found))
    elif (group := await directory.group_named(split.name)) is not None:  # a group's name: its card
        members = await directory.repo.members(group.id)
        await message.answer(group_texts.card(group, members), reply_markup=contact_keyboards.group_card(group))
    else:
        await message.answer(contact_texts.no_contact(split.name))


# --- ➕ Add: the name, then the number -------------------------------------------------------------------------
@router.callback_query(ContactAddCb.filter())
async def add_pressed(callback: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(ContactFlow.name)
    await state.update_data(contact_msisdn=None)
    await answer_press(callback)
    if isinstance(callback.message, Message):
        await callback.message.answer(contact_texts.ask_name(), reply_markup=keyboards.flow_cancel())


@router.message(ContactFlow.name, F.text, ~F.text.startswith("/"))
async def name_typed(
    message: Message, state: FSMContext, operator: Operator, db: Database, directory: Directory
) -> None:
    assert message.text is not None
    typed = clean_contact_name(message.text)
    problem = name_problem(typed)
    if problem is not None:
        await message.answer(contact_texts.name_refused(Refused(typed, problem)), reply_markup=keyboards.flow_cancel())
        return
    if await directory.group_named(typed) is not None:
        await message.answer(contact_texts.name_refused(Refused(typed, "group")), reply_markup=keyboards.flow_cancel())
        return
    shared = (await state.get_data()).get("contact_msisdn")
    if isinstance(shared, str):  # 💾 Save contact of a shared contact whose own name could not be used
        await state.clear()
        saved = await directory.save_contact(typed, shared, operator.user_id, operator.is_admin)
        await answer_saved(message, saved, typed, directory.db)
        return
    exact = [c for c in await directory.find_contacts(typed) if name_key(c.name) == name_key(typed)]
    if exact and not await directory.may_change(exact[0], operator.user_id, operator.is_admin):
        await state.clear()
        await message.answer(contact_texts.locked(exact[0].name, await who(db, exact[0].added_by)))
        return
    await state.set_state(ContactFlow.number)
    await state.update_data(contact_name=typed)
    await message.answer(
        contact_texts.ask_contact_number(typed, exact[0] if exact else None), reply_markup=keyboards.flow_cancel()
    )


@router.message(ContactFlow.name)
async def name_other(message: Message) -> None:
    await message.answer(contact_texts.add_hint(), reply_markup=keyboards.flow_cancel())


async def number_given(
    message: Message, state: FSMContext, operator: Operator, directory: Directory, raw: str, tell: Teller
) -> None:
    contact_name = (await state.get_data()).get("contact_name")
    if not isinstance(contact_name, str):
        await state.clear()
        await message.answer(contact_texts.contact_usage())
        return
    try:
        msisdn = normalize_phone(raw)
    except PhoneError as exc:
        await message.answer(texts.phone_problem(exc.reason), reply_markup=keyboards.flow_cancel())
        return
    await state.clear()
    saved = await directory.save_contact(contact_name, msisdn, operator.user_id, operator.is_admin)
    await answer_saved(message, saved, contact_name, directory.db)
    number_to_feed(saved, await who(directory.db, operator.user_id), *tell)


@router.message(ContactFlow.number, F.contact)
async def number_shared(
    message: Message,
    state: FSMContext,
    operator: Operator,
    directory: Directory,
    i18n: I18n,
    settings: Settings,
    feed: TeamFeed | None = None,
) -> None:
    assert message.contact is not None
    await number_given(message, state, operator, directory, message.contact.phone_number, (feed, i18n, settings))


@router.message(ContactFlow.number, F.text, ~F.text.startswith("/"))
async def number_typed(
    message: Message,
    state: FSMContext,
    operator: Operator,
    directory: Directory,
    i18n: I18n,
    settings: Settings,
    feed: TeamFeed | None = None,
) -> None:
    assert message.text is not None
    await number_given(message, state, operator, directory, message.text, (feed, i18n, settings))


@router.message(ContactFlow.number)
async def number_other(message: Message) -> None:
    await message.answer(texts.phone_problem(PhoneProblem.NOT_A_NUMBER), reply_markup=keyboards.flow_cancel())


# --- a Telegram contact shared outside a flow ------------------------------------------------------------------
@router.message(StateFilter(None), F.contact)
async def contact_shared(message: Message, state: FSMContext) -> None:
    assert message.contact is not None
    shared = message.contact
    try:
        msisdn = normalize_phone(shared.phone_number)
    except PhoneError as exc:
        await message.answer(texts.phone_problem(exc.reason))
        return
    shown = clean_contact_name(" ".join(filter(None, [shared.first_name, shared.last_name])))
    answer = await message.answer(contact_texts.shared(shown, msisdn), reply_markup=contact_keyboards.shared())
    kept = dict((await state.get_data()).get("shared") or {})
    kept[str(answer.message_id)] = [msisdn, shown]
    await state.update_data(shared=dict(list(kept.items())[-SHARED_KEPT:]))


@router.callback_query(SharedCb.filter())
async def shared_pressed(
    callback: CallbackQuery,
    callback_data: SharedCb,
    state: FSMContext,
    operator: Operator,
    directory: Directory,
    sending: SendingService,
    bot: Bot,
) -> None:
    message = callback.message
    kept = (await state.get_data()).get("shared") or {}
    entry = kept.get(str(message.message_id)) if isinstance(message, Message) and isinstance(kept, dict) else None
    if not isinstance(message, Message) or not isinstance(entry, list) or len(entry) != 2:
        await answer_press(callback, access_texts.no_longer_valid(), show_alert=True)
        return
    msisdn, shown = str(entry[0]), str(entry[1])
    await answer_press(callback)
    await show(callback, bot, message.html_text)  # the question stays readable, without its buttons
    if callback_data.action == "send":
        await send.ask_for_text(message, state, msisdn, sending)
        return
    if shown and name_problem(shown) is None and not await directory.name_taken(shown):
        saved = await directory.save_contact(shown, msisdn, operator.user_id, operator.is_admin)
        await answer_saved(message, saved, shown, directory.db)
        return
    await state.set_state(ContactFlow.name)  # its own name cannot be used (taken, a number, empty): ask one
    await state.update_data(contact_msisdn=msisdn)
    await message.answer(contact_texts.ask_name(taken=shown or None), reply_markup=keyboards.flow_cancel())
