"""Issue 27, point 5, in polling mode: the database goes away under two `python -m bot` replicas.

The replicas reach PostgreSQL through a TCP proxy each (in this test), which is cut as a network partition cuts:
packets go nowhere, nothing is refused (every wait in the bot is a timeout). The contract: an operator's request is
answered in words within 15 s, nothing is lost, nothing is handled twice, the processes keep running and reconnect
by themselves. The poller that lost the database polls on only to answer in words (bot/replicas/poller.py, outage
mode), confirming each update first: what it told "try again" is never done later; and it gives way at once
when another replica, which can reach the database, takes the lease and polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram, FakeUser
from bot.i18n import make_i18n
from bot.replicas.outage import OutageAnswers
from bot.storage.db import Database
from tests.support.deploy_fixtures import ADMIN, eventually, gateway, telegram
from tests.support.engines import select
from tests.support.replicas import FAILOVER, Replica, Replicas, pg_url, replicas

__all__ = ["gateway", "pg_url", "telegram"]

NUMBER = "79041764995"
OLGA = 1002
WORDS = "database is not answering"
IN_WORDS_WITHIN = 15.0  # the contract
SPREAD = 20  # messages written across a switch of pollers


class PgProxy:
    """127.0.0.1:<port> → the PostgreSQL server. `partition()`: what is sent either way is dropped and new
    connections are accepted but never answered (a network that went away); `heal()`: connections held
    meanwhile are closed (as the peers' timeouts long ended them) and new ones go through again."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.url_template = url
        self.parted = False
        self.port = 0
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        host, port = self.target
        return self.url_template.replace(f"@{host}:{port}/", f"@127.0.0.1:{self.port}/")

    async def start(self) -> PgProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._links.add(writer)
        if self.parted:
            await self._drain_forever(reader)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._links.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._links.discard(w)
            w.close()

    async def _drain_forever(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            while await reader.read(65536):
                pass

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self.parted:  # parted: dropped on the floor, as a dead network does
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.close()

    def partition(self) -> None:
        self.parted = True

    def heal(self) -> None:
        self.parted = False
        for writer in list(self._links):
            writer.close()
        self._links.clear()

    async def close(self) -> None:
        self.heal()
        if self._server is not None:
            self._server.close()


def plain(user: FakeUser) -> list[str]:
    return [m.plain for m in user.messages]


def in_words(user: FakeUser) -> int:
    return sum(1 for text in plain(user) if WORDS in text)


def mentions(user: FakeUser, i: int) -> int:
    """Messages of the bot that name note i (its preview, as it is now, and notices about its SMS)."""
    return sum(1 for text in plain(user) if re.search(rf"\bnote {i}\b", text))


def answers(user: FakeUser, i: int) -> int:
    """The bot's answers to `/template probe<i>` (there is no such template: it says so, naming it)."""
    return sum(1 for text in plain(user) if re.search(rf"\bprobe{i}\b", text))


def previews(user: FakeUser, i: int) -> int:
    return sum(1 for text in plain(user) if f"note {i} " in text + " " and "Check before sending" in text)


async def ask_in_outage(user: FakeUser, i: int) -> float:
    """Write note i; the answer must be the words, within 15 s. Returns how long it took."""
    before = in_words(user)
    started = time.monotonic()
    await user.send(f"/send {NUMBER} note {i}")
    await user.wait_for(lambda m: WORDS in m.plain and in_words(user) > before, timeout=IN_WORDS_WITHIN)
    took = time.monotonic() - started
    assert took < IN_WORDS_WITHIN
    return took


def logged_at(replica: Replica, pattern: str) -> datetime:
    """When the replica first logged a line matching `pattern` (its log's own clock: this machine's)."""
    line = next((x for x in replica.process.lines if re.search(pattern, x)), None)
    assert line is not None, f"{replica} never logged {pattern!r}"
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def conflicts(replica: Replica) -> int:
    return len(re.findall(r"another poller is active|gives way", replica.process.output))


async def two_replicas(group: Replicas, proxies: list[PgProxy]) -> dict[str, PgProxy]:
    """r1 on the first proxy, r2 on the second; r1 leads (it started first and took the free lease)."""
    group.database_url = proxies[0].url
    (r1,) = await group.start(1)
    assert await group.leader() is r1
    group.database_url = proxies[1].url
    (r2,) = await group.start(1)
    return {r1.name: proxies[0], r2.name: proxies[1]}


async def at_rest(group: Replicas, replica: Replica) -> None:
    """Every update the replica began has ended (its metrics: begun per type == timed per type), so that the cut
    meets no update half-way (that one would rightly be told "not answering" too, after its preview)."""

    async def idle() -> bool | None:
        text = await group.metrics(replica)
        begun = dict(re.findall(r'^smska_bot_updates_total\{type="(\w+)"\} (\S+)$', text, re.M))
        ended = dict(re.findall(r'^smska_bot_update_seconds_count\{type="(\w+)"\} (\S+)$', text, re.M))
        return True if begun and begun == ended else None

    await eventually(idle, 15, f"{replica} at rest")


async def sent_to_number(gateway: SandboxGateway) -> int:
    return sum(1 for r in gateway.requests if r.action == "send" and r.fields.get("MSISDN") == NUMBER)


async def test_a_database_outage_under_two_pollers_is_answered_in_words_and_loses_nothing(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    proxies = [await PgProxy(pg_url).start() for _ in range(2)]
    try:
        async with replicas(tmp_path, telegram, gateway, proxies[0].url, ADMIN_IDS=f"{ADMIN},{OLGA}") as group:
            await two_replicas(group, proxies)
            first = await group.leader()
            admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
            await admin.send(f"/send {NUMBER} note 1")
            shown = await admin.wait_for(lambda m: previews(admin, 1) == 1 and "note 1" in m.plain, timeout=15)
            await at_rest(group, await group.leader())

            for proxy in proxies:  # the database is gone for both
                proxy.partition()
            took = [await ask_in_outage(admin, 2)]  # at once: the poller has not even noticed yet
            await first.process.wait_line("a standby now", timeout=FAILOVER * 3)  # fenced: it stopped its work
            for i in range(3, 6):  # and nobody can take the lease over: still answered, in words
                took.append(await ask_in_outage(admin, i))
            olga = telegram.user(OLGA, first_name="Ольга", language_code="ru")  # in her own language
            await olga.send("/balance")
            await olga.wait_for(lambda m: "База данных бота не отвечает" in m.plain, timeout=IN_WORDS_WITHIN)
            press = await admin.press(shown, "✅ Send")  # a press meets the outage: told, and never done later
            answer = await telegram.callback_answer(press, timeout=IN_WORDS_WITHIN)
            assert answer.show_alert and answer.text and WORDS in answer.text
            # Nobody does the bot's own work meanwhile (/readyz itself waits on the database: the logs say it).
            assert "the leader now" not in group.replicas[1].process.output

            for proxy in proxies:
                proxy.heal()
            await group.leader(timeout=FAILOVER * 3)
            # Until the fenced poller's own lease round reaches the database again, or the new leader's getUpdates
            # ends its long poll (409), an update may still be answered in words: the operator would simply retry.
            await first.process.wait_line("outage polling stopped", timeout=FAILOVER * 3)
            helped = len(admin.messages)
            await admin.send("/help")  # served again: what was still pending at Telegram would have come first
            await admin.wait_for(lambda m: len(admin.messages) > helped and "/send" in m.plain, timeout=15)
            assert await sent_to_number(gateway) == 0  # the press told "try again" was not done meanwhile
            await admin.press(shown, "✅ Send")  # ... and the operator's second try sends it, once
            await admin.wait_for(lambda m: m.message_id == shown.message_id and "Sent to" in m.plain, timeout=15)
            await admin.send(f"/send {NUMBER} note 6")
            late = await admin.wait_for(lambda m: "note 6" in m.plain and "Check before sending" in m.plain, 15)
            await admin.press(late, "✅ Send")
            await admin.wait_for(lambda m: m.message_id == late.message_id and "Sent to" in m.plain, timeout=15)

            # Each update once: the outage's four messages in words only, never handled later as well.
            assert {i: mentions(admin, i) for i in range(2, 6)} == dict.fromkeys(range(2, 6), 0)
            assert in_words(admin) == 4
            rows = select(pg_url, "SELECT text, state FROM sends ORDER BY id")
            assert [(r["text"], r["state"]) for r in rows] == [("note 1", "accepted"), ("note 6", "accepted")]
            assert await sent_to_number(gateway) == 2
            assert all(r.alive and r.process.proc and r.process.proc.returncode is None for r in group.replicas)
            # One poller at a time, throughout: at most the fenced poller's one give-way (a new leader's getUpdates
            # ended its long poll), never a storm of 409s.
            assert [conflicts(r) for r in group.replicas] in ([0, 0], [1, 0])
            print(f"answered in words after {', '.join(f'{t:.2f}' for t in took)} s")
    finally:
        for proxy in proxies:
            await proxy.close()


async def test_a_poller_cut_off_alone_gives_way_to_the_standby_without_a_409_storm(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    proxies = [await PgProxy(pg_url).start() for _ in range(2)]
    try:
        async with replicas(tmp_path, telegram, gateway, proxies[0].url) as group:
            await two_replicas(group, proxies)
            r1, r2 = group.replicas
            admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
            await admin.send(f"/send {NUMBER} note 1")
            await admin.wait_for(lambda m: "note 1" in m.plain, timeout=15)
            await at_rest(group, await group.leader())

            proxies[0].partition()  # only the poller loses the database; the standby still reaches it
            cut = datetime.now()
            for i in range(2, SPREAD + 2):  # one every 0.25 s across the switch (the workload's pace, not a wait)
                await admin.send(f"/template probe{i}")
                await asyncio.sleep(0.25)

            async def all_answered() -> bool | None:
                return (
                    True if in_words(admin) + sum(answers(admin, i) for i in range(2, SPREAD + 2)) >= SPREAD else None
                )

            await eventually(all_answered, IN_WORDS_WITHIN, "every message across the switch answered")
            assert await group.leader(timeout=FAILOVER * 2) is r2
            leads = logged_at(r2, "the leader now") - cut
            gave_way = logged_at(r1, "gives way") - cut
            await admin.send("/template probe99")
            await admin.wait_for(lambda m: answers(admin, 99) == 1, timeout=15)

            proxies[0].heal()  # r1 reaches the database again: it stays a standby, r2 polls on
            await r1.process.wait_line("outage polling stopped", timeout=FAILOVER * 2)
            await r1.process.wait_line("the database answers again|a standby now", timeout=FAILOVER * 2)
            await admin.send("/template probe100")
            await admin.wait_for(lambda m: answers(admin, 100) == 1, timeout=15)
            assert await group.roles() == {"r1": "standby", "r2": "leader"}

            # Every message answered exactly once: a preview or the words, never both, never none.
            words = in_words(admin)
            handled = {i: answers(admin, i) for i in range(2, SPREAD + 2)}
            assert set(handled.values()) <= {0, 1}
            assert sum(handled.values()) + words == SPREAD, (handled, words)
            assert all(r.alive and r.process.proc and r.process.proc.returncode is None for r in group.replicas)
            assert conflicts(r1) <= 1 and conflicts(r2) <= 2, (conflicts(r1), conflicts(r2))
            print(
                f"r2 leads {leads.total_seconds():.2f} s and r1 gives way {gave_way.total_seconds():.2f} s after the cut;"
                f" in words: {words}, handled: {sum(handled.values())}, 409s: {conflicts(r1)} + {conflicts(r2)}"
            )
    finally:
        for proxy in proxies:
            await proxy.close()


async def test_a_small_value_changed_on_one_replica_is_read_as_changed_on_the_other(pg_url: str) -> None:
    # The low-balance mark: cleared by the replica that saw the balance rise, read after every send by any.
    # Remembered per process, another replica would never warn the admins again (or warn them twice).
    a, b = await Database.open_postgres(pg_url), await Database.open_postgres(pg_url)
    try:
        assert await a.kv.get("low_balance_warned") is None
        assert await b.kv.get("low_balance_warned") is None
        await a.kv.set("low_balance_warned", "12.50")
        assert await b.kv.get("low_balance_warned") == "12.50"
        await b.kv.set("low_balance_warned", None)
        assert await a.kv.get("low_balance_warned") is None
    finally:
        await a.close()
        await b.close()


async def test_the_low_balance_mark_is_claimed_by_one_replica_of_two_at_once(pg_url: str) -> None:
    # Two sends accepted at once on two replicas, both below the threshold: the admins are told once.
    a, b = await Database.open_postgres(pg_url), await Database.open_postgres(pg_url)
    try:
        for trial in range(10):
            key = f"low_balance_trial_{trial}"
            won = await asyncio.gather(a.kv.claim(key, "9.50"), b.kv.claim(key, "9.40"))
            assert sorted(won) == [False, True]
            assert await a.kv.get(key) == await b.kv.get(key) in ("9.50", "9.40")
    finally:
        await a.close()
        await b.close()


async def test_in_an_outage_messages_and_presses_are_answered_in_the_persons_language_and_the_team_chat_not(
    telegram: FakeTelegram,
) -> None:
    # What outage mode says to each kind of update, through a real Bot against the fake Bot API server.
    bot = telegram.make_bot()
    try:
        answers = OutageAnswers(bot, make_i18n("en"), "en")
        olga = telegram.user(OLGA, first_name="Ольга", language_code="ru")
        admin = telegram.user(ADMIN, first_name="Alice", language_code="en")
        team = telegram.group(title="On call")
        buttons = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="✅ Send", callback_data="s:1")]])
        shown = await bot.send_message(ADMIN, "preview", reply_markup=buttons)
        await olga.send(f"/send {NUMBER} диск")
        await admin.send("DiskFull on db1", chat=team)  # the team chat: silent, as the access gate keeps it
        press = await admin.press(shown.message_id, "✅ Send", chat=admin)
        for update in await bot.get_updates(timeout=0):
            await answers.answer(update)
        assert [m.plain for m in olga.messages] == [
            "⚠️ База данных бота не отвечает, попробуйте через минуту. Если вы отправляли СМС, сначала проверьте "
            "/history."
        ]
        assert [m.plain for m in team.messages] == []
        alert = await telegram.callback_answer(press, timeout=1)
        assert alert.show_alert and alert.text and WORDS in alert.text
        assert [m.plain for m in admin.messages] == ["preview"]  # the alert said it: no message besides
    finally:
        await bot.session.close()
