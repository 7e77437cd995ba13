"""Bad input, generated: every text reaches every place a person can type, and always gets a reply.

The inputs are drawn up front by Hypothesis (``derandomize=True``: the same list on every run, no example
database) and then fed through ONE bot in one async test — a Hypothesis example per event loop would cost
a bot start-up each. Fast tier (``tests.support.fast_client``): each update goes straight to the real Dispatcher. They mix control characters, bidirectional marks, emoji, ``< > &``, HTML and Markdown
metacharacters, digits that are not ASCII (``²``, ``١``, full-width), strings of 5000 characters, and
``/send`` followed by anything.

Each text is used

* at the number step (``/send``, then the text),
* at the text step (``/send 79041764995``, then the text),
* as the argument of ``/send``, ``/status`` and ``/allow`` (the admin's command);
* as a contact's or a group's name and a group's member (``/contact``, ``/group``), and ``/duty``'s recipient.

Every exchange must get exactly one reply; no update may end in an unhandled exception; the recorded Bot API
(which parses HTML as Telegram does) must never answer "can't parse entities" (or "too long", "empty"); and
where the bot shows the text back — a preview, the id of ``/status`` — it shows it literally.

The list is fed in SHARDS parts (every SHARDS-th input), each through a bot of its own: all the inputs, each
at every place, as one bot did it.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.sms.clean import clean_sms_text
from tests.support.fast_client import FastBot, FastUser, Sent, assert_serving
from tests.support.fault_support import describe, trap_logs, unhandled

ADMIN = 1001
EXAMPLES = 150
SHARDS = 3  # the inputs in parts of every 3rd, each a test of its own on a bot of its own: xdist runs them side by side

CONTROL = st.one_of(st.characters(min_codepoint=0, max_codepoint=0x1F), st.sampled_from("\x7f\x85\u2028\u2029\ufeff"))
BIDI = st.sampled_from(["\u200f", "\u200e", "\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u061c"])
EMOJI = st.sampled_from(["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇷🇺", "❤️", "🔥", "\U0001fae0", "\u200d", "\ufe0f"])
MARKUP = st.sampled_from(
    [
        *"<>&\"'*_[]()~`#+-=|{}.!\\/@:;",
        *["<b>", "</b>", "<i>x</i>", "<a href='http://x'>", "</a>", "&amp;", "&lt;", "&#60;", "&#x3c;", "&gt", "&;"],
        *["<br>", "<tg-spoiler>", "**bold**", "__it__", "`code`", "```pre```", "[link](http://x)", "<code>"],
        *["</blockquote>", "<blockquote>", "<script>alert(1)</script>", "<!--", "-->"],
    ]
)
DIGITS = st.sampled_from(
    ["²", "١٢٣", "０９", "⁹", "①", "𝟗", "7", "8", "+7", "9041764995", " ", "-", "(", ")", "0" * 20]
)
WORDS = st.text(st.characters(codec="utf-8"), max_size=25)
PIECE = st.one_of(CONTROL, BIDI, EMOJI, MARKUP, DIGITS, WORDS)
SHORT = st.lists(PIECE, min_size=1, max_size=12).map("".join)
LONG = SHORT.filter(lambda t: t.strip() != "").map(lambda t: (t * (5000 // len(t) + 1))[:5000])
TEXTS = st.one_of(
    SHORT,
    SHORT,
    LONG,
    SHORT.map(lambda t: "/send " + t),
    SHORT.map(lambda t: "/send 79041764995 " + t),
    SHORT.map(lambda t: "/status " + t),
).filter(lambda t: t.strip() != "")


@functools.cache  # the parts that run in one process draw once
def draw_texts(n: int) -> list[str]:
    """n texts from TEXTS, the same on every run."""
    out: list[str] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(TEXTS)
    def collect(text: str) -> None:
        out.append(text)

    collect()
    unique = list(dict.fromkeys(out))
    return unique[:n]


async def reply_to(user: FastUser, text: str) -> Sent:
    """Send ``text``; the one message the bot answered with (the update is handled when ``send`` returns)."""
    user.mark_seen()
    await user.send(text)
    replies = user.unseen()
    assert len(replies) == 1, (text[:80], replies)
    return replies[0]


@pytest.mark.parametrize("shard", range(SHARDS), ids=[f"part{k + 1}of{SHARDS}" for k in range(SHARDS)])
async def test_generated_inputs_at_every_step(tmp_path: Path, shard: int) -> None:
    drawn = draw_texts(EXAMPLES)
    assert len(drawn) >= EXAMPLES * 0.9, len(drawn)
    assert any(len(t) == 5000 for t in drawn)
    texts = drawn[shard::SHARDS]
    with trap_logs(logging.INFO) as trap:
        async with FastBot(tmp_path, admin_ids=(ADMIN,)) as h:
            admin = h.user(ADMIN, first_name="Alice", language_code="en")
            previews = 0
            for i, text in enumerate(texts):
                where = f"input #{i} {text[:80]!r}"
                # The number step.
                await reply_to(admin, "/send")
                await reply_to(admin, text)
                # The text step.
                await reply_to(admin, "/send 79041764995")
                reply = await reply_to(admin, text)
                if "Check before sending" in reply.plain and not text.startswith("/"):
                    previews += 1
                    assert clean_sms_text(text).rstrip() in reply.plain, where  # controls removed (finding 10)
                # Command arguments.
                await reply_to(admin, "/send " + text)
                status = await reply_to(admin, "/status " + text)
                if "SMS " in status.plain and "/status ah1acugxz98a27t9z" not in status.plain:
                    assert text.strip() in status.plain, where
                await reply_to(admin, "/allow " + text)
                # The address book (issue 16): as a name to save, to look up, to put in a group, to set on duty.
                await reply_to(admin, "/contact " + text + " +7 904 176-49-95")
                await reply_to(admin, "/contact " + text)
                await reply_to(admin, "/group " + text)
                await reply_to(admin, "/group Ops: " + text)
                await reply_to(admin, "/duty " + text)
                assert not h.telegram.parse_errors(), (where, h.telegram.parse_errors())
                assert not unhandled(trap.records), (where, describe(unhandled(trap.records)))
            await assert_serving(admin)
            assert previews > len(texts) / 4
            assert h.gateway.sent == []  # no Send was pressed: nothing left
    assert not unhandled(trap.records), describe(unhandled(trap.records))
