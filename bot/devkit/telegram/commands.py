"""The bot's command menus: setMyCommands, getMyCommands, deleteMyCommands by scope and language."""

from __future__ import annotations

import re

from .core import ServerCore
from .protocol import JsonDict, _bad

_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


class CommandsMixin(ServerCore):
    """The commands the bot set, by (scope key, language_code) in ``commands``."""

    @staticmethod
    def scope_key(scope: JsonDict | None) -> str:
        """``"default"``, ``"all_private_chats"``, ``"chat:<id>"``, ``"chat_member:<chat>:<user>"`` ..."""
        if not scope:
            return "default"
        kind = str(scope.get("type", "default"))
        if kind in ("chat", "chat_administrators"):
            return f"{kind}:{scope.get('chat_id')}"
        if kind == "chat_member":
            return f"{kind}:{scope.get('chat_id')}:{scope.get('user_id')}"
        return kind

    def get_commands(self, scope: str | JsonDict | None = "default", language_code: str = "") -> list[JsonDict] | None:
        """The commands set for a scope (a key like ``"default"`` or a BotCommandScope dict) and language;
        None when never set (or deleted)."""
        key = scope if isinstance(scope, str) else self.scope_key(scope)
        return self.commands.get((key, language_code))

    async def _set_my_commands(self, params: JsonDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND_RE.match(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self.scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if commands:
            self.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        key = (self.scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return list(self.commands.get(key, []))

    async def _delete_my_commands(self, params: JsonDict) -> bool:
        key = (self.scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.commands.pop(key, None)
        return True
