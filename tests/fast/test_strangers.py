"""Strangers: every kind of update from someone who is not an operator reaches neither the gateway nor anyone
else's data, and writes nothing but their access request.

An operator first leaves real data behind: an SMS sent and delivered, a draft with its Send button, history
worth two pages, a /balance with its Refresh button, and an access request (with Approve / Deny) from an
earlier stranger. Each case is then played by a NEW stranger (so each is their first contact: the refusal and
the access request are exercised for every update type), and checked:

* zero gateway requests;
* nothing of the operator's in anything the stranger could read (their chat, groups they wrote in, answers to
  their button presses and inline queries): not the number, the text, the gateway id, the operator's name;
* the bot writes nothing in the operator's chat, and in an admin's chat only the access request;
* the database is unchanged — a dump of every table except ``access_requests``, ``access_request_messages``
  and ``audit_log`` — and the stranger has at most one access request;
* no update ended in an unhandled exception.

Forged button presses carry the operator's real callback_data, both on a message id of the stranger's own chat
(Telegram sends an inaccessible message) and on the operator's real message (a forged update from the
operator's chat).

Fast tier (``tests.support.fast_client``): updates go straight to the real Dispatcher; Bot API calls are recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.fast_client import FastBot, FastUser, Sent, assert_serving
from tests.support.fault_support import ACCESS_TABLES, LogTrap, describe, dump, rows, trap_logs, unhandled

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN = 1001
OPERATOR = 2002
EARLIER_STRANGER = 4004
SECRET_NUMBER = "79161112233"
SECRET_TEXT = "Reactor-7 coolant leak"
OPERATOR_NAME = "Secretov"
GROUP_ID = -100777


@dataclass
class World:
    h: FastBot
    trap: LogTrap
    admin: FastUser
    operator: FastUser
    draft: Sent  # the operator's preview, never pressed
    history: Sent  # the operator's /history, first page
    balance: Sent  # the operator's /balance
    request: Sent  # the admin's copy of an access request, with Approve / Deny
    gateway_id: str
    next_id: int = 5000
    query_ids: dict[int, set[str]] = field(default_factory=dict)

    def needles(self) -> list[str]:
        return [
            SECRET_NUMBER,
            "916 111-22-33",
            "916\u00a0111\u201122\u201133",
            "9161112233",
            SECRET_TEXT,
            "Reactor",
            self.gateway_id,
            OPERATOR_NAME,
        ]

    def data(self, message: Sent, text: str) -> str:
        value = message.button(text).get("callback_data")
        assert isinstance(value, str)
        return value


async def settle(h: FastBot) -> None:
    """Every update handled (feeding returns when it is), every send and notice it started done."""
    await h.settle()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    directory: Path = tmp_path_factory.mktemp("strangers")
    with trap_logs(level=20) as trap:
        async with FastBot(directory, admin_ids=(ADMIN,)) as h:
            assert h.app is not None
            admin = h.user(ADMIN, first_name="Alice", language_code="en")
            operator = h.user(OPERATOR, first_name="Oleg", last_name=OPERATOR_NAME, language_code="en")
            await admin.send(f"/allow {OPERATOR}")
            await operator.wait_for(lambda m: "You now have access" in m.plain)
            # A real SMS, sent and delivered.
            await operator.send(f"/send {SECRET_NUMBER} {SECRET_TEXT}")
            sent = await operator.wait_for(lambda m: "Check before sending" in m.plain)
            await operator.press("✅ Send", on=sent)
            await operator.wait_for(  # the notice: the accepted message edited, then a reply to it
                lambda m: "delivered" in m.plain and m.message_id != sent.message_id, timeout=15
            )
            gateway_id = h.gateway.sent[-1].id
            # More rows, so that history has a second page.
            db = h.app.db
            for i in range(6):
                row = await db.sends.create_draft(
                    user_id=OPERATOR,
                    chat_id=OPERATOR,
                    msisdn=SECRET_NUMBER,
                    sender="OnCall",
                    text=f"{SECRET_TEXT} #{i}",
                    encoding="GSM-7",
                    parts=1,
                    locale="en",
                )
                assert await db.sends.claim(row.id, OPERATOR)
                await db.sends.mark_failed(row.id, 3, "SendFailed")
            # A draft whose Send button is never pressed.
            await operator.send(f"/send {SECRET_NUMBER} {SECRET_TEXT} (draft)")
            draft = await operator.wait_for(lambda m: "Check before sending" in m.plain)
            await operator.send("/history")
            history = await operator.wait_for(lambda m: "page 1 of" in m.plain)
            await operator.send("/balance")
            balance = await operator.wait_for(lambda m: "Balance" in m.plain)
            # An earlier stranger's access request, as the admin sees it.
            earlier = h.user(EARLIER_STRANGER, first_name="Mallory", language_code="en")
            await earlier.send("/start")
            request = await admin.wait_for(lambda m: "Access request" in m.plain and "Mallory" in m.plain)
            await settle(h)
            assert await db.tracking.depth() == 0
            yield World(h, trap, admin, operator, draft, history, balance, request, gateway_id)


Case = Callable[[World, FastUser], Awaitable[Any]]


async def _press(w: World, user: FastUser, data: str, *, on_operator_message: Sent | None = None) -> None:
    if on_operator_message is None:
        qid = await user.press_data(99, data)
    else:
        qid = await user.press_data(on_operator_message.message_id, data, chat=w.operator)
    w.query_ids.setdefault(user.user_id, set()).add(qid)


def text_case(text: str) -> Case:
    async def run(w: World, user: FastUser) -> None:
        await user.send(text)

    return run


def press_case(button: str, which: str, *, on_operator_message: bool = False) -> Case:
    async def run(w: World, user: FastUser) -> None:
        message: Sent = getattr(w, which)
        data = w.data(message, button)
        await _press(w, user, data, on_operator_message=message if on_operator_message else None)

    return run


def raw_press_case(make: Callable[[World], str]) -> Case:
    async def run(w: World, user: FastUser) -> None:
        await _press(w, user, make(w))

    return run


async def contact(w: World, user: FastUser) -> None:
    await user.send_contact("+79041764995", "Duty")


async def own_contact(w: World, user: FastUser) -> None:
    await user.send_contact("+79041764996", user.first_name, user_id=user.user_id)


async def document(w: World, user: FastUser) -> None:
    await user.send_document("numbers.csv", "text/csv", caption=f"/send {SECRET_NUMBER[:-1]}0 hi")


async def photo(w: World, user: FastUser) -> None:
    await user.send_photo(caption="/history")


async def sticker(w: World, user: FastUser) -> None:
    await user.send_sticker()


async def voice(w: World, user: FastUser) -> None:
    await user.send_voice()


async def location(w: World, user: FastUser) -> None:
    await user.send_raw({"location": {"latitude": 55.75, "longitude": 37.61}})


async def inline(w: World, user: FastUser) -> None:
    qid = await user.inline_query(SECRET_NUMBER[:5])
    w.query_ids.setdefault(user.user_id, set()).add(qid)


async def edited(w: World, user: FastUser) -> None:
    original = await user.send("hello")
    await user.edit(original, "/send 79041764995 edited into a command")


async def edited_history(w: World, user: FastUser) -> None:
    original = await user.send("/help")
    await user.edit(original, "/history")


async def in_group(w: World, user: FastUser) -> None:
    group = w.h.group(GROUP_ID, title="Ops")
    await user.send("/send 79041764995 from a group", chat=group)
    await user.send("/history", chat=group)
    await user.send_contact("+79041764995", "Duty", chat=group)


async def press_in_group(w: World, user: FastUser) -> None:
    group = w.h.group(GROUP_ID, title="Ops")
    qid = await user.press_data(1, w.data(w.draft, "✅ Send"), chat=group)
    w.query_ids.setdefault(user.user_id, set()).add(qid)


async def blocks_bot(w: World, user: FastUser) -> None:
    await user.block_bot()
    await user.unblock_bot()


async def adds_bot_to_group(w: World, user: FastUser) -> None:
    group = w.h.group(GROUP_ID - user.user_id, title="Stranger's group")
    await group.add_bot(user)
    await user.send("/send 79041764995 hi", chat=group)


CASES: dict[str, Case] = {
    "text": text_case("hello, can I send an SMS?"),
    "start": text_case("/start"),
    "help": text_case("/help"),
    "send-with-number": text_case("/send 79041764995 Let me in"),
    "send-secret-number": text_case(f"/send {SECRET_NUMBER} guess"),
    "send-guided": text_case("/send"),
    "balance": text_case("/balance"),
    "status-of-real-id": lambda w, u: u.send(f"/status {w.gateway_id}"),
    "history": text_case("/history"),
    "cancel": text_case("/cancel"),
    "language": text_case("/language"),
    "users": text_case("/users"),
    "allow-self": lambda w, u: u.send(f"/allow {u.user_id}"),
    "deny-operator": text_case(f"/deny {OPERATOR}"),
    "unknown-command": text_case("/sudo"),
    "press-send-on-draft": press_case("✅ Send", "draft"),
    "press-send-on-operators-message": press_case("✅ Send", "draft", on_operator_message=True),
    "press-cancel-draft": press_case("✖️ Cancel", "draft"),
    "press-sender-menu": press_case("Sender", "draft", on_operator_message=True),
    "press-sender-choice": raw_press_case(lambda w: f"sdr:{w.data(w.draft, '✅ Send').split(':')[-1]}:1"),
    "press-history-next": press_case("▶", "history"),
    "press-history-on-operators-message": press_case("▶", "history", on_operator_message=True),
    "press-balance-refresh": press_case("Refresh", "balance"),
    "press-approve-real-request": press_case("Approve", "request"),
    "press-deny-real-request": press_case("Deny", "request"),
    "press-approve-own-request": raw_press_case(lambda w: f"acc:1:{_next_request_id(w)}"),
    "press-language": raw_press_case(lambda w: "lang:ru"),
    "press-flow-cancel": raw_press_case(lambda w: "flow"),
    "press-garbage": raw_press_case(lambda w: "snd:go:not-a-number"),
    # a send to several recipients (issue 17): Send to N, Resend to failed, a sender, forged
    "press-batch-send": raw_press_case(lambda w: "bt:go:1"),
    "press-batch-resend": raw_press_case(lambda w: "bt:resend:1"),
    "press-batch-sender": raw_press_case(lambda w: "bts:1:1"),
    "contact": contact,
    "own-contact": own_contact,
    "document": document,
    "photo": photo,
    "sticker": sticker,
    "voice": voice,
    "location": location,
    "inline-query": inline,
    "edited-message": edited,
    "edited-to-history": edited_history,
    "group-messages": in_group,
    "group-press": press_in_group,
    "my-chat-member-block": blocks_bot,
    "my-chat-member-added-to-group": adds_bot_to_group,
}


# What a stranger's update may write: their access request, and its update_id (handled once, like every update).
STRANGER_TABLES = ACCESS_TABLES | {"seen_updates"}


def _next_request_id(w: World) -> int:
    found = rows(w.h.db_path, "SELECT COALESCE(MAX(id), 0) + 1 AS n FROM access_requests")
    return int(found[0]["n"])


def stranger_chats(user: FastUser) -> set[int]:
    return {user.user_id, GROUP_ID, GROUP_ID - user.user_id}


async def play(w: World, user: FastUser, cases: list[Case]) -> None:
    h = w.h
    requests_before = len(h.gateway.requests)
    tables_before = dump(h.db_path, exclude=STRANGER_TABLES)
    calls_before = len(h.telegram.calls)
    mark = w.trap.mark()
    for case in cases:
        await case(w, user)
        await settle(h)

    assert h.gateway.requests[requests_before:] == []
    assert dump(h.db_path, exclude=STRANGER_TABLES) == tables_before
    requests = rows(h.db_path, "SELECT * FROM access_requests WHERE user_id = ?", (user.user_id,))
    assert len(requests) <= 1, requests
    calls = h.telegram.calls[calls_before:]
    # A digest of earlier strangers' requests (they came faster than one every few seconds) may arrive meanwhile.
    to_admin = [
        c for c in calls if c.params.get("chat_id") == ADMIN and "more access requests" not in str(c.params.get("text"))
    ]
    assert len(to_admin) <= 1 and all("Access request" in str(c.params.get("text")) for c in to_admin), to_admin
    assert not [c for c in calls if c.params.get("chat_id") == OPERATOR]
    seen = h.telegram.readable(chat_ids=stranger_chats(user), query_ids=w.query_ids.get(user.user_id, set()))
    for needle in w.needles():
        assert needle not in seen, f"{needle!r} shown to a stranger: {seen[:1000]}"
    records = w.trap.since(mark)
    assert not unhandled(records), describe(unhandled(records))
    assert not h.telegram.parse_errors()


@pytest.mark.parametrize("name", list(CASES))
async def test_stranger_case(world: World, name: str) -> None:
    world.next_id += 1
    user = world.h.user(world.next_id, first_name="Eve", username="eve", language_code="en")
    await play(world, user, [CASES[name]])
    # A refusal, if any, names the stranger's own id and nothing else of interest.
    for message in user.messages:
        assert str(user.user_id) in message.plain


async def test_one_stranger_tries_everything(world: World) -> None:
    """One person, every update type in a row: one refusal, one access request, nothing else."""
    user = world.h.user(3003, first_name="Trudy", language_code="en")
    await play(world, user, list(CASES.values()))
    assert len([m for m in user.messages if "only for authorised" in m.plain]) == 1
    requests = rows(world.h.db_path, "SELECT * FROM access_requests WHERE user_id = 3003")
    assert len(requests) == 1 and requests[0]["status"] == "pending"
    await assert_serving(world.operator)
