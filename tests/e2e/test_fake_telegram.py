"""The fake Telegram Bot API server, driven by the REAL aiogram Bot and Dispatcher over loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from aiogram.utils.backoff import BackoffConfig
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.devkit.telegram import NOT_MODIFIED, FakeTelegram, FakeTelegramTimeout
from bot.devkit.telegram.html_mode import HtmlParseError, parse_html

FAST_BACKOFF = BackoffConfig(min_delay=0.01, max_delay=0.05, factor=1.5, jitter=0.0)


def menu_markup(label: str = "Refresh") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data="refresh")],
            [
                InlineKeyboardButton(text="Cancel sending", callback_data="cancel"),
                InlineKeyboardButton(text="Docs", url="https://example.org/docs"),
            ],
        ]
    )


def make_router(seen: list[Any]) -> Router:
    router = Router()
    balance = [1000]

    @router.message(Command("start"))
    async def start(message: Message, command: CommandObject) -> None:
        seen.append(message)
        await message.answer(f"started: {command.args or '-'}")

    @router.message(Command("menu"))
    async def menu(message: Message) -> None:
        await message.answer("Balance: <b>1000</b> ₽", reply_markup=menu_markup())

    @router.message(F.text)
    async def echo(message: Message) -> None:
        seen.append(message)
        assert message.text is not None
        await message.answer(f"echo: {message.text}")

    @router.callback_query(F.data == "refresh")
    async def refresh(query: CallbackQuery) -> None:
        seen.append(query)
        assert isinstance(query.message, Message)
        balance[0] -= 2
        await query.message.edit_text(f"Balance: <b>{balance[0]}</b> ₽", reply_markup=menu_markup("Refresh again"))
        await query.answer("Updated", show_alert=True)

    @router.callback_query()
    async def other(query: CallbackQuery) -> None:
        seen.append(query)
        await query.answer(f"got {query.data}")

    return router


@pytest.fixture(autouse=True)
async def no_task_leaks() -> AsyncIterator[None]:
    yield
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert not leftover, f"tasks leaked: {leftover}"


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeTelegram) -> AsyncIterator[Bot]:
    bot = server.make_bot()
    yield bot
    await bot.session.close()


@pytest.fixture
def seen() -> list[Any]:
    return []


@pytest.fixture
async def polling(server: FakeTelegram, bot: Bot, seen: list[Any]) -> AsyncIterator[Dispatcher]:
    dp = Dispatcher()
    dp.include_router(make_router(seen))
    task = asyncio.create_task(
        dp.start_polling(
            bot, handle_signals=False, polling_timeout=5, close_bot_session=False, backoff_config=FAST_BACKOFF
        )
    )
    await server.wait_for_poll()
    yield dp
    await dp.stop_polling()
    await asyncio.wait_for(task, 5)


# -- polling end to end --------------------------------------------------------------------------------


async def test_message_gets_an_answer(server: FakeTelegram, polling: Dispatcher, seen: list[Any]) -> None:
    anna = server.user(1001, "Anna", language_code="ru")
    sent = await anna.send("hello there")
    assert sent["chat"] == {"id": 1001, "type": "private", "first_name": "Anna"}
    reply = await anna.next_message()
    assert reply.text == "echo: hello there"
    assert reply.plain == "echo: hello there"
    assert reply.chat_id == 1001 and reply.sender["is_bot"] is True
    incoming = seen[0]
    assert isinstance(incoming, Message)
    assert incoming.from_user is not None and incoming.from_user.language_code == "ru"
    assert incoming.message_id == sent["message_id"] and reply.message_id > sent["message_id"]


async def test_command_gets_bot_command_entity(server: FakeTelegram, polling: Dispatcher, seen: list[Any]) -> None:
    anna = server.user()
    sent = await anna.send("/start deep-link")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert (await anna.next_message()).text == "started: deep-link"
    await anna.send("/start@smska_test_bot")
    assert (await anna.next_message()).text == "started: -"


async def test_button_press_reaches_callback_handler(
    server: FakeTelegram, polling: Dispatcher, seen: list[Any]
) -> None:
    anna = server.user()
    await anna.send("/menu")
    menu = await anna.next_message()
    assert menu.plain == "Balance: 1000 ₽"
    assert menu.entities == [{"type": "bold", "offset": 9, "length": 4}]
    assert menu.button_texts == ["Refresh", "Cancel sending", "Docs"]
    assert menu.buttons[1][1] == ("Docs", "https://example.org/docs")
    assert server.render(menu) == (
        "Balance: 1000 ₽\n  [1] Refresh\n  [2] Cancel sending  [3] Docs <https://example.org/docs>"
    )

    query_id = await anna.press(menu, "Refresh")
    answer = await server.callback_answer(query_id)
    assert (answer.text, answer.show_alert) == ("Updated", True)
    event = await anna.next_event()
    assert event.kind == "edit" and event.message is menu
    assert server.render(event).startswith(f"(edited #{menu.message_id}) Balance: 998 ₽\n  [1] Refresh again")
    assert anna.last_message_with_buttons is menu
    assert menu.plain == "Balance: 998 ₽" and menu.edited
    assert [v.plain for v in menu.versions] == ["Balance: 1000 ₽", "Balance: 998 ₽"]
    query = seen[-1]
    assert isinstance(query, CallbackQuery) and isinstance(query.message, Message)
    assert query.message.text == "Balance: 1000 ₽"  # the version the person pressed

    # by unique substring, by callback_data, by number
    await server.callback_answer(await anna.press(menu, "cancel"))
    await server.callback_answer(await anna.press(menu.message_id, "refresh"))
    assert (await anna.next_event()).kind == "edit"
    assert [a.text for a in server.callback_answers] == ["Updated", "got cancel", "Updated"]
    with pytest.raises(AssertionError, match="not a callback button"):
        await anna.press(menu, 3)
    with pytest.raises(AssertionError, match="no button 'Approve'"):
        await anna.press(menu, "Approve")


async def test_forged_press_and_double_answer(
    server: FakeTelegram, bot: Bot, polling: Dispatcher, seen: list[Any]
) -> None:
    anna = server.user()
    query_id = await anna.press_data(424242, "drop-table")
    answer = await server.callback_answer(query_id)
    assert answer.text == "got drop-table"
    query = seen[-1]
    assert isinstance(query.message, InaccessibleMessage) and query.message.message_id == 424242
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)


async def test_long_poll_returns_promptly(server: FakeTelegram, polling: Dispatcher) -> None:
    # polling_timeout is 5 s and a getUpdates is waiting: the update must not wait for it to expire
    anna = server.user()
    await server.wait_for_poll()
    started = time.monotonic()
    await anna.send("ping")
    await anna.next_message(timeout=2)
    assert time.monotonic() - started < 1.0


async def test_polling_survives_bad_gateway(server: FakeTelegram, polling: Dispatcher) -> None:
    server.fail_next_poll()
    anna = server.user()
    await anna.send("still there?")  # wakes the waiting poll; the bot's next getUpdates gets 502
    assert (await anna.next_message()).text == "echo: still there?"
    await anna.send("again")
    assert (await anna.next_message()).text == "echo: again"
    assert any(e.method == "getUpdates" and e.error_code == 502 for e in server.errors)


async def test_events_and_wait_for(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    first = await bot.send_message(anna.user_id, "one")
    await bot.edit_message_text("one, edited", chat_id=anna.user_id, message_id=first.message_id)
    await bot.send_message(anna.user_id, "two")
    await bot.delete_message(anna.user_id, first.message_id)
    assert (await anna.next_message()).plain == "one, edited"  # current state of the first new message
    kinds = [(e.kind, e.plain) for e in anna.unseen_events()]
    assert kinds == [("edit", "one, edited"), ("message", "two"), ("delete", "one, edited")]
    assert (await anna.next_event()).kind == "edit"
    found = await anna.wait_for(lambda m: m.deleted)
    assert found.message_id == first.message_id and anna.unseen_events() == []
    assert [m.plain for m in anna.messages] == ["one, edited", "two"] and anna.last_message is not None
    assert anna.last_message.plain == "two"

    with pytest.raises(FakeTelegramTimeout) as caught:
        await anna.next_message(timeout=0.05)
    assert isinstance(caught.value, TimeoutError) and isinstance(caught.value, AssertionError)
    assert "the next new message" in str(caught.value) and "'two'" in str(caught.value)
    assert "never called getUpdates" in str(caught.value)


async def test_wait_idle(server: FakeTelegram, polling: Dispatcher) -> None:
    anna = server.user()
    for word in ("a", "b", "c"):
        await anna.send(word)
    await server.wait_idle(quiet=0.1, timeout=5)
    assert [m.plain for m in anna.messages] == ["echo: a", "echo: b", "echo: c"]


# -- Telegram's refusals -------------------------------------------------------------------------------


async def test_edit_not_modified_and_not_found(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    sent = await bot.send_message(anna.user_id, "<b>Balance</b>", reply_markup=menu_markup())
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.edit_message_text(
            "<strong>Balance</strong>", chat_id=anna.user_id, message_id=sent.message_id, reply_markup=menu_markup()
        )
    assert caught.value.message == NOT_MODIFIED
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=anna.user_id, message_id=sent.message_id, reply_markup=menu_markup()
        )
    # no reply_markup in an edit removes the keyboard, which IS a modification (as in Telegram)
    edited = await bot.edit_message_text("<b>Balance</b>", chat_id=anna.user_id, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.reply_markup is None and edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_text("x", chat_id=anna.user_id, message_id=9999)
    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(5555, "nobody there")
    assert await bot.delete_message(anna.user_id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(anna.user_id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("gone", chat_id=anna.user_id, message_id=sent.message_id)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'Character "&" is reserved'),
        ("&nbsp;", "Unsupported HTML entity"),
        ("<span>x</span>", 'must have class "tg-spoiler"'),
        ("<br/>", "Unsupported start tag"),
    ],
)
async def test_invalid_html_is_rejected(server: FakeTelegram, bot: Bot, text: str, detail: str) -> None:
    anna = server.user()
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(anna.user_id, text)
    assert caught.value.message.startswith("Bad Request: can't parse entities: ")
    assert detail in caught.value.message
    assert anna.messages == []


async def test_text_limits_and_buttons(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    exactly = await bot.send_message(anna.user_id, "<b>" + "я" * 4096 + "</b>")  # 4096 after parsing
    assert exactly.text is not None and len(exactly.text) == 4096
    with pytest.raises(TelegramBadRequest, match=r"^Telegram server says - Bad Request: message is too long$"):
        await bot.send_message(anna.user_id, "x" * 4097)
    for empty in ("", "   ", "<b></b>"):
        with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
            await bot.send_message(anna.user_id, empty)
    too_much_data = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]])
    with pytest.raises(TelegramBadRequest, match="Bad Request: BUTTON_DATA_INVALID"):
        await bot.send_message(anna.user_id, "hi", reply_markup=too_much_data)
    just_fits = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="я" * 32)]])
    await bot.send_message(anna.user_id, "hi", reply_markup=just_fits)


async def test_blocked_user(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    await anna.block_bot()
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(anna.user_id, "hello?")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(anna.user_id, "typing")
    update = Update.model_validate(server.updates[-1], context={"bot": bot})
    assert update.my_chat_member is not None and update.my_chat_member.new_chat_member.status == "kicked"
    await anna.unblock_bot()
    await bot.send_message(anna.user_id, "welcome back")


async def test_retry_after_injection(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    server.fail_next("sendMessage")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(anna.user_id, "hi")
    assert caught.value.retry_after == 1
    assert "Too Many Requests: retry after 1" in caught.value.message  # aiogram rewords it around the original
    server.fail_next("sendMessage", retry_after=3, times=2)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(anna.user_id, "hi")
        assert caught.value.retry_after == 3
    await bot.send_message(anna.user_id, "hi")
    assert [m.plain for m in anna.messages] == ["hi"]
    assert len(server.calls_to("sendMessage")) == 4


async def test_dropped_connection(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    server.fail_next("sendMessage", drop=True)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(anna.user_id, "lost")
    assert anna.messages == []
    server.fail_next("sendMessage", drop=True, execute=True)  # sent, but the answer never came
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(anna.user_id, "sent anyway")
    assert [m.plain for m in anna.messages] == ["sent anyway"]
    assert (await bot.get_me()).username == "smska_test_bot"


async def test_set_my_commands_per_language(server: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="send", description="Отправить SMS")], language_code="ru")
    await bot.set_my_commands([BotCommand(command="send", description="Send an SMS")], language_code="en")
    await bot.set_my_commands(
        [BotCommand(command="balance", description="Balance")], scope=BotCommandScopeAllPrivateChats()
    )
    assert server.get_commands(language_code="ru") == [{"command": "send", "description": "Отправить SMS"}]
    assert server.get_commands("default", "en") == [{"command": "send", "description": "Send an SMS"}]
    assert server.get_commands({"type": "all_private_chats"}) == [{"command": "balance", "description": "Balance"}]
    assert set(server.commands) == {("default", "ru"), ("default", "en"), ("all_private_chats", "")}
    fetched = await bot.get_my_commands(language_code="en")
    assert [c.description for c in fetched] == ["Send an SMS"]
    await bot.delete_my_commands(language_code="ru")
    assert server.get_commands(language_code="ru") is None
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])


# -- getUpdates semantics ------------------------------------------------------------------------------


async def test_get_updates_offset_limit_and_allowed_updates(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    for word in ("a", "b", "c"):
        await anna.send(word)
    first_two = await bot.get_updates(limit=2)
    assert [u.message.text for u in first_two if u.message] == ["a", "b"]
    again = await bot.get_updates()  # nothing confirmed yet
    assert len(again) == 3
    rest = await bot.get_updates(offset=first_two[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["c"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == []
    assert server.pending_updates == []

    await bot.get_updates(allowed_updates=["callback_query"])  # from now on messages are not wanted
    await anna.send("filtered out")
    query_id = await anna.press_data(1, "x")
    updates = await bot.get_updates()
    assert [u.callback_query.id for u in updates if u.callback_query] == [query_id] and len(updates) == 1
    assert server.dropped_updates[-1]["message"]["text"] == "filtered out"


async def test_long_poll_times_out_empty_and_conflicts(server: FakeTelegram) -> None:
    url = f"{server.url}/bot{server.token}/getUpdates"
    async with aiohttp.ClientSession() as http:
        started = time.monotonic()
        async with http.post(url, data={"timeout": "0.2"}) as response:
            assert await response.json() == {"ok": True, "result": []}
        assert 0.15 < time.monotonic() - started < 2

        async def poll() -> tuple[int, Any]:
            async with http.post(url, data={"timeout": "5"}) as response:
                return response.status, await response.json()

        first = asyncio.create_task(poll())
        await server.wait_for_poll()
        second = asyncio.create_task(poll())
        status, body = await asyncio.wait_for(first, 2)
        assert status == 409 and "terminated by other getUpdates request" in body["description"]
        await server.user().send("wake up")
        status, body = await asyncio.wait_for(second, 2)
        assert status == 200 and body["result"][0]["message"]["text"] == "wake up"


async def test_http_surface(server: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/bot999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.get(f"{server.url}/bot{server.token}/sendCarrierPigeon") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found: method not found"
        anna = server.user()
        body = {"chat_id": anna.user_id, "text": "<i>json</i>", "parse_mode": "HTML", "disable_notification": True}
        async with http.post(f"{server.url}/bot{server.token}/SENDMESSAGE", json=body) as response:
            result = (await response.json())["result"]
        assert result["text"] == "json" and result["entities"][0]["type"] == "italic"
        assert server.calls[-1].method == "sendMessage" and server.calls[-1].params["disable_notification"] is True
        assert anna.messages[0].disable_notification
        async with http.get(f"{server.url}/bot{server.token}/getMe") as response:
            assert (await response.json())["result"]["username"] == "smska_test_bot"
        form = aiohttp.FormData()
        form.add_field("chat_id", str(anna.user_id))
        form.add_field("text", "with a file")
        form.add_field("attachment", b"%PDF-1.4", filename="a.pdf", content_type="application/pdf")
        async with http.post(f"{server.url}/bot{server.token}/sendMessage", data=form) as response:
            assert response.status == 200
        upload = server.calls[-1].params["attachment"]
        assert (upload.filename, upload.data) == ("a.pdf", b"%PDF-1.4")


async def test_aiogram_form_encoding_is_decoded(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    question = await anna.send("what is my balance?")
    await bot.send_message(
        anna.user_id,
        "answer",
        reply_parameters=ReplyParameters(message_id=question["message_id"]),
        disable_notification=True,
    )
    call = server.calls_to("sendMessage")[-1]
    assert call.params["chat_id"] == anna.user_id and call.params["disable_notification"] is True
    assert call.params["reply_parameters"]["message_id"] == question["message_id"]
    assert anna.messages[0].reply_to == question["message_id"]
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(anna.user_id, "x", reply_parameters=ReplyParameters(message_id=777))


# -- people, updates and keyboards ---------------------------------------------------------------------


async def test_simulated_updates_are_valid_for_aiogram(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user(1001, "Anna", username="anna_oncall")
    group = server.group(-1001234567890, "On-call")
    contact = await anna.send_contact("+7 904 176-49-95", user_id=anna.user_id)
    await anna.send_sticker()
    await anna.send_photo(caption="look")
    await anna.send_document("report.csv", "text/csv")
    await anna.send_voice()
    await anna.edit(contact, "changed my mind")
    await anna.inline_query("79")
    await anna.send("/send@smska_test_bot", chat=group)
    await group.add_bot(anna, status="administrator")
    await group.remove_bot(anna)
    await bot.get_updates(
        allowed_updates=["message", "edited_message", "inline_query", "chat_member", "my_chat_member"]
    )
    await group.join(anna)
    parsed = [Update.model_validate(u, context={"bot": bot}) for u in server.updates]
    kinds = [u.event_type for u in parsed]
    assert kinds == ["message"] * 5 + ["edited_message", "inline_query", "message"] + ["my_chat_member"] * 2 + [
        "chat_member"
    ]
    assert parsed[0].message is not None and parsed[0].message.contact is not None
    assert parsed[0].message.contact.user_id == 1001
    assert parsed[1].message is not None and parsed[1].message.sticker is not None
    assert parsed[7].message is not None and parsed[7].message.chat.type == "supergroup"
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.chat_id, "hello group")


async def test_reply_keyboard(server: FakeTelegram, bot: Bot) -> None:
    anna = server.user()
    keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Yes"), KeyboardButton(text="No")]])
    asked = await bot.send_message(anna.user_id, "Send it?", reply_markup=keyboard)
    assert asked.reply_markup is None  # Telegram returns only inline keyboards in a Message
    assert anna.reply_keyboard == [["Yes", "No"]]
    assert server.render(anna.messages[0]) == "Send it?\n  ⌨ «Yes»  «No»"
    await bot.send_message(anna.user_id, "OK", reply_markup=ReplyKeyboardRemove())
    assert anna.reply_keyboard is None


async def test_rate_accounting(server: FakeTelegram, bot: Bot) -> None:
    anna, boris = server.user(1001, "Anna"), server.user(1002, "Boris")
    for person in (anna, boris, anna):
        await bot.send_message(person.user_id, "note")
    assert server.max_rate() == 3
    assert server.max_rate(chat_id=anna.user_id) == 2
    assert server.max_rate(per_chat=True) == 2
    with pytest.raises(ValueError, match="window"):
        server.max_rate(window=0.0)
    stamps = [c.time for c in server.calls_to("sendMessage")]
    assert stamps == sorted(stamps) and len(server.sent_messages) == 3


async def test_webhook_mode(server: FakeTelegram, bot: Bot, seen: list[Any]) -> None:
    dp = Dispatcher()
    dp.include_router(make_router(seen))

    @dp.message(Command("quick"))
    async def quick(message: Message) -> Any:  # answered in the webhook response itself
        return message.answer("quick reply")

    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="s3cret").register(app, "/hook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        anna = server.user()
        await anna.send("via webhook")
        assert (await anna.next_message()).plain == "echo: via webhook"
        await anna.send("/quick")
        assert (await anna.next_message()).plain == "quick reply"
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0

        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="wrong0")  # bot rejects: 401
        await anna.send("refused")
        await server._signal.wait_until(lambda: True if server.webhook_deliveries[-1][2] == 401 else None, 5)
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1 and info.last_error_message is not None
        assert await bot.delete_webhook()
        updates = await bot.get_updates()
        assert [u.message.text for u in updates if u.message] == ["refused"]
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


# -- the HTML parser on its own ------------------------------------------------------------------------


def test_parse_html_entities_use_utf16_offsets() -> None:
    parsed = parse_html('😀 <b>жирный</b> <a href="https://x.org/?a=1&amp;b=2">link</a> &lt;3')
    assert parsed.plain == "😀 жирный link <3"
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "text_link", "offset": 10, "length": 4, "url": "https://x.org/?a=1&b=2"},
    ]
    code = parse_html('<pre><code class="language-python">print(1)</code></pre>')
    assert code.entities == [{"type": "pre", "offset": 0, "length": 8, "language": "python"}]
    assert parse_html("  <i> padded </i> ").entities == [{"type": "italic", "offset": 0, "length": 6}]
    assert parse_html("Tom & Jerry", strict=False).plain == "Tom & Jerry"
    with pytest.raises(HtmlParseError):
        parse_html("<tg-emoji>👍</tg-emoji>")
