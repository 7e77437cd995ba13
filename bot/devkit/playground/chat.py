"""The chat: :class:`Playground` turns your lines into a simulated person's messages and presses, and
prints what the bot does in their chat as it happens (see the package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import Literal, TextIO

from bot.devkit.harness import Harness
from bot.devkit.sandbox import MAGIC_NUMBERS
from bot.devkit.telegram import BotMessage, FakeUser

from .alerts import TEAM_CHAT_ID, alert_words, post_sample, team_lines
from .constants import (
    ADMIN_ID,
    ADMIN_NAME,
    BATCH_LIMIT,
    DELIVERY_LIMIT,
    FINAL_WORDS,
    INDENT,
    LINE_LIMIT,
    NOTICE_QUIET,
    QUIET,
    STRANGER_ID,
    STRANGER_NAME,
    TICK,
    WAIT_LIMIT,
)
from .transcript import _block, _first_line, hint_lines, magic_lines, render_event

Outcome = Literal["bot", "local", "quit"]  # a line went to the bot / was handled here / asks to quit

_PLAYGROUND_COMMAND = re.compile(r"^:([A-Za-z]+)\b\s*(.*)$", re.DOTALL)
_NUMBER = re.compile(r"^\d{1,2}$")

try:  # line editing and history for the interactive chat (absent on some platforms: then plain input())
    import readline as _readline
except ImportError:  # pragma: no cover - platform dependent
    _readline = None  # type: ignore[assignment]


@dataclass
class Person:
    user: FakeUser
    label: str  # transcript prefix of their lines
    name: str
    role: str

    @property
    def chat_id(self) -> int:
        return self.user.chat_id


@dataclass
class Playground:
    """The chat on top of a running :class:`Harness`; every method runs on the harness's event loop, except
    :meth:`prompt`, :meth:`set_prompting` (called by the terminal thread)."""

    harness: Harness
    out: TextIO
    language: str
    interactive: bool = False
    people: list[Person] = field(init=False)
    current: Person = field(init=False)
    _shown: dict[int, list[int]] = field(init=False, default_factory=dict)  # chat -> message ids, latest last
    _presses: set[str] = field(init=False, default_factory=set)  # callback query ids of our presses
    _answers_seen: int = field(init=False, default=0)
    _announced: set[int] = field(init=False, default_factory=set)  # chats whose news was announced
    _sent_before: int = field(init=False, default=0)
    _last_input: float = field(init=False, default_factory=time.monotonic)
    _prompting: bool = field(init=False, default=False)
    _printer: asyncio.Task[None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        server = self.harness.telegram
        me = server.user(ADMIN_ID, ADMIN_NAME, language_code=self.language)
        stranger = server.user(STRANGER_ID, STRANGER_NAME, language_code=self.language)
        self.people = [
            Person(me, "you", ADMIN_NAME, "the admin"),
            Person(stranger, STRANGER_NAME.lower(), STRANGER_NAME, "a second person, no access until an admin allows"),
        ]
        self.current = self.people[0]
        self._sent_before = len(self.harness.gateway.sent)

    # -- output ------------------------------------------------------------------------------------------
    def prompt(self) -> str:
        return f"{self.current.label}: "

    def set_prompting(self, value: bool) -> None:
        self._prompting = value

    def emit(self, lines: list[str]) -> None:
        if not lines:
            return
        text = "\n".join(lines) + "\n"
        if self.interactive and self._prompting:
            # Something arrived while you are typing: print it above the prompt, then redraw the prompt and
            # whatever you had typed so far.
            typed = _readline.get_line_buffer() if _readline is not None else ""
            self.out.write("\r\x1b[K" + text + self.prompt() + typed)
        else:
            self.out.write(text)
        self.out.flush()

    def note(self, text: str) -> None:
        self.emit([f"{INDENT}({text})"])

    def drain(self) -> None:
        """Print what the bot did in the current person's chat since the last look (and the answers to
        button presses), in order; announce news in the other chat once."""
        person = self.current
        items: list[tuple[float, int, list[str]]] = []
        for event in person.user.unseen_events():
            items.append((event.time, event.seq, render_event(event)))
            shown = self._shown.setdefault(person.chat_id, [])
            if event.message.message_id in shown:
                shown.remove(event.message.message_id)
            shown.append(event.message.message_id)
        person.user.mark_seen()
        answers = self.harness.telegram.callback_answers
        for answer in answers[self._answers_seen :]:
            if answer.callback_query_id in self._presses and answer.text:
                kind = "⚠️ alert" if answer.show_alert else "💬 toast"
                items.append((answer.time, 0, _block(f"bot: {kind}: ", answer.text)))
        self._answers_seen = len(answers)
        items.sort(key=lambda item: (item[0], item[1]))
        lines = [line for _, _, block in items for line in block]
        lines.extend(team_lines(self.harness.telegram.group(TEAM_CHAT_ID)))
        for other in self.people:
            if other is not person and other.chat_id not in self._announced and other.user.unseen_events():
                self._announced.add(other.chat_id)
                switch = ":me" if other is self.people[0] else ":stranger"
                lines.append(f"{INDENT}(🔔 news for {other.name} — {switch} to see it)")
        self.emit(lines)

    # -- waiting -----------------------------------------------------------------------------------------
    def _last_activity(self) -> float:
        server = self.harness.telegram
        moments = [self._last_input]
        for call in reversed(server.calls):
            if call.method != "getUpdates":
                moments.append(call.time)
                break
        requests = self.harness.gateway.requests
        if requests:
            moments.append(requests[-1].at)
        for person in self.people:
            events = person.user.events
            if events:
                moments.append(events[-1].time)
        if server.callback_answers:
            moments.append(server.callback_answers[-1].time)
        return max(moments)

    async def settle(self, limit: float = LINE_LIMIT, quiet: float = QUIET) -> None:
        """Print answers as they come until the bot has been quiet for ``quiet`` seconds (at most ``limit``)."""
        start = time.monotonic()
        while True:
            self.drain()
            now = time.monotonic()
            if now - start >= limit:
                return
            if not self.harness.telegram.pending_updates and now - self._last_activity() >= quiet:
                return
            await asyncio.sleep(TICK)

    async def _batch_ringing(self) -> bool:
        """A send to several recipients was pressed and has not rung yet (all final, or the watchdog)."""
        app = self.harness.app
        return app is not None and bool(await app.db.batches.open())

    async def _awaiting_delivery(self) -> bool:
        """An SMS sent in this session is accepted, not final yet, and the sandbox will make it final."""
        app = self.harness.app
        if app is None:
            return False
        for sent in self.harness.gateway.sent[self._sent_before :]:
            magic = MAGIC_NUMBERS.get(sent.msisdn)
            if magic is not None and (not magic.statuses or magic.statuses[-1][1] not in FINAL_WORDS):
                continue  # never final (or never accepted)
            row = await app.db.sends.by_gateway_id(sent.id)
            if row is not None and row.state == "accepted" and not row.final:
                return True
        return False

    async def finish(self, limit: float = DELIVERY_LIMIT) -> None:
        """End of input: wait (bounded) for the delivery notices of this session's sends, then the answers."""
        if await self._batch_ringing():
            limit = max(limit, BATCH_LIMIT)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and (await self._awaiting_delivery() or await self._batch_ringing()):
            self.drain()
            await asyncio.sleep(0.1)
        sent = len(self.harness.gateway.sent) > self._sent_before
        # A notice is an edit and then a reply, which the bot spaces by a second (Telegram's limit per chat).
        await self.settle(quiet=NOTICE_QUIET if sent else QUIET)

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.harness.telegram.wait_for_poll(timeout=15)
        if self.interactive:
            self._printer = asyncio.create_task(self._print_forever(), name="playground-printer")

    async def stop(self) -> None:
        if self._printer is not None:
            self._printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._printer
            self._printer = None
        with contextlib.suppress(Exception):
            self.drain()

    async def _print_forever(self) -> None:
        while True:
            self.drain()
            await asyncio.sleep(TICK * 2)

    # -- input -------------------------------------------------------------------------------------------
    async def handle(self, line: str) -> bool:
        """One line from you; returns False when it asks to quit."""
        self.drain()
        line = line.rstrip("\r\n")
        if not self.interactive:
            self.emit([f"{self.current.label}: {line}".rstrip()])
        self._last_input = time.monotonic()
        stripped = line.strip()
        if not stripped:
            return True
        command = _PLAYGROUND_COMMAND.match(stripped)
        outcome: Outcome = "bot"
        if command is not None:
            outcome = await self._command(command.group(1).lower(), command.group(2).strip())
        elif _NUMBER.match(stripped):
            outcome = await self._press(int(stripped))
        else:
            await self.current.user.send(line)
        if outcome == "quit":
            return False
        if outcome == "bot":  # wait for the answers (a note or a switch needs no waiting)
            self._last_input = time.monotonic()
            await self.settle(limit=LINE_LIMIT if not self.interactive else 3.0)
        return True

    async def _command(self, name: str, rest: str) -> Outcome:
        if name in ("quit", "exit", "q"):
            return "quit"
        if name == "contact":
            phone = rest or "+79041764995"
            self.note(f"shared a contact: {phone}")
            await self.current.user.send_contact(phone, "Contact")
            return "bot"
        if name in ("alert", "resolve"):
            alertname, severity = alert_words(rest)
            status = "firing" if name == "alert" else "resolved"
            token = self.harness.settings().alert_token
            assert token is not None
            code = await post_sample(self.harness.http_url, token.get_secret_value(), alertname, status, severity)
            self.note(f"Alertmanager posted a {status} {severity} alert {alertname!r} to POST /alerts: HTTP {code}")
            return "bot"
        if name == "say" and rest:
            await self.current.user.send(rest)
            return "bot"
        if name == "wait":
            await self._wait(rest)
            return "local"
        if name == "say":
            self.note(":say needs a text, e.g. :say 1")
        elif name == "help":
            self.emit([*hint_lines(), *magic_lines()])
        elif name in ("me", "admin"):
            self._switch(self.people[0])
        elif name == "stranger":
            self._switch(self.people[1])
        else:
            self.note(f"unknown command :{name}; :help lists them")
        return "local"

    async def _wait(self, rest: str) -> None:
        """`:wait`: until the delivery notices of this session's sends are in; `:wait 20`: 20 seconds (the
        watchdog's notice, a retry), showing what comes meanwhile."""
        if not rest:
            self.note("waiting for the delivery notices")
            await self.finish()
            return
        try:
            seconds = min(float(rest), WAIT_LIMIT)
        except ValueError:
            self.note(f":wait takes seconds, e.g. :wait 20 (at most {WAIT_LIMIT:g})")
            return
        self.note(f"waiting {seconds:g} s")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.drain()
            await asyncio.sleep(TICK)
        await self.settle()

    def _switch(self, person: Person) -> None:
        if person is self.current:
            self.note(f"you already are {person.name}")
            return
        self.current = person
        self._announced.discard(person.chat_id)
        self.emit([f"— you are {person.name} now ({person.role}) —"])
        if person.user.unseen_events():
            self.note("while you were away:")
        self.drain()

    def _button_target(self, person: Person) -> BotMessage | None:
        """The last message shown in this chat that still has buttons (inline, or the current reply keyboard)."""
        state = person.user.state
        for message_id in reversed(self._shown.get(person.chat_id, [])):
            message = state.bot_messages.get(message_id)
            if message is None or message.deleted:
                continue
            if message.buttons:
                return message
            if message.reply_keyboard and state.reply_keyboard == message.reply_markup:
                return message
        return None

    async def _press(self, number: int) -> Outcome:
        person = self.current
        message = self._button_target(person)
        if message is None:
            self.note("no message with buttons to press yet; to send a number as text: :say TEXT")
            return "local"
        markup = message.reply_markup or {}
        inline = [b for row in markup.get("inline_keyboard", []) for b in row]
        keyboard = [b if isinstance(b, dict) else {"text": str(b)} for row in markup.get("keyboard", []) for b in row]
        buttons = inline or keyboard
        if not 1 <= number <= len(buttons):
            listing = "  ".join(f"[{i}] {b.get('text', '')}" for i, b in enumerate(buttons, 1))
            self.note(f"no button [{number}] under «{_first_line(message.plain, 40)}»: {listing}")
            return "local"
        button = buttons[number - 1]
        text = str(button.get("text", ""))
        if inline:
            if "callback_data" not in button:
                target = button.get("url", "somewhere outside the chat")
                self.note(f"[{number}] {text} opens {target}; the playground cannot follow it")
                return "local"
            self.note(f"pressed [{number}] {text}")
            self._presses.add(await person.user.press(message, number))
        elif button.get("request_contact"):
            self.note(f"pressed ⌨ «{text}»: sharing your own number")
            await person.user.send_contact("+79041764995", user_id=person.user.user_id)
        else:
            self.note(f"pressed ⌨ «{text}»")
            await person.user.send(text)
        return "bot"
