"""Issue 25 point 3 (part): one card handler serves a contact's and a group's show/send/delete — the same press
rules for both (a forged or stale press answered, 📨 opens the text step, 🗑 asks the owner), end to end."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackQueryFilter

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.handlers import setup_routers
from bot.ui.contact_callbacks import ContactCb, GroupCb
from tests.conftest import ADMIN, OPERATOR


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


def handlers_of(prefix: str) -> set[str]:
    found = set()
    for router in setup_routers():
        for handler in router.callback_query.handlers:
            for f in handler.filters or []:
                if isinstance(f.callback, CallbackQueryFilter) and f.callback.callback_data.__prefix__ == prefix:
                    found.add(f"{handler.callback.__module__}.{handler.callback.__qualname__}")
    return found


def test_one_handler_serves_both_cards() -> None:
    assert handlers_of(ContactCb.__prefix__) == handlers_of(GroupCb.__prefix__) == {"bot.handlers.cards.card_pressed"}


async def test_a_contact_card_and_a_group_card_answer_alike(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, f"/allow {OPERATOR}")
    sam = rig.telegram.user(OPERATOR, first_name="Sam", language_code="en")
    await say(admin, "/contact Ivan +7 904 176-49-95")
    await say(admin, "/group Night: Ivan")
    for shown, forged in (("/contact Ivan", "ct:del:99"), ("/group Night", "grp:del:99")):
        card = await say(admin, shown)
        await admin.press(card, "📨 Send")
        assert "To Ivan" in (await admin.next_message()).plain
        await say(admin, "/cancel")
        theirs = await say(sam, shown)
        refused = await rig.telegram.callback_answer(await sam.press(theirs, "🗑 Delete"))
        assert "Only Alice, who added it, or an admin can delete it" in (refused.text or "")
        stale = await rig.telegram.callback_answer(await admin.press_data(card.message_id, forged))
        assert "no longer valid" in (stale.text or "")
