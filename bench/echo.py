"""The baseline: a bare aiogram bot — one Dispatcher, one message handler answering a fixed text — with the
same session, defaults and polling call as the real bot. `python -m bench.echo URL TOKEN TEXT_FILE`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message


async def run(url: str, token: str, text: str) -> None:
    bot = Bot(
        token=token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(url)),
        default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
    )
    dp = Dispatcher()

    @dp.message()
    async def answer(message: Message) -> None:
        await message.answer(text)

    await dp.start_polling(bot, handle_signals=True, allowed_updates=["message", "callback_query"])


def main(argv: list[str]) -> int:
    url, token, text_file = argv
    asyncio.run(run(url, token, Path(text_file).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
