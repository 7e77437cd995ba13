"""The escalation engine (issue 28): auto-SMS to a step's recipients when the step is due and its alert group is
neither taken (✋) nor resolved.

One round (`run_due`): the ladder's due steps of the escalating groups (severity in ESCALATE_SEVERITIES), each
step's recipients resolved now (duty as it is at the due moment), less what is recorded already, gathered per
number. A number that got an auto-SMS less than ESCALATION_BUNDLE_MINUTES ago waits for the window's end; then
everything due for it goes as one SMS naming every alert. Past ESCALATION_SMS_PER_HOUR auto-SMS in the last hour
(the whole team) nothing goes out, and the admins are told once an hour. Each SMS is recorded (its `sends` row and
one `escalation_sends` row per group and step) before the gateway is called, by the sending service like any
send: a crash in flight leaves it `unknown` (shown), never resent. The clock is injectable: the tests move it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.services.directory import Directory
from bot.services.escalation_text import auto_sms
from bot.services.feed import result_kind
from bot.services.sending import SendingService
from bot.sms.parts import count_parts
from bot.sms.recipients import Recipient
from bot.storage.alerts import AlertRow
from bot.storage.db import Database
from bot.storage.escalation import CAP_TOLD_KEY, ESCALATION_USER, AutoSms, Conflict, Item, Step
from bot.storage.models import SendRow
from bot.tasks import cancelled

log = logging.getLogger(__name__)

HOUR = 3600
TICK = 1.0  # seconds between rounds when nothing wakes the loop (a step is due within a second)


@dataclass(frozen=True, slots=True)
class Shown:
    """An auto-SMS as an alert's copies show it: whom, when, where it stands (delivered, pending, ...)."""

    auto: AutoSms
    kind: str


class Escalation:
    def __init__(
        self,
        *,
        db: Database,
        sending: SendingService,
        directory: Directory,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.sending = sending
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self.minute = 60.0  # seconds in a ladder's minute (the playground makes it one: a ladder in seconds)
        # The app wires these: the groups whose copies must be drawn again; telling the admins of the cap.
        self.redraw: Callable[[list[int]], Awaitable[None]] | None = None
        self.tell_cap: Callable[[int], Awaitable[None]] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[object]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._rounds = asyncio.Condition()
        #: Auto-SMS that may still get a result (loaded when the loop starts, then added as recorded): the tracker's
        #: watcher looks at these only, so an operator's send costs no statement here. None: not loaded yet.
        self._mine: set[int] | None = None
        self.sent = 0  # auto-SMS recorded (tests and the storm read it)
        self.held = 0  # rounds in which the hourly cap held something back
        self.rounds = 0

    @property
    def chat_id(self) -> int:
        """Where a note on an auto-SMS goes (its watchdog notice, an interruption): the team feed, else an admin."""
        return self.settings.team_chat_id or self.settings.admin_ids[0]

    # --- the loop --------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="escalation")

    async def stop(self, timeout: float = 10.0) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancelled(task)
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=timeout)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        since = int(self.clock() - (self.settings.delivery_track_hours + 1) * 3600)
        try:
            self._mine = set(await self.db.escalation.sends_since(since))
        except Exception:
            log.exception("could not read the auto-SMS still tracked; each result is looked up instead")
        while True:
            with contextlib.suppress(TimeoutError):
                # Steps fall due at whole seconds (a group's first firing is kept in epoch seconds): wake just after.
                async with asyncio.timeout(TICK - self.clock() % 1.0 + 0.002):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.run_due()
            except Exception:
                log.exception("escalation round failed; trying again shortly")
            async with self._rounds:
                self._rounds.notify_all()

    async def next_round(self, timeout: float = 10.0) -> None:
        """Wake the loop and wait until a round that began after this call has ended (the tests move the clock)."""
        target = self.rounds + 1
        async with self._rounds:
            self.wake()
            await asyncio.wait_for(self._rounds.wait_for(lambda: self.rounds >= target), timeout)

    # --- one round -------------------------------------------------------------------------------------
    async def run_due(self) -> int:
        """Send what is due now; returns how many auto-SMS were recorded (and handed to the gateway)."""
        self.rounds += 1
        steps = await self.db.escalation.steps()
        if not steps:
            return 0
        now = int(self.clock())
        first = min(s.minutes for s in steps)
        groups = await self.db.escalation.escalating(self.settings.escalate_severities, now - int(first * self.minute))
        if not groups:
            return 0
        recorded = await self.db.escalation.recorded([g.id for g in groups])
        resolved: dict[str, list[Recipient]] = {}
        due: dict[str, list[tuple[Item, AlertRow, Recipient]]] = {}
        for group in groups:
            assert group.fired_at is not None
            for step in steps:
                at = group.fired_at + int(step.minutes * self.minute)
                if at > now:
                    continue
                for person in await self._recipients(step, resolved):
                    if (group.id, group.fired_at, step.step, person.msisdn) in recorded:
                        continue
                    item = Item(group.id, group.fired_at, step.step, person.msisdn, at)
                    due.setdefault(person.msisdn, []).append((item, group, person))
        if not due:
            return 0
        last = await self.db.escalation.last_to(list(due))
        window = int(self.settings.escalation_bundle_minutes * self.minute)
        cap = self.settings.escalation_sms_per_hour
        spent = await self.db.escalation.sent_since(now - HOUR + 1)
        sent, held, started = 0, False, []
        for msisdn, items in sorted(due.items(), key=lambda kv: min(i.due_at for i, _, _ in kv[1])):
            if msisdn in last and now < last[msisdn] + window:
                continue  # within the window after their last auto-SMS: waits for its end, then goes as one
            if spent >= cap:
                held = True
                break
            row = await self._record(items, now)
            if row is None:
                continue
            spent += 1
            sent += 1
            started.append(self._send(row))
            await self._redraw(sorted({i.group_id for i, _, _ in items}))
        if held:
            await self._cap_reached(now, cap)
        if started:
            await asyncio.gather(*started)
        return sent

    async def _recipients(self, step: Step, cache: dict[str, list[Recipient]]) -> list[Recipient]:
        """A step's recipients as they are now (duty at the due moment); nobody when it names nobody now."""
        if step.recipient not in cache:
            found = await self.directory.read(step.recipient)
            people = found.recipients if found.problem is None and not found.text else []
            unique: dict[str, Recipient] = {}
            for person in people:
                unique.setdefault(person.msisdn, person)
            cache[step.recipient] = list(unique.values())
        return cache[step.recipient]

    async def _record(self, items: list[tuple[Item, AlertRow, Recipient]], now: int) -> SendRow | None:
        person = items[0][2]
        seen: dict[int, AlertRow] = {}
        for _, group, _ in items:
            seen.setdefault(group.id, group)
        text = auto_sms([(g.alertname, g.summary) for g in seen.values()])
        parts = count_parts(text)
        try:
            row = await self.db.escalation.record(
                [i for i, _, _ in items],
                at=now,
                chat_id=self.chat_id,
                sender=self.settings.default_sender,
                text=text,
                encoding=parts.encoding,
                parts=parts.parts,
                name=person.name,
                via=person.via,
            )
        except Conflict:
            log.info("an escalation step changed while it was recorded; the next round sees it anew")
            return None
        self.sent += 1
        if self._mine is not None:
            self._mine.add(row.id)
        log.info("auto-SMS recorded", extra={"send_id": row.id, "action": "escalation"})
        return row

    def _send(self, row: SendRow) -> asyncio.Task[object]:
        """The gateway call in its own task: a stop waits for it rather than cut it in half."""
        task: asyncio.Task[object] = asyncio.create_task(self.sending.send_claimed(row), name=f"auto-sms-{row.id}")
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)
        return task

    async def _cap_reached(self, now: int, cap: int) -> None:
        """The admins are told once an hour; the mark is written before they are told."""
        told = await self.db.kv.get(CAP_TOLD_KEY)
        if told is not None and now - int(told) < HOUR:
            return
        self.held += 1
        await self.db.kv.set(CAP_TOLD_KEY, str(now))
        log.warning("escalation: the hourly cap of auto-SMS is reached", extra={"action": "escalation_cap"})
        if self.tell_cap is not None:
            await self.tell_cap(cap)

    async def _redraw(self, group_ids: list[int]) -> None:
        """The copies of these groups show their auto-SMS: only groups posted as messages of their own (a storm's
        digest lists names only), so a bundle naming 600 alerts redraws a handful."""
        group_ids = sorted(await self.db.alerts.has_messages(group_ids))
        if not group_ids:
            return
        await self.db.escalation.want_groups(group_ids)
        if self.redraw is not None:
            await self.redraw(group_ids)

    # --- what the copies show ---------------------------------------------------------------------------
    async def shown(self, group: AlertRow) -> list[Shown]:
        return [Shown(a, result_kind(a.send)) for a in await self.db.escalation.of_group(group.id, group.fired_at)]

    def send_changed(self, send_id: int) -> None:
        """The tracker's watcher: an auto-SMS got a result; its groups' copies say so. Never blocks."""
        if self._mine is not None and send_id not in self._mine:
            return  # an operator's send
        task = asyncio.create_task(self._send_changed(send_id), name=f"auto-sms-result-{send_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_changed(self, send_id: int) -> None:
        try:
            groups = await self.db.escalation.groups_of_send(send_id)
            if groups:
                await self._redraw(groups)
        except Exception:
            log.exception("could not show an auto-SMS's result")

    def member_final(self, before: Callable[[SendRow], Awaitable[bool]] | None) -> Callable[[SendRow], Awaitable[bool]]:
        """The tracker's "told elsewhere": an auto-SMS's result is shown on its alert's copies, not in a notice."""

        async def told(send: SendRow) -> bool:
            if send.user_id == ESCALATION_USER:
                return True
            return await before(send) if before is not None else False

        return told
