"""Groups and channels: the bot belongs to the team feed's chat (TEAM_CHAT_ID) only. Added to any other group or
channel, it leaves at once; in the team chat it only posts (the access gate keeps everything there silent, and
its messages there carry no buttons)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update

log = logging.getLogger(__name__)

IN_CHAT = ("member", "administrator", "restricted", "creator")


class GroupsMiddleware(BaseMiddleware):
    def __init__(self, *, team_chat_id: int | None) -> None:
        self.team_chat_id = team_chat_id

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        member = event.my_chat_member
        if member is None or member.chat.type == "private":
            return await handler(event, data)
        chat = member.chat
        if member.new_chat_member.status not in IN_CHAT:
            return None  # removed, or left: nothing to do
        if chat.id == self.team_chat_id:
            log.info("added to the team chat (TEAM_CHAT_ID %s)", chat.id)
            return None
        bot: Bot = data["bot"]
        log.info("added to a %s that is not the team chat (%s): leaving it", chat.type, chat.id)
        try:
            await bot.leave_chat(chat.id)
        except TelegramAPIError as exc:
            log.warning("could not leave chat %s: %s", chat.id, exc.message)
        return None
