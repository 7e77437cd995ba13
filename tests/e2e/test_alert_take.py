"""✋ I'm on it (issue 28 point 1), end to end over loopback on both engines: POST to the bot's /alerts, the real
Dispatcher, the fake Telegram. Two operators: the first ✋ takes the group and every copy and the team feed line
say who; a second presser is told who has it; the taker sees ↩️, which lets it go on every copy; takes and
let-gos are audited; a resolution shows ✅ without buttons and clears the take; a re-fire is a new message; two
presses at the same moment take it once; a revoked operator's press and a press on a deleted group are answered."""

from __future__ import annotations

from pathlib import Path

from bot.devkit.harness import Harness
from bot.devkit.telegram import BotMessage, FakeUser
from bot.ui.alert_keyboards import AlertTakeCb
from tests.conftest import ADMIN, OPERATOR
from tests.e2e.test_alerts_handled import fire, resolve
from tests.e2e.test_alerts_in import TEAM, alert_rig, firing, people
from tests.support.alert_payloads import alert, alertmanager, post
from tests.support.engines import execute, select


def quick_edits(h: Harness) -> None:
    """An alert message or feed line is edited at most once per 3 s (the queue's gap; kept, and proved in
    test_team_feed.py): here take, let go and take again follow one another at a person's pace, and this test
    is about who holds the group, not about that pace."""
    assert h.app is not None
    h.app.queue.gap = 0.05


async def fired_to_both(h: Harness) -> tuple[FakeUser, FakeUser, BotMessage, BotMessage]:
    """Alice (admin, English) and Oleg (operator, Russian), and each one's copy of a group that just fired."""
    quick_edits(h)
    admin, oleg = await people(h)
    mine = await fire(h, admin)
    theirs = await oleg.wait_for(lambda m: firing(m.plain), timeout=10)
    return admin, oleg, mine, theirs


def taken(m: BotMessage, who: str) -> bool:
    return f"✋ {who}," in m.plain


async def test_the_first_take_shows_on_every_copy_the_second_is_told_who_and_let_go_frees_it(
    tmp_path: Path, engine: str
) -> None:
    async with alert_rig(tmp_path) as h:
        admin, oleg, mine, theirs = await fired_to_both(h)
        line = await h.telegram.group(TEAM).wait_for(lambda m: firing(m.plain), timeout=10)
        assert mine.button_texts == ["📨 SMS to duty", "✋ I'm on it"]
        assert theirs.button_texts == ["📨 СМС дежурному", "✋ Беру"]
        assert not line.buttons

        toast = await h.telegram.callback_answer(await oleg.press(theirs, "✋ Беру"))
        assert toast.text == "✋ Тревога за вами — это видят все."
        own = await oleg.wait_for(lambda m: m.message_id == theirs.message_id and taken(m, "Oleg"), timeout=10)
        assert own.button_texts == ["📨 СМС дежурному", "↩️ Снять с себя"]
        seen = await admin.wait_for(lambda m: m.message_id == mine.message_id and taken(m, "Oleg"), timeout=10)
        assert seen.button_texts == ["📨 SMS to duty", "✋ I'm on it"]
        await h.telegram.group(TEAM).wait_for(lambda m: m.message_id == line.message_id and taken(m, "Oleg"))

        # Alice presses ✋ too: told who has it, and nothing changes.
        late = await h.telegram.callback_answer(await admin.press(seen, "✋ I'm on it"))
        assert (late.text or "").startswith("✋ Oleg is already on it, since ")
        # Oleg presses ✋ again on a copy not redrawn yet (a quick double press): told it is his.
        again = await h.telegram.callback_answer(await oleg.press_data(theirs.message_id, _take(h, True)))
        assert again.text == "✋ Тревога уже за вами."
        assert select(h, "SELECT taken_by FROM alert_groups") == [{"taken_by": OPERATOR}]

        # Oleg lets it go: every copy offers ✋ again and no longer names him.
        bye = await h.telegram.callback_answer(await oleg.press(own, "↩️ Снять с себя"))
        assert bye.text == "↩️ Вы сняли тревогу с себя: теперь её может взять любой."
        free = await oleg.wait_for(lambda m: m.message_id == theirs.message_id and not taken(m, "Oleg"), timeout=10)
        assert free.button_texts == ["📨 СМС дежурному", "✋ Беру"]
        await admin.wait_for(lambda m: m.message_id == mine.message_id and not taken(m, "Oleg"), timeout=10)
        await h.telegram.group(TEAM).wait_for(lambda m: m.message_id == line.message_id and not taken(m, "Oleg"))
        # A stale ↩️ (pressed again after the let-go) changes nothing and says so.
        stale = await h.telegram.callback_answer(await oleg.press_data(theirs.message_id, _take(h, False)))
        assert stale.text == "Этой тревогой сейчас никто не занимается."

        # Now Alice takes it.
        await admin.press(mine, "✋ I'm on it")
        await oleg.wait_for(lambda m: m.message_id == theirs.message_id and taken(m, "Alice"), timeout=10)
        audit = select(h, "SELECT actor_id, action FROM audit_log WHERE action LIKE 'alert_%' ORDER BY id")
        assert [(r["actor_id"], r["action"]) for r in audit] == [
            (OPERATOR, "alert_take"),
            (OPERATOR, "alert_let_go"),
            (ADMIN, "alert_take"),
        ]
        assert len([m for m in admin.messages if firing(m.plain)]) == 1  # edited, never posted again


def _take(h: Harness, take: bool) -> str:
    """The callback data of the ✋ (`take`) or ↩️ button of the group (a press of a copy drawn before)."""
    group_id = select(h, "SELECT id FROM alert_groups")[0]["id"]
    return AlertTakeCb(group_id=group_id, take=take).pack()


async def test_resolved_shows_done_without_buttons_clears_the_take_and_a_refire_rings_anew(
    tmp_path: Path, engine: str
) -> None:
    async with alert_rig(tmp_path) as h:
        admin, oleg, mine, theirs = await fired_to_both(h)
        await admin.press(mine, "✋ I'm on it")
        await oleg.wait_for(lambda m: m.message_id == theirs.message_id and taken(m, "Alice"), timeout=10)

        await resolve(h)
        done = await admin.wait_for(lambda m: m.message_id == mine.message_id and "RESOLVED" in m.plain, timeout=10)
        assert not done.buttons and "✋" not in done.plain
        gone = await oleg.wait_for(lambda m: m.message_id == theirs.message_id and "ОТБОЙ" in m.plain, timeout=10)
        assert not gone.buttons
        assert select(h, "SELECT taken_by, taken_at FROM alert_groups") == [{"taken_by": None, "taken_at": None}]
        # A ✋ pressed on the copy before it was redrawn is answered in words.
        late = await h.telegram.callback_answer(await oleg.press_data(theirs.message_id, _take(h, True)))
        assert late.show_alert and "брать нечего" in (late.text or "")

        # It fires again: a new message in every chat (phones ring), nobody on it; the old copies stay resolved.
        assert (await post(h.http_url, alertmanager([alert()]))).status_code == 200
        anew = await admin.wait_for(lambda m: firing(m.plain) and m.message_id != mine.message_id, timeout=10)
        assert anew.button_texts == ["📨 SMS to duty", "✋ I'm on it"] and "✋ Alice" not in anew.plain
        await oleg.wait_for(lambda m: firing(m.plain) and m.message_id != theirs.message_id, timeout=10)
        assert "RESOLVED" in admin.messages[admin.messages.index(mine)].plain
        # A ✋ on the old copy is stale: answered in words, takes nothing.
        old = await h.telegram.callback_answer(await oleg.press_data(theirs.message_id, _take(h, True)))
        assert old.show_alert and old.text == "Эта кнопка больше не действует."
        assert select(h, "SELECT taken_by FROM alert_groups") == [{"taken_by": None}]


async def test_two_presses_at_once_take_it_once_and_a_revoked_operator_or_a_deleted_group_is_answered_in_words(
    tmp_path: Path, engine: str
) -> None:
    async with alert_rig(tmp_path) as h:
        admin, oleg, mine, theirs = await fired_to_both(h)
        # Both press ✋ at the same moment: one takes it, the other is told who has it.
        presses = [await admin.press(mine, "✋ I'm on it"), await oleg.press(theirs, "✋ Беру")]
        answers = [await h.telegram.callback_answer(p) for p in presses]
        [row] = select(h, "SELECT taken_by FROM alert_groups")
        winner = row["taken_by"]
        assert winner in (ADMIN, OPERATOR)
        won, lost = (answers[0], answers[1]) if winner == ADMIN else (answers[1], answers[0])
        assert won.text in ("✋ You're on it: everyone sees it.", "✋ Тревога за вами — это видят все.")
        other = "Oleg" if winner == OPERATOR else "Alice"
        assert other in (lost.text or "")
        takes = select(h, "SELECT actor_id FROM audit_log WHERE action = 'alert_take'")
        assert takes == [{"actor_id": winner}]
        # Every copy says who won; the winner lets it go, so that Oleg's withdrawn access is what stops him below.
        if winner == OPERATOR:
            await admin.wait_for(lambda m: m.message_id == mine.message_id and taken(m, "Oleg"), timeout=10)
            own = await oleg.wait_for(lambda m: "↩️ Снять с себя" in m.button_texts, timeout=10)
            await oleg.press(own, "↩️ Снять с себя")
        else:
            await oleg.wait_for(lambda m: m.message_id == theirs.message_id and taken(m, "Alice"), timeout=10)
            own = await admin.wait_for(lambda m: "↩️ Let go" in m.button_texts, timeout=10)
            await admin.press(own, "↩️ Let go")
        await oleg.wait_for(lambda m: m.message_id == theirs.message_id and "✋" not in m.plain, timeout=10)

        # Oleg's access is withdrawn: his ✋ is answered in words and takes nothing.
        await admin.send(f"/deny {OPERATOR}")
        await admin.next_message()
        refused = await h.telegram.callback_answer(await oleg.press(theirs, "✋ Беру"))
        assert refused.text and refused.show_alert
        assert select(h, "SELECT taken_by FROM alert_groups") == [{"taken_by": None}]

        # The group is gone (deleted from the database): a ✋ on its message says the button no longer works.
        execute(h, "DELETE FROM alert_groups", [()])
        gone = await h.telegram.callback_answer(await admin.press(mine, "✋ I'm on it"))
        assert gone.show_alert and gone.text == "This button is no longer valid."
