"""Control characters are removed from SMS texts and shown names (issue 19, finding 10)."""

from __future__ import annotations

from bot.devkit.harness import Harness
from bot.sms.clean import clean_name, clean_sms_text
from tests.conftest import ADMIN

RLO = "\u202e"


def test_the_pure_functions() -> None:
    assert clean_sms_text("a\x00b\u202ec\u2066d\x7f\x85e") == "abcde"
    assert clean_sms_text("line one\r\nline two\ttab") == "line one\nline two\ttab"
    assert clean_sms_text("Привет 👍🏽 — «ёлочки»") == "Привет 👍🏽 — «ёлочки»"
    assert clean_name(f"Eve{RLO}gnp.exe\n\x00 Smith") == "Evegnp.exe Smith"


async def test_a_nul_and_a_bidi_override_never_reach_the_gateway(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    await admin.send(f"/send 79041764995 db1\x00 is {RLO}down")
    preview = await admin.wait_for(lambda m: "Check before sending" in m.plain)
    await admin.press(preview, "✅ Send")
    await admin.wait_for(lambda m: m.message_id == preview.message_id and "Sent to" in m.plain)
    # Before the fix: 'db1\x00 is \u202edown' went to the gateway as is.
    assert rig.gateway.sent[0].text == "db1 is down"


async def test_a_bidi_override_in_a_name_does_not_reach_the_admins(rig: Harness) -> None:
    admin = rig.telegram.user(ADMIN, first_name="Alice", language_code="en")
    stranger = rig.telegram.user(3003, first_name=f"Eve{RLO}gnp.exe", language_code="en")
    await stranger.send("hello")
    request = await admin.wait_for(lambda m: "Access request" in m.plain)
    # Before the fix: 'Eve\u202egnp.exe' in the admin's access request.
    assert RLO not in request.plain and "Evegnp.exe" in request.plain
