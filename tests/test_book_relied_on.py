"""Issue 23 point 3: deleting or repointing what others rely on says what changes and asks once; a delete offers
↩️ Undo (the contact, its group memberships and duty come back); changes of duty and of a contact's number are
posted to the team feed. End to end over loopback, with a team chat."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from tests.conftest import ADMIN, OPERATOR

TEAM = -1009876543210
IVAN = "+7 904 176-49-95"


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


def members(rig: Harness) -> list[tuple[str, int]]:
    with sqlite3.connect(rig.db_path) as conn:
        return conn.execute(
            "SELECT g.name, m.contact_id FROM group_members m JOIN recipient_groups g ON g.id = m.group_id "
            "WHERE m.contact_id IS NOT NULL ORDER BY g.name, m.contact_id"
        ).fetchall()


async def test_deleting_the_one_on_duty_asks_once_and_undo_brings_everything_back(tmp_path: Path) -> None:
    h = Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"team_chat_id": TEAM})
    team = h.telegram.group(TEAM, "On-call team")
    async with h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await say(admin, f"/contact Ivan Petrov {IVAN}")
        await say(admin, "/contact Olga +7 916 123-45-67")
        await say(admin, "/group Night: Olga, Ivan Petrov")
        await say(admin, "/group Admins: Ivan Petrov")
        await say(admin, "/duty Ivan Petrov")
        assert "Alice set on duty: Ivan Petrov." in (await team.next_message(timeout=10)).plain
        card = await say(admin, "/contact Ivan Petrov")
        await admin.press(card, "🗑 Delete")
        asked = await admin.wait_for(lambda m: m.message_id == card.message_id and "anyway" in m.plain)
        assert "Ivan Petrov is on duty now: after the delete nobody is" in asked.plain
        assert "in groups Admins, Night: they lose this member" in asked.plain
        assert asked.button_texts == ["🗑 Delete anyway", "✖️ Keep"]
        assert len(members(h)) == 3  # nothing changed yet
        await admin.press(asked, "🗑 Delete anyway")
        gone = await admin.wait_for(lambda m: m.message_id == card.message_id and "Deleted: Ivan Petrov" in m.plain)
        assert "Nobody is on duty now" in gone.plain and "Removed from groups: Admins, Night" in gone.plain
        assert gone.button_texts == ["↩️ Undo"]
        assert "Nobody is on duty" in (await say(admin, "/duty")).plain
        assert members(h) == [("Night", 2)]
        await team.wait_for(lambda m: "nobody is on duty now" in m.plain, timeout=10)
        # ↩️ Undo: the contact with its id, its places in both groups, and duty.
        await admin.press(gone, "↩️ Undo")
        back = await admin.wait_for(lambda m: m.message_id == card.message_id and "Restored: Ivan Petrov" in m.plain)
        assert "Back in its groups: 2" in back.plain and "On duty again" in back.plain
        assert members(h) == [("Admins", 1), ("Night", 1), ("Night", 2)]
        assert "On duty: 👤 Ivan Petrov" in (await say(admin, "/duty")).plain
        night = await say(admin, "/group Night")
        assert night.plain.index("Olga") < night.plain.index("Ivan Petrov")  # its place in the list, too
        await team.wait_for(lambda m: "Alice set on duty: Ivan Petrov." in m.plain, timeout=10)
        # A second Undo does nothing; ✖️ Keep keeps.
        again = await h.telegram.callback_answer(await admin.press_data(card.message_id, "ct:undo:1"))
        assert "no longer valid" in (again.text or "")
        card = await say(admin, "/contact Ivan Petrov")
        await admin.press(card, "🗑 Delete")
        await admin.wait_for(lambda m: m.message_id == card.message_id and "✖️ Keep" in m.button_texts)
        await admin.press(card, "✖️ Keep")
        await admin.wait_for(lambda m: m.message_id == card.message_id and "Nothing was changed" in m.plain)
        assert len(members(h)) == 3
        # A contact nobody relies on goes at once, still with ↩️ Undo.
        olga = await say(admin, "/contact Olga")
        await say(admin, "/group Night: Ivan Petrov")
        await admin.press(olga, "🗑 Delete")
        await admin.wait_for(lambda m: m.message_id == olga.message_id and "↩️ Undo" in m.button_texts)
        # A group on duty asks too.
        await say(admin, "/duty Night")
        group = await say(admin, "/group Night")
        await admin.press(group, "🗑 Delete")
        asked = await admin.wait_for(lambda m: m.message_id == group.message_id and "anyway" in m.plain)
        assert "Night is on duty now" in asked.plain and "Delete the group anyway?" in asked.plain
        await admin.press(asked, "🗑 Delete anyway")
        gone = await admin.wait_for(lambda m: m.message_id == group.message_id and "Group deleted: Night" in m.plain)
        assert "Nobody is on duty" in (await say(admin, "/duty")).plain
        await admin.press(gone, "↩️ Undo")
        back = await admin.wait_for(lambda m: m.message_id == group.message_id and "Restored: Night" in m.plain)
        assert "On duty again" in back.plain and "Ivan Petrov" in back.plain
        assert "On duty: 👥 Night" in (await say(admin, "/duty")).plain


async def test_a_number_changed_by_another_is_asked_and_posted(tmp_path: Path) -> None:
    h = Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"team_chat_id": TEAM})
    team = h.telegram.group(TEAM, "On-call team")
    async with h:
        admin = h.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await say(admin, f"/allow {OPERATOR}")
        sam = h.telegram.user(OPERATOR, first_name="Sam", language_code="ru")
        await say(sam, f"/contact Иван Петров {IVAN}")
        await say(sam, "/duty Иван Петров")
        await team.wait_for(lambda m: "Sam set on duty: Иван Петров." in m.plain, timeout=10)
        asked = await say(admin, "/contact Иван Петров +7 900 000 00 51")
        assert "was added by Sam. Change its number from +7\u00a0904\u00a0176\u201149\u201195" in asked.plain
        assert "on duty now: SMS to duty will go to the new number" in asked.plain
        assert asked.button_texts == ["✅ Change", "✖️ Keep"]
        with sqlite3.connect(h.db_path) as conn:
            assert conn.execute("SELECT msisdn FROM contacts").fetchall() == [("79041764995",)]
        await admin.press(asked, "✅ Change")
        await admin.wait_for(lambda m: m.message_id == asked.message_id and "Updated: Иван Петров" in m.plain)
        line = await team.wait_for(lambda m: "changed the number of Иван Петров" in m.plain, timeout=10)
        assert "Alice" in line.plain and "+7\u00a0900\u00a0000\u201100\u201151" in line.plain
        # Its own contact's number Sam changes at once (and the feed says so).
        assert "Номер изменён: Иван Петров" in (await say(sam, "/contact Иван Петров +7 900 000 00 52")).plain
        await team.wait_for(lambda m: "Sam" in m.plain and "000\u201100\u201152" in m.plain, timeout=10)
