"""The server's side of the simulated people (:mod:`bot.devkit.telegram.people`): what they write, and
the bot's membership changes, become updates as Telegram would shape them."""

from __future__ import annotations

import re

from .core import ServerCore
from .html_mode import utf16_len
from .models import ChatState, now
from .protocol import ApiError, JsonDict

_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


class SimulationMixin(ServerCore):
    """Messages, edits and membership changes of simulated people, as updates."""

    def _file_id(self, kind: str) -> str:
        return f"FAKE{kind.upper()}{next(self._ids):012d}"

    @staticmethod
    def _command_entities(text: str) -> list[JsonDict]:
        return [
            {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
            for m in _COMMAND_RE.finditer(text)
        ]

    def _user_message(self, state: ChatState, sender: JsonDict, content: JsonDict, reply_to: int | None) -> JsonDict:
        if self._stopping:
            raise RuntimeError("the fake Telegram server is stopped")
        message: JsonDict = {
            "message_id": state.take_message_id(),
            "from": sender,
            "chat": state.chat,
            "date": now(),
            **content,
        }
        if reply_to is not None:
            target = self._message_dict(state, reply_to, nested=False)
            if target is None:
                raise AssertionError(f"there is no message #{reply_to} in {state.name} to reply to")
            message["reply_to_message"] = target
        state.user_messages[message["message_id"]] = message
        if state.reply_keyboard and state.reply_keyboard.get("one_time_keyboard"):
            state.reply_keyboard = None
        return message

    def _member(self, status: str, user: JsonDict) -> JsonDict:
        member: JsonDict = {"status": status, "user": user}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "creator":
            member["is_anonymous"] = False
        elif status in ("administrator", "restricted"):
            from aiogram.types import ChatMemberAdministrator, ChatMemberRestricted

            model = ChatMemberAdministrator if status == "administrator" else ChatMemberRestricted
            for name, info in model.model_fields.items():
                key = info.alias or name
                if info.is_required() and key not in member:
                    member[key] = 0 if name == "until_date" else name not in ("can_be_edited", "is_anonymous")
        return member

    async def _leave_chat(self, params: JsonDict) -> bool:
        """``leaveChat``: the bot leaves a group or channel (a private chat cannot be left); Telegram then sends
        the bot its own ``my_chat_member`` (-> left), and sending there fails with 403."""
        chat_id = params.get("chat_id")
        state = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if state is None:
            raise ApiError(400, "Bad Request: chat not found")
        if state.chat.get("type") == "private":
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        if state.bot_status in ("left", "kicked"):
            raise ApiError(403, f"Forbidden: bot is not a member of the {state.chat['type']} chat")
        old = state.bot_status
        state.bot_status = "left"
        self._my_chat_member(state, self.bot_user, old, "left")
        return True

    def _my_chat_member(self, state: ChatState, by: JsonDict, old: str, new: str) -> None:
        payload = {
            "chat": state.chat,
            "from": by,
            "date": now(),
            "old_chat_member": self._member(old, self.bot_user),
            "new_chat_member": self._member(new, self.bot_user),
        }
        self._queue_update("my_chat_member", payload)

    def _chat_member(self, state: ChatState, by: JsonDict, user: JsonDict, old: str, new: str) -> None:
        payload = {
            "chat": state.chat,
            "from": by,
            "date": now(),
            "old_chat_member": self._member(old, user),
            "new_chat_member": self._member(new, user),
        }
        self._queue_update("chat_member", payload)
