"""Callback and inline queries: a simulated press becomes a ``callback_query`` update; the bot's
answerCallbackQuery (once per query, as Telegram allows) and answerInlineQuery are kept."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .core import ServerCore
from .models import CallbackAnswer, ChatState, FakeTelegramTimeout
from .protocol import JsonDict, _bad

QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


@dataclass
class _CallbackQuery:
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False


class CallbacksMixin(ServerCore):
    """Button presses and inline queries, and the bot's answers to them."""

    def _new_query_id(self) -> str:
        return str(4_242_000_000_000_000 + next(self._ids))

    def _callback_query(self, user: JsonDict, state: ChatState, message_id: int, data: str) -> str:
        query_id = self._new_query_id()
        bot_message = state.bot_messages.get(message_id)
        message: JsonDict | None = None
        if bot_message is not None and not bot_message.deleted:
            message = self._message_dict(state, message_id)
        if message is None:  # what Telegram sends for a message the bot can no longer see
            message = {"chat": state.chat, "message_id": message_id, "date": 0}
        payload: JsonDict = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(abs(state.chat_id) * 31 + self.bot_id),
            "data": data,
        }
        self._callback_queries[query_id] = _CallbackQuery(int(user["id"]), state.chat_id, message_id, data)
        self._queue_update("callback_query", payload)
        return query_id

    async def callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> CallbackAnswer:
        """Wait for the bot's answerCallbackQuery to that callback query."""

        def probe() -> CallbackAnswer | None:
            for answer in self.callback_answers:
                if answer.callback_query_id == callback_query_id:
                    return answer
            return None

        try:
            return await self._signal.wait_until(probe, timeout)
        except TimeoutError:
            query = self._callback_queries.get(callback_query_id)
            chat = self._chats.get(query.chat_id) if query else None
            what = f"answerCallbackQuery for callback query {callback_query_id}"
            if chat is None:
                raise FakeTelegramTimeout(f"Timed out after {timeout:g}s waiting for {what}") from None
            raise FakeTelegramTimeout(self._diagnose(chat, what, timeout)) from None

    async def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        query = self._callback_queries.get(query_id)
        if query is None or query.answered:
            raise _bad(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered = True
        cache_time = params.get("cache_time")
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=text if isinstance(text, str) else None,
                show_alert=bool(params.get("show_alert", False)),
                url=params.get("url"),
                cache_time=cache_time if isinstance(cache_time, int) else None,
                time=time.monotonic(),
            )
        )
        return True

    async def _answer_inline_query(self, params: JsonDict) -> bool:
        self.inline_answers.append(params)
        return True
