"""A fake Telegram Bot API server on loopback, with simulated people — the rig for end-to-end tests, the
offline playground and benchmarks.

The REAL aiogram ``Bot`` talks to it over HTTP (``AiohttpSession(api=TelegramAPIServer.from_base(url))``,
or simply ``server.make_bot()``), so everything between the handlers and the wire — serialisation,
pydantic models, error classes, polling, retries — is exercised as in production::

    async with FakeTelegram() as server:              # listens on 127.0.0.1, a free port
        bot = server.make_bot()                        # Bot(token, AiohttpSession(api=server.api), HTML)
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
        anna = server.user(1001, "Anna", language_code="ru")
        await anna.send("/balance")
        reply = await anna.next_message()              # BotMessage: .text (as sent), .plain, .buttons
        cq_id = await anna.press(reply, "Refresh")     # callback_query update for that button
        answer = await server.callback_answer(cq_id)   # the bot's answerCallbackQuery
        edited = await anna.wait_for(lambda m: "998" in m.plain)
        print(server.render(edited))                   # "Balance: 998 ₽\\n  [1] Refresh"
        await dp.stop_polling(); await polling

What Telegram does and the server imitates: long polling with ``offset`` confirmation, ``limit`` and
``allowed_updates`` (applied when updates are created, as Telegram does); 401 for a wrong token; 404 for an
unknown method; 409 for getUpdates while a webhook is set or when a newer getUpdates supersedes one;
HTML parse mode validation (``bot.devkit.telegram.html_mode``); "message is not modified", "message to edit not
found", "message is too long", "message text is empty", "BUTTON_DATA_INVALID", "bot was blocked by the
user", "chat not found", "query is too old ..." for answering an unknown or already answered callback query.
Webhook mode: after ``setWebhook`` updates are POSTed to the URL with ``X-Telegram-Bot-Api-Secret-Token``
(a method in the webhook's answer is executed, as Telegram does).

Failures on demand: ``server.fail_next(method, ...)`` answers the next call(s) with an error (429 with
``retry_after`` by default), drops the connection (``drop=True``), and can perform the call before failing
(``execute=True``: "it was sent, but the answer got lost"). ``server.fail_next_poll()`` makes the next
getUpdates answer 502.

Accounting: ``server.calls`` is a list of ``Call(time, method, params)`` (monotonic time, decoded params) for
every request; ``server.max_rate(...)`` checks Telegram's limits (30 messages/s, 1/s per chat).

Layout: ``server`` (:class:`FakeTelegram`: HTTP, long polling, people and chats) is made of mixins over
``core`` (the shared state): ``messages`` (send, edit, delete), ``callbacks`` (button presses, inline
queries), ``commands``, ``webhook``, ``failures`` (on demand), ``simulation`` (the server's side of
``people``), ``inspection``; ``protocol`` (errors, parameter decoding), ``models`` (plain data),
``html_mode`` (HTML parse mode).
"""

from .callbacks import QUERY_TOO_OLD
from .inspection import MESSAGE_METHODS
from .messages import NOT_MODIFIED
from .models import (
    ApiErrorRecord,
    BotEvent,
    BotMessage,
    Button,
    Call,
    CallbackAnswer,
    FakeTelegramTimeout,
    MessageVersion,
    UploadedFile,
)
from .people import ChatView, FakeGroup, FakeUser
from .protocol import ApiError
from .server import FakeTelegram, loopback_session

__all__ = [
    "MESSAGE_METHODS",
    "NOT_MODIFIED",
    "QUERY_TOO_OLD",
    "ApiError",
    "ApiErrorRecord",
    "BotEvent",
    "BotMessage",
    "Button",
    "Call",
    "CallbackAnswer",
    "ChatView",
    "FakeGroup",
    "FakeTelegram",
    "FakeTelegramTimeout",
    "FakeUser",
    "MessageVersion",
    "UploadedFile",
    "loopback_session",
]
