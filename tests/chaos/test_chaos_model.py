"""Issue 6 (A.1): a seeded random model of sending, over the whole bot (tests.support.chaos_support explains the
invariants).

Each run is a fresh bot (sandbox gateway + fake Telegram + the real app, polling) driven by a seeded random
sequence of what operators and the world do: previews created, Send pressed once, twice, in bursts, on stale
previews and after Cancel; Cancel; sender changes; gateway faults of every kind on the next send; Telegram
429s and expired callback queries; bot restarts — without waiting for one action's effect before the next,
so presses race each other, Cancel, and restarts. After each run the send log, the gateway's records and
what each operator saw are checked.

Deterministic in its choices (`CHAOS_SEED`), bounded in time: `CHAOS_RUNS` runs of `CHAOS_STEPS` steps
(default 5 x 40; `CHAOS_RUNS=60` for a long soak), each run a test of its own (`[run<n>]`, seed CHAOS_SEED + n)
so that xdist runs them side by side. A failure names the run's seed and its trace.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.devkit.harness import Harness
from bot.devkit.sandbox import Fault
from bot.devkit.telegram import BotMessage, ChatView, FakeUser
from bot.ui.batch_keyboards import BatchCb
from bot.ui.callbacks import SendCb, SenderCb
from tests.support.chaos_support import (
    ERROR_NET,
    SETTLED,
    Findings,
    LogWatch,
    Row,
    audit,
    audit_batches,
    delivery_notices,
    eventually,
    is_batch,
    is_delivery_notice,
    operator_told,
    read_members,
    read_sends,
    snapshot,
    token_of,
    unhandled_records,
)

RUNS = int(os.environ.get("CHAOS_RUNS", "5"))
STEPS = int(os.environ.get("CHAOS_STEPS", "40"))
SEED = int(os.environ.get("CHAOS_SEED", "6061"))

USERS = (1001, 1002, 1003, 1004)
GATEWAY_TIMEOUT = 1.0  # SMSKA_TIMEOUT of the bot under test: a HANG costs this much
ERROR_NUMBERS = ("79000000003", "79000000005", "79000000006")  # the sandbox answers 3 / 5 / 6
NUMBERS = ("79041764995", "79161234567", "79000000051", "79000000071", "79000000081", "79000000091", *ERROR_NUMBERS)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"

# Gateway faults on the next send, and what the operator must then be told.
SEND_FAULTS: dict[str, tuple[Fault, str]] = {
    "http_500": (Fault.HTTP_500, "unknown"),
    "html": (Fault.HTML, "unknown"),
    "empty": (Fault.EMPTY, "unknown"),
    "garbage": (Fault.GARBAGE, "unknown"),
    "hang": (Fault.HANG, "unknown"),
    "drop": (Fault.DROP, "unknown"),
    "drop_after_send": (Fault.DROP_AFTER_SEND, "unknown"),
    "slow_long": (Fault.SLOW, "unknown"),
    "slow_short": (Fault.SLOW, "as_number"),
    "error": (Fault.ERROR, "failed"),
}
ERROR_CODES = (1, 3, 4, 5, 6, 7, 42)
TELEGRAM_FAULTS = (
    ("editMessageText", 429),
    ("answerCallbackQuery", 429),
    ("sendMessage", 429),
    ("answerCallbackQuery", 400),  # the query expired (Telegram: ~15 s), e.g. during a slow send
    ("answerCallbackQuery", 502),
)
ACTIONS = {
    "compose": 3.0,
    "press": 4.0,
    "cancel": 1.2,
    "send_and_cancel": 0.6,
    "sender": 1.0,
    "send_fault": 1.0,
    "telegram_fault": 0.5,
    "restart": 0.6,
    "settle": 1.0,
}
# Sends to several recipients (issue 17), drawn from their own random sequence between the actions above (so
# that those stay the sequence they were): pressed once or twice, maybe cancelled, in random order; or a press
# on an old batch preview (sent, cancelled, or still open).
BATCH_ACTIONS = {"batch": 3.0, "batch_stale": 1.0}
BATCH_SHARE = 0.15
# Records that are expected: they say what happened, they are not an escaped exception.
EXPECTED_LOGS = (
    r"^Telegram asked to wait",
    r"^SMS outcome unknown",
)


@dataclass
class Draft:
    token: str
    user: FakeUser
    message_id: int
    draft_id: int
    presses: int = 0
    cancels: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def go(self) -> str:
        return SendCb(action="go", draft_id=self.draft_id).pack()

    @property
    def cancel(self) -> str:
        return SendCb(action="cancel", draft_id=self.draft_id).pack()


@dataclass
class BatchDraft:
    token: str
    user: FakeUser
    message_id: int
    batch_id: int
    numbers: list[str]
    presses: int = 0
    cancelled_first: bool = False
    raced: bool = False

    def data(self, action: str) -> str:
        return BatchCb(action=action, batch_id=self.batch_id).pack()  # type: ignore[arg-type]


@dataclass
class Stats:
    runs: int = 0
    steps: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    overlapping: int = 0  # actions issued while earlier updates or sends were still being handled
    bigrams: set[tuple[str, str]] = field(default_factory=set)
    histories: set[tuple[str, ...]] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)
    gateway_sends: int = 0
    duplicate_notices: int = 0


class Model:
    def __init__(self, h: Harness, rng: random.Random, run: int, stats: Stats) -> None:
        self.h = h
        self.rng = rng
        self.run = run
        self.stats = stats
        self.users = [h.telegram.user(uid, f"Duty{uid}", language_code="en") for uid in USERS]
        self.drafts: list[Draft] = []
        self.batches: list[BatchDraft] = []
        self.batch_rng = random.Random(f"{SEED}:{run}:batches")
        self.faults: list[str] = []  # injected send faults, in order (the gateway takes them in that order)
        self.trace: list[str] = []
        self.n = 0

    # --- helpers -----------------------------------------------------------------------------------
    def busy(self) -> bool:
        app = self.h.app
        batches = app.batches if app is not None else None
        sending = bool(batches and (batches._runs or batches._inflight or batches._boards))
        return bool(
            self.h.telegram.pending_updates
            or sending
            or (app and (app.dp._handle_update_tasks or app.sending._inflight))
        )

    async def settle(self, timeout: float = 20.0) -> None:
        await eventually(lambda: None if self.busy() else True, timeout, "updates and sends handled")

    def note(self, draft: Draft, event: str) -> None:
        draft.history.append(event)
        self.trace.append(f"{event} {draft.token}")

    def pick(self) -> Draft | None:
        if not self.drafts:
            return None
        fresh = [d for d in self.drafts if not d.presses and not d.cancels]
        if fresh and self.rng.random() < 0.7:
            return self.rng.choice(fresh)
        return self.rng.choice(self.drafts)  # often stale: pressed, cancelled or sent already

    async def press(self, draft: Draft, data: str) -> None:
        await draft.user.press_data(draft.message_id, data)

    # --- actions -----------------------------------------------------------------------------------
    async def compose(self) -> None:
        user = self.rng.choice(self.users)
        self.n += 1
        token = f"Zq{self.run}n{self.n}"
        text = self.rng.choice([f"Incident {token}: db1 down", f"Авария {token}: нет связи"])
        await user.send(f"/send {self.rng.choice(NUMBERS)} {text}")
        preview = await ChatView(self.h.telegram, user.state).wait_for(
            lambda m: token in m.plain and "Check before sending" in m.plain, timeout=15
        )
        data = SendCb.unpack(str(preview.buttons[0][0].data))
        draft = Draft(token, user, preview.message_id, data.draft_id)
        self.drafts.append(draft)
        self.note(draft, "compose")

    async def batch(self) -> None:
        """A send to 2-4 recipients: Send pressed once or twice, maybe Cancel too, in a random order."""
        user = self.batch_rng.choice(self.users)
        self.n += 1
        token = f"Zq{self.run}b{self.n}"
        numbers = self.batch_rng.sample(NUMBERS, self.batch_rng.randint(2, 4))
        await user.send("/send " + ", ".join(numbers) + f" Incident {token}: db1 down")
        preview = await ChatView(self.h.telegram, user.state).wait_for(
            lambda m: token in m.plain and "Check before sending" in m.plain, timeout=15
        )
        batch = BatchDraft(
            token, user, preview.message_id, BatchCb.unpack(str(preview.buttons[0][0].data)).batch_id, numbers
        )
        self.batches.append(batch)
        order = ["go"] * self.batch_rng.choice([1, 1, 2]) + (["cancel"] if self.batch_rng.random() < 0.3 else [])
        self.batch_rng.shuffle(order)
        batch.presses = order.count("go")
        self.trace.append(f"batch {token} to {len(numbers)}: {'+'.join(order)}")
        batch.cancelled_first = order == ["cancel"]  # Cancel alone: nothing may go out
        batch.raced = len(set(order)) > 1  # Send and Cancel race: either wins, wholly
        for action in order:
            await user.press_data(batch.message_id, batch.data(action))

    async def batch_stale(self) -> None:
        if not self.batches:
            return await self.batch()
        batch = self.batch_rng.choice(self.batches)
        self.trace.append(f"stale batch press {batch.token}")
        batch.presses += 1
        await batch.user.press_data(batch.message_id, batch.data("go"))

    async def do_press(self) -> None:
        draft = self.pick()
        if draft is None:
            return await self.compose()
        mode = self.rng.choices(["single", "double", "burst"], [5, 3, 2])[0]
        count = {"single": 1, "double": 2, "burst": self.rng.randint(3, 5)}[mode]
        stale = "stale " if draft.presses or draft.cancels else ""
        draft.presses += count
        self.note(draft, f"{stale}press:{mode}")
        for _ in range(count):
            await self.press(draft, draft.go)

    async def cancel(self) -> None:
        draft = self.pick()
        if draft is None:
            return
        draft.cancels += 1
        self.note(draft, "cancel" if not draft.presses else "cancel-after-send")
        await self.press(draft, draft.cancel)

    async def send_and_cancel(self) -> None:
        draft = self.pick()
        if draft is None:
            return
        draft.presses += 1
        draft.cancels += 1
        order = [draft.go, draft.cancel]
        self.rng.shuffle(order)
        self.note(draft, "send+cancel" if order[0] == draft.go else "cancel+send")
        for data in order:
            await self.press(draft, data)

    async def sender(self) -> None:
        draft = self.pick()
        if draft is None:
            return
        index = self.rng.randrange(len(self.h.senders))
        self.note(draft, f"sender:{index}")
        await self.press(draft, SendCb(action="senders", draft_id=draft.draft_id).pack())
        await self.press(draft, SenderCb(draft_id=draft.draft_id, index=index).pack())

    def send_fault(self) -> None:
        name = self.rng.choice(list(SEND_FAULTS))
        fault, _ = SEND_FAULTS[name]
        if name == "error":
            code = self.rng.choice(ERROR_CODES)
            self.h.gateway.inject(fault, action="send", code=code)
        elif name.startswith("slow"):
            delay = GATEWAY_TIMEOUT + 0.4 if name == "slow_long" else 0.05
            self.h.gateway.inject(fault, action="send", delay=delay)
        else:
            self.h.gateway.inject(fault, action="send")
        self.faults.append(name)
        self.trace.append(f"gateway fault {name}")

    def telegram_fault(self) -> None:
        method, code = self.rng.choice(TELEGRAM_FAULTS)
        if code == 429:
            self.h.telegram.fail_next(method, error_code=429, retry_after=1)
        elif code == 502:
            self.h.telegram.fail_next(method, error_code=502)
        else:
            self.h.telegram.fail_next(method, error_code=400, description=QUERY_TOO_OLD)
        self.trace.append(f"telegram fault {method} {code}")

    async def restart(self) -> None:
        self.trace.append("restart")
        for draft in self.drafts:
            draft.history.append("restart")
        polls = len(self.h.telegram.calls_to("getUpdates"))
        await self.h.restart()
        # Polling has begun (a stop right after a start would find it not started yet).
        await eventually(
            lambda: True if len(self.h.telegram.calls_to("getUpdates")) > polls else None, 10, "polling after restart"
        )

    # --- one run -----------------------------------------------------------------------------------
    async def step(self) -> str:
        if self.batch_rng.random() < BATCH_SHARE:
            action = self.batch_rng.choices(list(BATCH_ACTIONS), list(BATCH_ACTIONS.values()))[0]
            await (self.batch() if action == "batch" else self.batch_stale())
            return action
        action = self.rng.choices(list(ACTIONS), list(ACTIONS.values()))[0]
        if self.busy():
            self.stats.overlapping += 1
        if action == "compose":
            await self.compose()
        elif action == "press":
            await self.do_press()
        elif action == "cancel":
            await self.cancel()
        elif action == "send_and_cancel":
            await self.send_and_cancel()
        elif action == "sender":
            await self.sender()
        elif action == "send_fault":
            self.send_fault()
        elif action == "telegram_fault":
            self.telegram_fault()
        elif action == "restart":
            await self.restart()
        else:
            await self.settle()
        return action

    async def play(self, steps: int) -> Findings:
        await eventually(lambda: True if self.h.telegram.calls_to("getUpdates") else None, 10, "polling")
        previous = "start"
        for _ in range(steps):
            action = await self.step()
            self.stats.actions[action] += 1
            self.stats.bigrams.add((previous, action))
            previous = action
        self.stats.steps += steps
        await self.settle()
        self.h.gateway.clear_faults()
        found = Findings()
        if self.rng.random() < 0.5:
            await self.restart()
            await self.settle()  # a batch cut short by the restart goes on
            found.merge(audit(*snapshot(self.h.db_path), self.h.gateway, at_rest=True))
        await self.await_notices()
        found.merge(audit_batches(read_members(self.h.db_path), self.h.gateway, at_rest=True))
        found.merge(await self.check_batches())
        rows, tracked = snapshot(self.h.db_path)
        found.merge(audit(rows, tracked, self.h.gateway, at_rest=True))
        found.merge(self.check(rows))
        return found

    async def await_notices(self) -> None:
        """Every accepted SMS gets its delivery notice (all numbers used reach a final status)."""
        for row in read_sends(self.h.db_path):
            if row["state"] == "accepted" and not is_batch(token_of(row["text"])):  # a batch's: its summary
                chat = ChatView(self.h.telegram, self.h.telegram.user(row["chat_id"]).state)
                gid = str(row["gateway_id"])

                def notice(m: BotMessage, gid: str = gid) -> bool:
                    return is_delivery_notice(m, gid)

                await chat.wait_for(
                    notice,
                    timeout=30,
                    what=f"the delivery notice of {token_of(row['text'])} ({gid})",
                )

    async def check_batches(self) -> Findings:
        """Each batch pressed (before any Cancel) sent to every recipient, its message a summary in the end; one
        cancelled first sent to none, its message says so."""
        found = Findings()
        members = read_members(self.h.db_path)
        for batch in self.batches:
            mine = [m for m in members if token_of(m["text"]) == batch.token]
            state = mine[0]["batch_state"] if mine else None
            self.stats.outcomes[f"batch {state}"] += 1
            if batch.cancelled_first and state != "cancelled":
                found.add("sent_unconfirmed", f"{batch.token}: Cancel came first, the batch is {state}")
            if batch.presses and not batch.raced and not batch.cancelled_first and state != "pressed":
                found.add("lost", f"{batch.token}: Send pressed, never cancelled before, the batch is {state}")
            if not batch.presses and state != "draft" and state != "cancelled":
                found.add("sent_unconfirmed", f"{batch.token}: never pressed, the batch is {state}")
            shown = "Sender:" if state == "pressed" else "Cancelled" if state == "cancelled" else "Check before"

            def current(b: BatchDraft = batch, word: str = shown) -> bool | None:
                message = self.h.telegram.message(b.user.chat_id, b.message_id)
                return True if word in message.plain and "Sending" not in message.plain else None

            try:
                await eventually(current, 10, f"{batch.token}'s message to show its end")
            except AssertionError:
                message = self.h.telegram.message(batch.user.chat_id, batch.message_id)
                found.add("not_told", f"{batch.token} ({state}): its message shows {message.plain[:80]!r}")
        return found

    def check(self, rows: list[Row]) -> Findings:
        """What the model knows beyond the general invariants: presses it made, faults it injected."""
        found = Findings()
        by_token = {token_of(r["text"]): r for r in rows}
        by_member = {(token_of(r["text"]), r["msisdn"]): r for r in rows if is_batch(token_of(r["text"]))}
        for draft in self.drafts:
            row = by_token[draft.token]
            self.stats.histories.add(tuple(draft.history))
            self.stats.outcomes[row["state"]] += 1
            if draft.presses and not draft.cancels and row["state"] not in SETTLED:
                found.add("lost", f"{draft.token}: Send pressed, never cancelled, row is {row['state']}")
            if draft.presses and draft.cancels and row["state"] not in (*SETTLED, "cancelled"):
                found.add("lost", f"{draft.token}: Send and Cancel pressed, row is {row['state']}")
            if not draft.presses and row["state"] not in ("draft", "cancelled"):
                found.add("sent_unconfirmed", f"{draft.token}: never pressed, row is {row['state']}")
            if row["state"] in SETTLED or row["state"] == "cancelled":
                problem = operator_told(self.h.telegram, row, on_preview=True)
                if problem:
                    found.add("not_told", f"{draft.token}: {problem}")
            if row["state"] == "accepted":
                notices = delivery_notices(self.h.telegram, row)
                self.stats.duplicate_notices += max(0, notices - 1)
                if row["final"] != 1:
                    found.add("untracked", f"{draft.token}: accepted, notice shown, but not final in the log")
        # What the gateway did decides what the row must say.
        faults = iter(self.faults)
        for request in self.h.gateway.requests:
            if request.action != "send":
                continue
            self.stats.gateway_sends += 1
            token = token_of(request.fields.get("Message"))
            fault_name = next(faults) if request.fault is not None else None
            found_row = by_member.get((token, request.fields.get("MSISDN"))) if is_batch(token) else by_token.get(token)
            if found_row is None:
                continue  # reported as lost by audit()
            row = found_row
            expected = SEND_FAULTS[fault_name][1] if fault_name else "as_number"
            if expected == "as_number":
                expected = "failed" if request.fields.get("MSISDN") in ERROR_NUMBERS else "accepted"
            if row["state"] != expected:
                found.add(
                    "misreported", f"{token}: gateway fault {fault_name}, expected {expected}, row {row['state']}"
                )
        for sent in self.h.gateway.sent:
            logged = by_member.get((token_of(sent.text), sent.msisdn)) or by_token.get(token_of(sent.text))
            if logged is not None and logged["state"] == "accepted" and sent.sender != logged["sender"]:
                found.add("misreported", f"{token_of(sent.text)}: sent from {sent.sender}, log says {logged['sender']}")
        for user in self.users:
            for message in user.messages:
                if any(ERROR_NET in v.plain for v in message.versions):
                    found.add("unhandled", f"{user.state.name} was shown the error net: {message.plain[:80]}")
        for answer in self.h.telegram.callback_answers:
            if ERROR_NET in (answer.text or ""):
                found.add("unhandled", f"a press was answered with the error net: {answer.text}")
        return found


async def test_a_press_telegram_will_not_let_us_answer_still_shows_its_outcome(tmp_path: Path) -> None:
    """Telegram refuses to answer a button press after ~15 s (a slow gateway outlives it) or a second time (a
    press delivered again after a restart). The operator must still see on the preview what became of the SMS."""
    with LogWatch() as logs:
        async with Harness(tmp_path, settings_overrides={"smska_timeout": GATEWAY_TIMEOUT}) as h:
            duty = h.telegram.user(1001, "Duty", language_code="en")
            for fault, shown in [
                (None, "Sent to"),
                (Fault.DROP_AFTER_SEND, "may or may not"),
                (Fault.ERROR, "Nothing"),
            ]:
                await duty.send(f"/send 79041764995 Zq99n{len(h.gateway.requests)} expired press")
                preview = await duty.wait_for(lambda m: "Check before sending" in m.plain)
                if fault is not None:
                    h.gateway.inject(fault, action="send")
                h.telegram.fail_next("answerCallbackQuery", error_code=400, description=QUERY_TOO_OLD)
                await duty.press(preview, "✅ Send")

                def outcome(m: BotMessage, p: BotMessage = preview, s: str = shown) -> bool:
                    return m.message_id == p.message_id and s in m.plain

                await duty.wait_for(outcome)
            assert len(h.gateway.sent) == 2  # the accepted one and the dropped-after-send one
            assert not [m for m in duty.messages if ERROR_NET in m.plain]
    assert unhandled_records(logs.records, EXPECTED_LOGS) == []


@pytest.mark.parametrize("run", range(RUNS), ids=[f"run{run}" for run in range(RUNS)])
async def test_random_send_interleavings_never_send_twice_or_lose_one(tmp_path: Path, run: int) -> None:
    """One run of the model (each its own seed, bot and files: xdist runs the runs side by side)."""
    stats = Stats()
    seed = SEED + run
    with LogWatch() as logs:
        async with Harness(
            tmp_path / f"run{run}",
            admin_ids=USERS,
            delivery_delay=0.3,
            settings_overrides={"smska_timeout": GATEWAY_TIMEOUT},
        ) as h:
            model = Model(h, random.Random(seed), run, stats)
            found = await model.play(STEPS)
    for line in unhandled_records(logs.records, EXPECTED_LOGS):
        found.add("unhandled", line)
    stats.runs += 1
    print(
        f"\nchaos model, run {run} of {RUNS} (CHAOS_SEED={SEED}): {stats.steps} steps, {sum(stats.actions.values())} "
        f"actions {dict(stats.actions)}; {stats.overlapping} issued while others were in flight; "
        f"{len(stats.bigrams)} distinct action pairs; {len(stats.histories)} distinct draft histories; "
        f"{stats.gateway_sends} send requests at the gateway; outcomes {dict(stats.outcomes)}; "
        f"duplicate delivery notices {stats.duplicate_notices}; findings: {found.summary()}"
    )
    trace = "\n    ".join(model.trace)
    assert not found, (
        f"run {run} (CHAOS_SEED={SEED}, seed {seed}):\n  " + "\n  ".join(found.lines) + f"\n  trace:\n    {trace}"
    )
