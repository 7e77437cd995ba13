"""Groups of recipients (issue 17), end to end over loopback: /group, /groups, a group's card and its buttons,
bad input; and reading several recipients (comma lists, groups expanded, duplicates once, MAX_RECIPIENTS) at
the service level, since the batch preview is another branch's (send.show_drafts)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.services.directory import Ambiguous, Directory, TooMany
from bot.sms.recipients import Recipient
from tests.conftest import ADMIN, OPERATOR


async def say(user: FakeUser, text: str) -> BotMessage:
    await user.send(text)
    return await user.next_message()


def group_audit(rig: Harness) -> list[str]:
    with sqlite3.connect(rig.db_path) as conn:
        rows = conn.execute("SELECT action, details FROM audit_log WHERE action LIKE 'group%' ORDER BY id")
        return [r[0] + " " + ",".join(json.loads(r[1]).get("members", [])) for r in rows]


async def test_make_show_list_replace_and_delete_a_group(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, "/contact Иван +7 904 176-49-95")
    await say(admin, "/contact Olga 8 916 123-45-67")
    saved = await say(admin, "/group Ops: иван, +7 926 123-45-67, Olga, 79041764995")
    assert "Group saved" in saved.plain and "Ops · members: 3" in saved.plain  # Иван's number once
    assert (
        "Иван (+7\u00a0904\u00a0176\u201149\u201195)" in saved.plain
        and "+7\u00a0926\u00a0123\u201145\u201167" in saved.plain
    )
    listing = await say(admin, "/groups")
    assert "Ops · members: 3" in listing.plain and listing.button_texts == ["👥 Ops"]
    card = await say(admin, "/group ops")
    assert card.button_texts == ["📨 Send", "🗑 Delete"] and "Olga (+7\u00a0916\u00a0123\u201145\u201167)" in card.plain
    # A member that is a contact follows its number.
    await say(admin, "/contact Olga +7 916 000-00-01")
    assert "Olga (+7\u00a0916\u00a0000\u201100\u201101)" in (await say(admin, "/group Ops")).plain
    replaced = await say(admin, "/group OPS: Olga")
    assert "Group replaced" in replaced.plain and "Ops · members: 1" in replaced.plain
    # A one-member group's Send: the text step, then the single preview.
    await admin.press(replaced, "📨 Send")
    assert "To Olga (+7\u00a0916\u00a0000\u201100\u201101)" in (await admin.next_message()).plain
    preview = await say(admin, "db1 is down")
    assert "To: Olga (+7\u00a0916\u00a0000\u201100\u201101)" in preview.plain
    # Its name is a recipient wherever a contact's is.
    preview = await say(admin, "/send ops Server down")
    assert "To: Olga (+7\u00a0916\u00a0000\u201100\u201101)" in preview.plain and "Server down" in preview.plain
    assert "On duty now: 👥 Ops" in (await say(admin, "/duty Ops")).plain
    await say(admin, f"/allow {OPERATOR}")
    oleg = rig.telegram.user(OPERATOR, first_name="Oleg", language_code="en")
    card = await say(oleg, "/group Ops")
    refused = await rig.telegram.callback_answer(await oleg.press(card, "🗑 Delete"))
    assert "Only Alice, who added it, or an admin can delete it" in (refused.text or "")
    card = await say(admin, "/group Ops")
    await admin.press(card, "🗑 Delete")
    await admin.wait_for(lambda m: m.message_id == card.message_id and "🗑 Delete anyway" in m.button_texts)  # on duty
    await admin.press(card, "🗑 Delete anyway")
    await admin.wait_for(lambda m: m.message_id == card.message_id and "Group deleted: Ops" in m.plain)
    assert "No groups yet" in (await say(admin, "/groups")).plain
    forged = await rig.telegram.callback_answer(await admin.press_data(card.message_id, "grp:send:1"))
    assert "no longer valid" in (forged.text or "")
    assert group_audit(rig) == [
        "group_add Иван,79261234567,Olga",
        "group_replace Olga",
        "group_delete ",
    ]


async def test_bad_group_input_is_answered_with_an_example(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await say(admin, "/contact Иван +7 904 176-49-95")
    assert "A group: its name, a colon" in (await say(admin, "/group")).plain
    nobody = await say(admin, "/group Ops: Иван, Петя")
    assert "No contact named “Петя”" in nobody.plain and "Example: /group Ops: Ivan Petrov" in nobody.plain
    assert "needs at least one member" in (await say(admin, "/group Ops:")).plain
    assert "The name is empty" in (await say(admin, "/group : Иван")).plain
    assert (
        "There is already a contact named Иван"
        in (await say(admin, "/group иван: +7\u00a0926\u00a0123\u201145\u201167")).plain
    )
    await say(admin, "/group Ops: Иван")
    assert (
        "There is already a group named Ops"
        in (await say(admin, "/contact ops +7\u00a0926\u00a0123\u201145\u201167")).plain
    )
    assert "is a group" in (await say(admin, "/group Night: Ops")).plain
    assert "<b>x</b> · members: 1" in (await say(admin, "/group <b>x</b>: Иван")).plain
    assert "No group named “Nope”" in (await say(admin, "/group Nope")).plain
    assert group_audit(rig) == ["group_add Иван", "group_add Иван"]


async def test_several_recipients_are_read_expanded_once_and_capped(tmp_path: Path) -> None:
    async with Harness(tmp_path, admin_ids=(ADMIN,), settings_overrides={"max_recipients": 3}) as rig:
        admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
        await say(admin, "/contact Иван +7 904 176-49-95")
        await say(admin, "/contact Ivan Petrov +7 904 176-49-96")
        await say(admin, "/contact Olga 8 916 123-45-67")
        await say(admin, "/contact Ivy +7 904 176-49-97")
        await say(admin, "/group Ops: Иван, Olga")
        assert rig.app is not None
        directory: Directory = rig.app.dp.workflow_data["directory"]
        read = await directory.read("Ops, иван, +7 926 123-45-67 Hello, check the logs")
        assert read.problem is None and read.text == "Hello, check the logs"
        assert read.recipients == [
            Recipient("79041764995", "Иван"),
            Recipient("79161234567", "Olga"),
            Recipient("79261234567"),
        ]
        one = await directory.read("Иван Hello, check the logs")
        assert one.recipients == [Recipient("79041764995", "Иван")] and one.text == "Hello, check the logs"
        over = await directory.read("Ops, Ivan Petrov, 79261234567 text")
        assert over.problem == TooMany(4, 3)
        refused = await say(admin, "/send Ops, Ivan Petrov, 79261234567 text")
        assert "That is 4 recipients: at most 3 in one send" in refused.plain
        choice = await directory.read("Ops, iv text")
        assert isinstance(choice.problem, Ambiguous)
        assert [e.name for e in choice.problem.choices] == ["Ivan Petrov", "Ivy"]
        chosen = await directory.choose(choice.slots, 1, choice.text)
        assert chosen is not None and chosen.recipients[-1] == Recipient("79041764997", "Ivy")
        assert await directory.choose(choice.slots, 5, choice.text) is None  # no such choice
        await say(admin, "/duty Ops")
        assert await directory.duty_recipients() == [Recipient("79041764995", "Иван"), Recipient("79161234567", "Olga")]
        assert rig.gateway.sent == []
