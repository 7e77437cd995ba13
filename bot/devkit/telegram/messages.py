"""The bot's messages: sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage and
sendChatAction, with Telegram's checks (HTML parse mode, text length, keyboards, "message is not modified",
"message to edit not found", blocked and left chats)."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from .core import ServerCore
from .html_mode import HtmlParseError, parse_html, trim_message
from .models import BotEvent, BotMessage, ChatState, EventKind, MessageVersion, now
from .protocol import ApiError, JsonDict, _bad

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup of the new message "
    "are exactly the same as a current content and reply markup of the message"
)

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64

_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "web_app",
    "callback_game",
    "pay",
)

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class MessagesMixin(ServerCore):
    """What the bot sends, edits and deletes, validated as Telegram validates it."""

    def _record_event(self, state: ChatState, kind: EventKind, message: BotMessage) -> None:
        event = BotEvent(kind, message, message.version, next(self._event_seq), time.monotonic())
        state.events.append(event)
        self._signal.notify()

    def _known_chat(self, params: JsonDict) -> ChatState:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        state = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if state is None and isinstance(chat_id, str) and chat_id.startswith("@"):
            username = chat_id[1:].lower()
            state = next((s for s in self._chats.values() if str(s.chat.get("username", "")).lower() == username), None)
        if state is None:
            raise _bad("chat not found")
        return state

    def _writable_chat(self, params: JsonDict) -> ChatState:
        state = self._known_chat(params)
        if state.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if state.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {state.chat['type']} chat")
        if state.bot_status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {state.chat['type']} chat")
        return state

    def _check_markup(self, markup: Any, *, inline_only: bool = False) -> JsonDict | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays')
            count = 0
            for row in rows:
                for button in row:
                    self._check_inline_button(button)
                    count += 1
            if count > 100:
                raise _bad("reply markup is too long")
            return markup
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('can\'t parse keyboard button: field "keyboard" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text.strip():
                        raise _bad("can't parse keyboard button: Text must be non-empty")
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad("can't parse inline keyboard button: Text must be non-empty")
        if not any(key in button for key in _BUTTON_ACTIONS):
            raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                raise _bad("BUTTON_URL_INVALID")

    def _make_version(self, params: JsonDict, *, edit: bool) -> MessageVersion:
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise _bad("message text is empty")
        parse_mode = params.get("parse_mode") or None
        mode = parse_mode.lower() if isinstance(parse_mode, str) else None
        entities: list[JsonDict]
        if mode == "html":
            try:
                parsed = parse_html(text, strict=self.strict_html)
            except HtmlParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
            plain, entities = parsed.plain, parsed.entities
        elif mode in ("markdown", "markdownv2"):
            plain, entities = text.strip(), []  # not parsed: this project sends HTML only
        elif mode is not None:
            raise _bad("unsupported parse_mode")
        else:
            given = params.get("entities")
            trimmed = trim_message(text, list(given) if isinstance(given, list) else [])
            plain, entities = trimmed.plain, trimmed.entities
        if not plain:
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        markup = self._check_markup(params.get("reply_markup"), inline_only=edit)
        return MessageVersion(text, parse_mode, plain, entities, markup, now())

    def _reply_target(self, state: ChatState, params: JsonDict) -> int | None:
        reply = params.get("reply_parameters")
        message_id = params.get("reply_to_message_id")
        allow = bool(params.get("allow_sending_without_reply", False))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = bool(reply.get("allow_sending_without_reply", allow))
        if message_id is None:
            return None
        if self._message_dict(state, int(message_id), nested=False) is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return int(message_id)

    async def _send_message(self, params: JsonDict) -> JsonDict:
        state = self._writable_chat(params)
        version = self._make_version(params, edit=False)
        reply_to = self._reply_target(state, params)
        preview = params.get("link_preview_options")
        message = BotMessage(
            chat=state.chat,
            message_id=state.take_message_id(),
            date=version.date,
            sender=self.bot_user,
            version=version,
            reply_to=reply_to,
            link_preview_options=preview if isinstance(preview, dict) else None,
            disable_notification=bool(params.get("disable_notification", False)),
        )
        state.bot_messages[message.message_id] = message
        markup = version.reply_markup or {}
        if "keyboard" in markup:
            state.reply_keyboard = markup
        elif markup.get("remove_keyboard"):
            state.reply_keyboard = None
        self._record_event(state, "message", message)
        result = self._message_dict(state, message.message_id)
        assert result is not None
        return result

    def _editable(self, params: JsonDict) -> tuple[ChatState, BotMessage]:
        if params.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")  # inline messages are not simulated
        state = self._known_chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad("message identifier is not specified")
        message = state.bot_messages.get(message_id)
        if message is None or message.deleted:
            if message_id in state.user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return state, message

    def _apply_edit(self, state: ChatState, message: BotMessage, version: MessageVersion) -> JsonDict:
        message.history.append(message.version)
        message.version = version
        message.edit_date = version.date
        self._record_event(state, "edit", message)
        result = self._message_dict(state, message.message_id)
        assert result is not None
        return result

    @staticmethod
    def _inline_markup(markup: JsonDict | None) -> JsonDict | None:
        return markup if markup and "inline_keyboard" in markup else None

    async def _edit_message_text(self, params: JsonDict) -> JsonDict:
        state, message = self._editable(params)
        version = self._make_version(params, edit=True)
        if (
            version.plain == message.plain
            and version.entities == message.entities
            and version.reply_markup == self._inline_markup(message.reply_markup)
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(state, message, version)

    async def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        state, message = self._editable(params)
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        if markup == self._inline_markup(message.reply_markup):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._apply_edit(state, message, replace(message.version, reply_markup=markup, date=now()))

    async def _delete_message(self, params: JsonDict) -> bool:
        state = self._known_chat(params)
        message_id = params.get("message_id")
        message = state.bot_messages.get(message_id) if isinstance(message_id, int) else None
        if message is not None and not message.deleted:
            message.deleted = True
            self._record_event(state, "delete", message)
            return True
        if isinstance(message_id, int) and state.user_messages.pop(message_id, None) is not None:
            return True
        raise _bad("message to delete not found")

    async def _send_chat_action(self, params: JsonDict) -> bool:
        self._writable_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True
