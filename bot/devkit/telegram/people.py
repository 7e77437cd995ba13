"""Simulated people and chats on the fake Bot API server (see ``bot.devkit.telegram``).

A :class:`FakeUser` talks to the bot in its private chat (or in a :class:`FakeGroup`) by queueing updates;
both are :class:`ChatView` s that observe what the bot sends to their chat, with cursors so a test reads the
conversation in order::

    await anna.send("/balance")
    reply = await anna.next_message()          # the next NEW bot message in Anna's private chat
    await anna.press(reply, "Refresh")         # a callback_query for that button
    edited = await anna.wait_for(lambda m: "998" in m.plain)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .models import BotEvent, BotMessage, ChatState, FakeTelegramTimeout, find_button, render_message

if TYPE_CHECKING:
    from .server import FakeTelegram

__all__ = ["ChatView", "FakeGroup", "FakeUser"]

JsonDict = dict[str, Any]
MessageRef = BotMessage | JsonDict | int
T = TypeVar("T")


def _message_id(message: MessageRef) -> int:
    if isinstance(message, BotMessage):
        return message.message_id
    if isinstance(message, dict):
        return int(message["message_id"])
    return int(message)


class ChatView:
    """What the bot did in one chat, with two read cursors: one over new messages (:meth:`next_message`)
    and one over all events — new message, edit, delete (:meth:`next_event`)."""

    def __init__(self, server: FakeTelegram, state: ChatState) -> None:
        self.server = server
        self.state = state
        self._message_cursor = 0
        self._event_cursor = 0

    @property
    def chat_id(self) -> int:
        return self.state.chat_id

    @property
    def chat(self) -> JsonDict:
        """The Telegram ``Chat`` object."""
        return self.state.chat

    @property
    def messages(self) -> list[BotMessage]:
        """Every message the bot sent in this chat, oldest first, in its current state (deleted ones
        included, with ``deleted=True``)."""
        return list(self.state.bot_messages.values())

    @property
    def last_message(self) -> BotMessage | None:
        """The bot's latest message here that is not deleted."""
        alive = [m for m in self.state.bot_messages.values() if not m.deleted]
        return alive[-1] if alive else None

    @property
    def last_message_with_buttons(self) -> BotMessage | None:
        """The bot's latest message here that is not deleted and has inline buttons (for the playground's
        "press 2")."""
        alive = [m for m in self.state.bot_messages.values() if not m.deleted and m.buttons]
        return alive[-1] if alive else None

    @property
    def events(self) -> list[BotEvent]:
        return list(self.state.events)

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """The reply keyboard the person currently sees (button texts by row), if any."""
        markup = self.state.reply_keyboard
        if not markup:
            return None
        return [[b["text"] if isinstance(b, dict) else str(b) for b in row] for row in markup["keyboard"]]

    def _seen(self, index: int) -> bool:
        """A new-message event already returned (by next_message, next_event or wait_for)."""
        return index < self._message_cursor and self.state.events[index].kind == "message"

    def unseen_events(self) -> list[BotEvent]:
        """Events not yet returned by a wait, without consuming them."""
        events = self.state.events
        return [events[i] for i in range(self._event_cursor, len(events)) if not self._seen(i)]

    def mark_seen(self) -> None:
        """Move both cursors to the end: later waits only see what happens from now on."""
        self._message_cursor = self._event_cursor = len(self.state.events)

    def transcript(self) -> str:
        """Every current bot message here, rendered, separated by blank lines."""
        return "\n\n".join(render_message(m) for m in self.messages if not m.deleted)

    async def next_message(self, timeout: float = 5.0) -> BotMessage:
        """Wait for the next NEW message the bot sends here, after the last one a wait returned (edits are
        not messages: see :meth:`next_event` and :meth:`wait_for`)."""

        def probe() -> BotMessage | None:
            events = self.state.events
            for index in range(self._message_cursor, len(events)):
                if events[index].kind == "message":
                    self._message_cursor = index + 1
                    return events[index].message
            return None

        return await self._wait(probe, timeout, "the next new message")

    async def next_event(self, timeout: float = 5.0) -> BotEvent:
        """Wait for the next event here — a new message, an edit or a delete (``event.kind``) — skipping
        new messages :meth:`next_message` already returned."""

        def probe() -> BotEvent | None:
            events = self.state.events
            for index in range(self._event_cursor, len(events)):
                if not self._seen(index):
                    self._consume(index)
                    return events[index]
            self._event_cursor = len(events)
            return None

        return await self._wait(probe, timeout, "the next message, edit or delete")

    async def wait_for(
        self, predicate: Callable[[BotMessage], bool], timeout: float = 5.0, *, what: str | None = None
    ) -> BotMessage:
        """Wait until an event not yet returned by a wait (a new message, an edit, a delete) concerns a
        message whose CURRENT state satisfies ``predicate``; return that message. Events up to it count
        as seen. Example: ``await anna.wait_for(lambda m: "accepted" in m.plain)``."""

        def probe() -> BotMessage | None:
            events = self.state.events
            for index in range(self._event_cursor, len(events)):
                if not self._seen(index) and predicate(events[index].message):
                    self._consume(index)
                    return events[index].message
            return None

        return await self._wait(probe, timeout, what or f"a message matching {_describe(predicate)}")

    def _consume(self, index: int) -> None:
        self._event_cursor = index + 1
        self._message_cursor = max(self._message_cursor, index + 1)

    async def _wait(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        try:
            return await self.server._signal.wait_until(probe, timeout)
        except TimeoutError:
            raise FakeTelegramTimeout(self.server._diagnose(self.state, what, timeout)) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.state.name} chat={self.chat_id}>"


def _describe(predicate: Callable[..., Any]) -> str:
    name = getattr(predicate, "__qualname__", repr(predicate))
    return name if name != "<lambda>" else "the predicate"


class FakeUser(ChatView):
    """A person: sends messages, presses buttons, blocks the bot; observes its private chat with the bot."""

    def __init__(self, server: FakeTelegram, state: ChatState, user: JsonDict) -> None:
        super().__init__(server, state)
        self.user = user

    @property
    def user_id(self) -> int:
        return int(self.user["id"])

    @property
    def first_name(self) -> str:
        return str(self.user["first_name"])

    @property
    def language_code(self) -> str | None:
        return self.user.get("language_code")

    def _where(self, chat: ChatView | None) -> ChatState:
        return self.state if chat is None else chat.state

    # -- messages ------------------------------------------------------------------------------------
    async def send_raw(
        self, content: JsonDict, *, chat: ChatView | None = None, reply_to: MessageRef | None = None
    ) -> JsonDict:
        """Send a message with arbitrary content fields (``{"location": {...}}``); returns the Message."""
        state = self._where(chat)
        message = self.server._user_message(
            state, self.user, content, None if reply_to is None else _message_id(reply_to)
        )
        self.server._queue_update("message", message)
        return message

    async def send(self, text: str, *, chat: ChatView | None = None, reply_to: MessageRef | None = None) -> JsonDict:
        """Send a text message (``bot_command`` entities for /commands, as Telegram marks them);
        pressing a reply-keyboard button is sending its text. Returns the user's Message object."""
        content: JsonDict = {"text": text}
        entities = self.server._command_entities(text)
        if entities:
            content["entities"] = entities
        return await self.send_raw(content, chat=chat, reply_to=reply_to)

    async def send_contact(
        self,
        phone_number: str,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        user_id: int | None = None,
        chat: ChatView | None = None,
    ) -> JsonDict:
        """Share a contact; ``user_id`` is set when the contact is a Telegram user (pass ``self.user_id``
        for "share my number")."""
        contact: JsonDict = {"phone_number": phone_number, "first_name": first_name or self.first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return await self.send_raw({"contact": contact}, chat=chat)

    async def send_sticker(self, emoji: str = "👍", *, chat: ChatView | None = None) -> JsonDict:
        file_id = self.server._file_id("sticker")
        sticker = {
            "file_id": file_id,
            "file_unique_id": file_id[-12:],
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self.send_raw({"sticker": sticker}, chat=chat)

    async def send_photo(self, caption: str | None = None, *, chat: ChatView | None = None) -> JsonDict:
        sizes = []
        for width, height in ((90, 67), (320, 240), (1280, 960)):
            file_id = self.server._file_id("photo")
            sizes.append({"file_id": file_id, "file_unique_id": file_id[-12:], "width": width, "height": height})
        content: JsonDict = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return await self.send_raw(content, chat=chat)

    async def send_document(
        self,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
        *,
        file_size: int = 1024,
        chat: ChatView | None = None,
    ) -> JsonDict:
        file_id = self.server._file_id("document")
        document = {
            "file_id": file_id,
            "file_unique_id": file_id[-12:],
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": file_size,
        }
        content: JsonDict = {"document": document}
        if caption:
            content["caption"] = caption
        return await self.send_raw(content, chat=chat)

    async def send_voice(self, duration: int = 2, *, chat: ChatView | None = None) -> JsonDict:
        file_id = self.server._file_id("voice")
        voice = {"file_id": file_id, "file_unique_id": file_id[-12:], "duration": duration, "mime_type": "audio/ogg"}
        return await self.send_raw({"voice": voice}, chat=chat)

    async def edit(self, message: MessageRef, new_text: str, *, chat: ChatView | None = None) -> JsonDict:
        """Edit one of this person's own messages: an ``edited_message`` update."""
        state = self._where(chat)
        message_id = _message_id(message)
        original = state.user_messages.get(message_id)
        if original is None or original["from"]["id"] != self.user_id:
            raise AssertionError(f"{self.state.name} has no message #{message_id} in {state.name} to edit")
        edited: JsonDict = {k: v for k, v in original.items() if k not in ("text", "entities")}
        edited["text"] = new_text
        entities = self.server._command_entities(new_text)
        if entities:
            edited["entities"] = entities
        edited["edit_date"] = int(time.time())
        state.user_messages[message_id] = edited
        self.server._queue_update("edited_message", edited)
        return edited

    async def inline_query(self, query: str, offset: str = "") -> str:
        """An ``inline_query`` update; returns its id (see ``server.inline_answers``)."""
        query_id = self.server._new_query_id()
        payload = {"id": query_id, "from": self.user, "query": query, "offset": offset, "chat_type": "sender"}
        self.server._queue_update("inline_query", payload)
        return query_id

    # -- buttons -------------------------------------------------------------------------------------
    async def press(self, message: MessageRef, button: str | int, *, chat: ChatView | None = None) -> str:
        """Press an inline button of a bot message: ``button`` is its text (exact, or a unique substring),
        its callback_data, or its 1-based number as :func:`render_message` shows it. The callback_query
        carries the bot's current version of the message. Returns the callback query id."""
        state = self.server._chat_state(message.chat_id) if isinstance(message, BotMessage) else self._where(chat)
        message_id = _message_id(message)
        current = state.bot_messages.get(message_id)
        if current is None:
            raise AssertionError(f"the bot has no message #{message_id} in {state.name}")
        if current.deleted:
            raise AssertionError(f"message #{message_id} in {state.name} was deleted; it cannot be pressed")
        found = find_button(current.reply_markup, button)
        if "callback_data" not in found:
            raise AssertionError(f"button {found.get('text')!r} is not a callback button: {found}")
        return self.server._callback_query(self.user, state, message_id, str(found["callback_data"]))

    async def press_data(self, message_id: int, callback_data: str, *, chat: ChatView | None = None) -> str:
        """A forged press: a callback_query with arbitrary data for any message id (an unknown id gives an
        inaccessible message, as Telegram does). Returns the callback query id."""
        return self.server._callback_query(self.user, self._where(chat), message_id, callback_data)

    # -- membership ----------------------------------------------------------------------------------
    async def block_bot(self) -> None:
        """Block the bot: a ``my_chat_member`` update (member -> kicked); sending here then fails with
        403 "Forbidden: bot was blocked by the user"."""
        self.state.blocked = True
        self.server._my_chat_member(self.state, self.user, "member", "kicked")

    async def unblock_bot(self) -> None:
        """Unblock (restart) the bot: a ``my_chat_member`` update (kicked -> member)."""
        self.state.blocked = False
        self.server._my_chat_member(self.state, self.user, "kicked", "member")


class FakeGroup(ChatView):
    """A group or supergroup with the bot in it. People write here with ``user.send(text, chat=group)``."""

    @property
    def title(self) -> str:
        return str(self.state.chat.get("title", ""))

    async def add_bot(self, by: FakeUser, *, status: str = "member") -> None:
        """``by`` adds the bot (``status`` "member" or "administrator"): a ``my_chat_member`` update."""
        old = self.state.bot_status
        self.state.bot_status = status
        self.server._my_chat_member(self.state, by.user, old, status)

    async def remove_bot(self, by: FakeUser) -> None:
        """``by`` removes the bot: ``my_chat_member`` (-> kicked); sending here then fails with 403."""
        old = self.state.bot_status
        self.state.bot_status = "kicked"
        self.server._my_chat_member(self.state, by.user, old, "kicked")

    async def join(self, user: FakeUser) -> None:
        """A ``chat_member`` update: ``user`` joins (delivered only when allowed_updates asks for it)."""
        self.server._chat_member(self.state, user.user, user.user, "left", "member")

    async def leave(self, user: FakeUser) -> None:
        """A ``chat_member`` update: ``user`` leaves."""
        self.server._chat_member(self.state, user.user, user.user, "member", "left")
