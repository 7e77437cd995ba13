"""The fast tier's stand-in answers the real aiogram Bot as Telegram would — or the fast tests could pass on
answers Telegram never gives. Driven here by a real `Bot` over `RecordingSession`, no Dispatcher."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.types import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters

from tests.support.fast_client import TOKEN, FastTelegram, RecordingSession

CHAT = 1001


@pytest.fixture
async def telegram() -> FastTelegram:
    world = FastTelegram()
    world.user(CHAT, "Alice")
    return world


@pytest.fixture
async def bot(telegram: FastTelegram) -> AsyncIterator[Bot]:
    real = Bot(TOKEN, session=RecordingSession(telegram), default=DefaultBotProperties(parse_mode="HTML"))
    yield real
    await real.session.close()


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data=data)]])


async def test_send_and_edit_answer_with_messages_the_phone_would_show(bot: Bot, telegram: FastTelegram) -> None:
    sent = await bot.send_message(CHAT, "<b>Balance</b>: 1 &amp; 2", reply_markup=keyboard("bal"))
    assert isinstance(sent, Message) and sent.message_id == 1 and sent.text == "Balance: 1 & 2"
    assert sent.entities is not None and sent.entities[0].type == "bold"
    second = await bot.send_message(CHAT, "notice", reply_parameters=ReplyParameters(message_id=sent.message_id))
    assert second.message_id == 2
    edited = await bot.edit_message_text("<i>990</i>", chat_id=CHAT, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "990" and edited.reply_markup is None
    [first, reply] = telegram.chats[CHAT].bot_messages.values()
    assert first.plain == "990" and first.edited and first.versions[0].button_texts == ["Go"]
    assert reply.reply_to == 1
    assert [c.method for c in telegram.calls] == ["sendMessage", "sendMessage", "editMessageText"]
    assert telegram.calls[0].params["chat_id"] == CHAT and telegram.calls[0].params["parse_mode"] == "HTML"


async def test_what_telegram_refuses_is_refused(bot: Bot, telegram: FastTelegram) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(CHAT, "a < b & c")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "hi", reply_markup=keyboard("x" * 65))
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(4242, "hi")
    sent = await bot.send_message(CHAT, "same")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("same", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("other", chat_id=CHAT, message_id=99)
    telegram.chats[CHAT].blocked = True
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(CHAT, "hi")
    assert len(telegram.parse_errors()) == 3 and len(telegram.errors) == 7


async def test_button_answers_once_and_429_carries_retry_after(bot: Bot, telegram: FastTelegram) -> None:
    query = telegram.new_query_id()
    assert await bot.answer_callback_query(query, "Balance updated") is True
    assert (await telegram.toast(query)).text == "Balance updated"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query)
    telegram.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(CHAT, "hi")
    assert info.value.retry_after == 3
    assert await bot.send_message(CHAT, "hi")  # only the next call failed


async def test_menus_and_the_rest_answer_true(bot: Bot, telegram: FastTelegram) -> None:
    assert await bot.set_my_commands([BotCommand(command="send", description="Send an SMS")], language_code="en")
    assert telegram.commands[("default", "en")] == [{"command": "send", "description": "Send an SMS"}]
    assert await bot.send_chat_action(CHAT, "typing") is True
    me = await bot.me()
    assert me.id == bot.id and me.is_bot


async def test_a_dropped_connection_and_a_lost_answer_reach_the_bot_as_over_the_wire(
    bot: Bot, telegram: FastTelegram
) -> None:
    telegram.fail_next("sendMessage", drop=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(CHAT, "dropped")
    telegram.fail_next("sendMessage", error_code=502, execute=True, raw_body="<html>Bad Gateway</html>")
    with pytest.raises(ClientDecodeError):  # a proxy's HTML page, as AiohttpSession reads it
        await bot.send_message(CHAT, "sent, its answer lost")
    assert [m.plain for m in telegram.chats[CHAT].bot_messages.values()] == ["sent, its answer lost"]
