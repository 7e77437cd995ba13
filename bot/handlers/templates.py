"""/template <name>: <text> saves or replaces, /template <name> shows (Send, Delete), /templates lists them; the
template buttons of the guided text step. `#name` in /send is read by bot.services.templates.final_text."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

import bot.handlers.recipients as recipients
from bot.config import Settings
from bot.handlers.send import show_drafts, show_preview
from bot.services import templates
from bot.services.directory import Directory
from bot.services.sending import SendingService
from bot.sms.templates import Refused, Save, key, parse
from bot.storage.db import Database
from bot.storage.models import Operator
from bot.storage.templates import NotYours
from bot.ui import contact_texts, template_keyboards, template_texts, texts
from bot.ui.messages import answer_press, show
from bot.ui.states import SendFlow
from bot.ui.template_keyboards import TemplateCb, TemplatePageCb

router = Router(name="templates")


@router.message(Command("template"))
async def template_command(
    message: Message, command: CommandObject, db: Database, operator: Operator, settings: Settings
) -> None:
    asked = parse(command.args)
    if isinstance(asked, Refused):
        await message.answer(template_texts.refused(asked))
        return
    if isinstance(asked, Save):
        saved = await db.templates.save(
            key(asked.name), asked.name, asked.text, operator.user_id, is_admin=operator.is_admin
        )
        if isinstance(saved, NotYours):
            saver = (await db.people.names()).get(saved.template.saved_by, "") or str(saved.template.saved_by)
            await message.answer(template_texts.locked(saved.template, saver))
            return
        await message.answer(template_texts.saved(saved))
        return
    found = await db.templates.by_key(key(asked.name))
    if found is None:
        shown = await templates.page(db, 0)
        more = shown.total - len(shown.templates)
        await message.answer(template_texts.not_found(asked.name, [t.name for t in shown.templates], more))
        return
    saver = (await db.people.names()).get(found.saved_by, "")
    await message.answer(
        template_texts.card(found, saver, settings.tz),
        reply_markup=template_keyboards.card(found, templates.may_delete(found, operator)),
    )


@router.message(Command("templates"))
async def list_templates(message: Message, db: Database) -> None:
    shown = await templates.page(db, 0)
    await message.answer(template_texts.page(shown), reply_markup=template_keyboards.page(shown))


@router.callback_query(TemplatePageCb.filter())
async def list_page(callback: CallbackQuery, callback_data: TemplatePageCb, db: Database, bot: Bot) -> None:
    shown = await templates.page(db, callback_data.page)
    await answer_press(callback)
    await show(callback, bot, template_texts.page(shown), template_keyboards.page(shown))


@router.callback_query(TemplateCb.filter(F.action == "send"))
async def send_template(
    callback: CallbackQuery, callback_data: TemplateCb, state: FSMContext, db: Database, directory: Directory
) -> None:
    """Starts a send with the template's text: the guided number step, the text kept (as after a bad number)."""
    found = await templates.picked(db, callback_data.template_id)
    if found is None or not isinstance(callback.message, Message):
        await answer_press(callback, template_texts.gone(), show_alert=True)
        return
    await answer_press(callback)
    await state.clear()
    # the guided number step with its one-tap recipients; the template's text is kept for whoever is picked
    await recipients.ask_number(
        callback.message, state, directory, callback.from_user.id, note=template_texts.asks_number(found)
    )
    await state.update_data(text=found.text)


@router.callback_query(TemplateCb.filter(F.action == "use"))
async def use_at_text_step(
    callback: CallbackQuery,
    callback_data: TemplateCb,
    state: FSMContext,
    sending: SendingService,
    settings: Settings,
    locale: str,
    bot: Bot,
) -> None:
    """One tap at the guided text step: the preview with the template's text."""
    data = await state.get_data()
    msisdn, message = data.get("msisdn"), callback.message
    picked = await recipients.has_recipients(message, state) if isinstance(message, Message) else False
    if (
        await state.get_state() != SendFlow.text.state
        or not (isinstance(msisdn, str) or isinstance(picked, dict))
        or not isinstance(message, Message)
        or data.get("text_question") != message.message_id  # the question of an earlier step
    ):
        await answer_press(callback, _("This question is no longer open."), show_alert=True)
        return
    found = await templates.picked(sending.db, callback_data.template_id)
    if found is None:
        await answer_press(callback, template_texts.gone(), show_alert=True)
        return
    await answer_press(callback)
    # The question stays readable, without its buttons, and says which template was taken.
    if isinstance(picked, dict):  # the text step of recipients picked by name or button (one or several)
        found_for = picked["recipients"]
        await show(callback, bot, contact_texts.ask_text_for(found_for) + "\n" + template_texts.chosen(found))
        await show_drafts(message, state, sending, settings, found_for, found.text, locale, callback.from_user.id)
        return
    assert isinstance(msisdn, str)
    await show(callback, bot, texts.ask_text(msisdn) + "\n" + template_texts.chosen(found))
    await show_preview(message, state, sending, settings, msisdn, found.text, locale, user_id=callback.from_user.id)


@router.callback_query(TemplateCb.filter(F.action == "delete"))
async def delete_template(
    callback: CallbackQuery, callback_data: TemplateCb, db: Database, operator: Operator, bot: Bot
) -> None:
    found = await db.templates.get(callback_data.template_id)
    if found is None:
        await answer_press(callback, template_texts.gone(), show_alert=True)
        return
    if not templates.may_delete(found, operator):  # a forged press, or the button of someone else's card
        await answer_press(callback, template_texts.not_yours(found), show_alert=True)
        return
    gone = await db.templates.delete(found.id, operator.user_id)
    if gone is None:
        await answer_press(callback, template_texts.gone(), show_alert=True)
        return
    await answer_press(callback)
    await show(callback, bot, template_texts.deleted(gone))
