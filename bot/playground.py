"""`python -m bot playground` — the whole bot offline, with a chat in the terminal where you are an admin.

One process runs the sandbox smska gateway, the fake Telegram Bot API server and the real bot in polling mode
(:class:`bot.testing.harness.Harness`, i.e. ``bot.app.build_app``: the production Dispatcher, routers, storage
and gateway client), everything on 127.0.0.1. You talk to the bot as a simulated Telegram user:

* a line is a message from you (``/commands`` included); a bare number (``1``) presses that button of the last
  message with buttons (inline buttons, or the reply keyboard);
* ``:contact +79041764995`` shares a contact, ``:stranger`` / ``:me`` switch between you (an admin) and Sam (a
  stranger without access), ``:say TEXT`` sends TEXT literally (``:say 1``), ``:help``, ``:quit``.

The bot's answers are printed as a transcript (``bot: ...`` with numbered buttons), edits as
``bot: ✏️ edited: ...``, callback answers as ``bot: 💬 toast: ...`` / ``bot: ⚠️ alert: ...``; delivery notices
arrive on their own. With stdin piped, each line is handled in turn (the bot's answers are waited for: until it
has been quiet for a moment), and the program exits at end of input once pending delivery notices are in.

The asyncio loop runs in a helper thread; the main thread reads the terminal, so Ctrl-C and Ctrl-D behave as
usual. The bot's own logs (WARNING and above) go to stderr, never into the chat.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import io
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

from bot.gateway.sandbox import MAGIC_NUMBERS, MagicNumber
from bot.logs import setup_logging
from bot.testing.fake_models import BotEvent, BotMessage, MessageVersion, reply_keyboard_rows
from bot.testing.fake_people import FakeUser
from bot.testing.harness import API_PASSWORD, TOKEN, Harness

__all__ = ["Playground", "main", "pick_language"]

T = TypeVar("T")
Outcome = Literal["bot", "local", "quit"]  # a line went to the bot / was handled here / asks to quit

ADMIN_ID = 1001
ADMIN_NAME = "Alex"
STRANGER_ID = 5005
STRANGER_NAME = "Sam"
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"  # as the contract's DEFAULT_LOCALE

DELIVERY_DELAY = 3.0  # the sandbox turns an accepted SMS final after this many seconds
POLL_INITIAL = 2.0  # DELIVERY_POLL_INITIAL: checks at +2 s and +4 s, so a notice comes ~4 s after a send
POLL_MAX = 30.0
QUIET = 0.7  # "the answers are in": no bot activity for this long
NOTICE_QUIET = 1.2  # ... and after a send: the bot spaces its notices to one chat by ~1 s
LINE_LIMIT = 10.0  # never wait longer than this for the answers to one line
DELIVERY_LIMIT = DELIVERY_DELAY + 2 * POLL_INITIAL + 3.0  # after end of input, for pending delivery notices
TICK = 0.05
INDENT = " " * 5  # under "bot: "
FINAL_WORDS = {4: "delivered", 5: "rejected", 6: "rejected", 7: "expired", 8: "deleted"}
_PLAYGROUND_COMMAND = re.compile(r"^:([A-Za-z]+)\b\s*(.*)$", re.DOTALL)
_NUMBER = re.compile(r"^\d{1,2}$")

try:  # line editing and history for the interactive chat (absent on some platforms: then plain input())
    import readline as _readline
except ImportError:  # pragma: no cover - platform dependent
    _readline = None  # type: ignore[assignment]


# --------------------------------------------------------------------------------------------------------
# texts
# --------------------------------------------------------------------------------------------------------
def pick_language(choice: str | None, environ: Mapping[str, str]) -> str:
    """``--lang`` wins; else the first of LC_ALL, LC_MESSAGES, LANG that is set, when it is Russian or
    English (``en_US.UTF-8`` -> en); else ru, the contract's DEFAULT_LOCALE."""
    if choice:
        return choice
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable, "")
        if value:
            code = value[:2].lower()
            return code if code in LANGUAGES else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def describe_magic(magic: MagicNumber) -> str:
    """One short line: what the sandbox does with a magic recipient number."""
    if magic.error is not None or not magic.statuses:
        return magic.description
    first = magic.statuses[0]
    last = magic.statuses[-1]
    start = "accepted" if first[1] == 3 else f"status {first[1]}|{first[2]}"
    if len(magic.statuses) == 1:
        return f"{start} ({first[1]}|{first[2]}), never final"
    words = FINAL_WORDS.get(last[1], "final")
    return f"{start}, then {words} ({last[1]}|{last[2]}) ~{DELIVERY_DELAY * last[0]:g} s later"


def magic_lines() -> list[str]:
    lines = [f"Sandbox recipients: any other number is delivered ~{DELIVERY_DELAY:g} s after the send; these are not:"]
    lines.extend(f"  {magic.msisdn}  {describe_magic(magic)}" for magic in MAGIC_NUMBERS.values())
    return lines


def hint_lines() -> list[str]:
    return [
        "Type a message or /command (try /start, /balance, /send +7 904 176-49-95 Hello, /send, /history);",
        "  a number (1, 2 ...) presses that button of the last message with buttons;",
        "  :contact +79041764995 shares a contact (the number, when /send asks for it);",
        f"  :stranger switches to {STRANGER_NAME}, a second person who has no access (you, the admin, get the access",
        "  request); :me switches back; :say TEXT sends TEXT as is (:say 1);",
        "  :help shows this again; :quit (or Ctrl-D) leaves.",
    ]


def _first_line(text: str, limit: int = 60) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _changed_line(old: str, new: str) -> str:
    """The first line of ``old`` that ``new`` does not have in its place (what an edit changed first)."""
    new_lines = [line.strip() for line in new.splitlines() if line.strip()]
    for index, line in enumerate(part.strip() for part in old.splitlines() if part.strip()):
        if index >= len(new_lines) or new_lines[index] != line:
            return _first_line(line)
    return _first_line(old)


def _block(head: str, text: str) -> list[str]:
    """``head`` + the first line of ``text``, the other lines indented under it (blank lines stay blank)."""
    lines = text.splitlines() or [""]
    return [head + lines[0], *[INDENT + line if line.strip() else "" for line in lines[1:]]]


def _button_lines(version: MessageVersion) -> list[str]:
    lines: list[str] = []
    number = 0
    markup = version.reply_markup or {}
    for row in markup.get("inline_keyboard", []):
        cells = []
        for button in row:
            number += 1
            label = f"[{number}] {button.get('text', '')}"
            if "url" in button:
                label += f" <{button['url']}>"
            cells.append(label)
        lines.append(INDENT + "  ".join(cells))
    for row in reply_keyboard_rows(version.reply_markup) or []:
        cells = []
        for text in row:
            number += 1
            cells.append(f"[{number}] «{text}»")
        lines.append(INDENT + "⌨ " + "  ".join(cells))
    return lines


def render_event(event: BotEvent) -> list[str]:
    """A bot event as transcript lines: a new message, an edit (with what it said before) or a delete."""
    version = event.version
    if event.kind == "delete":
        return [f"bot: 🗑 deleted: {_first_line(version.plain)}"]
    if event.kind == "message":
        return [*_block("bot: ", version.plain), *_button_lines(version)]
    lines = _block("bot: ✏️ edited: ", version.plain)
    versions = event.message.versions
    index = next((i for i, v in enumerate(versions) if v is version), -1)
    if index > 0 and versions[index - 1].plain != version.plain:
        lines.append(f"{INDENT}(was: {_changed_line(versions[index - 1].plain, version.plain)})")
    return [*lines, *_button_lines(version)]


# --------------------------------------------------------------------------------------------------------
# the chat
# --------------------------------------------------------------------------------------------------------
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
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and await self._awaiting_delivery():
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
        if name == "say" and rest:
            await self.current.user.send(rest)
            return "bot"
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


# --------------------------------------------------------------------------------------------------------
# process: an asyncio loop in a helper thread, the terminal in the main thread
# --------------------------------------------------------------------------------------------------------
class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="playground-loop", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        with contextlib.suppress(Exception):
            self.call(cancel_rest(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot playground",
        description="The whole bot offline (sandbox gateway + local Telegram stand-in + the real bot), with a chat "
        "in the terminal where you are an admin. With stdin piped, each line is a message from you.",
    )
    parser.add_argument("--db", metavar="PATH", help="keep the SQLite database in this file (default: a temporary one)")
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        help="your Telegram language (default: from $LANG when it is Russian or English, else ru)",
    )
    return parser.parse_args(argv)


def _own_argv() -> list[str]:
    """The arguments after ``playground`` (``python -m bot playground ...``), or all of them
    (``python -m bot.playground ...``)."""
    args = sys.argv[1:]
    if "playground" in args:
        args = args[args.index("playground") + 1 :]
    return args


def _read_line(interactive: bool, playground: Playground) -> str:
    """The next line from you; EOFError at the end (Ctrl-D, or the end of piped input)."""
    if interactive:
        playground.set_prompting(True)
        try:
            return input(playground.prompt())
        finally:
            playground.set_prompting(False)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _configure_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    if isinstance(sys.stdin, io.TextIOWrapper) and not sys.stdin.isatty():
        sys.stdin.reconfigure(encoding="utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(_own_argv() if argv is None else argv)
    _configure_streams()
    interactive = sys.stdin.isatty()
    language = pick_language(args.lang, os.environ)
    setup_logging("WARNING", "text", secrets=[TOKEN, API_PASSWORD])  # stderr only: the chat stays clean

    with tempfile.TemporaryDirectory(prefix="smska-playground-", ignore_cleanup_errors=True) as tmp:
        db_path = Path(args.db).expanduser().resolve() if args.db else Path(tmp) / "playground.sqlite3"
        harness = Harness(
            Path(tmp),
            admin_ids=(ADMIN_ID,),
            delivery_delay=DELIVERY_DELAY,
            settings_overrides={
                "database_path": str(db_path),
                "default_locale": language,
                "delivery_poll_initial": POLL_INITIAL,
                "delivery_poll_max": POLL_MAX,
            },
        )
        out = sys.stdout
        runner = _LoopThread()
        runner.start()
        playground: Playground | None = None
        entered = False
        status = 0
        try:
            runner.call(harness.__aenter__(), timeout=60)
            entered = True
            playground = Playground(harness, out, language, interactive=interactive)
            runner.call(playground.start(), timeout=30)
            kept = "kept" if args.db else "temporary; --db PATH keeps one"
            playground.emit(
                [
                    "smska bot playground — the real bot, a local smska gateway emulator and a Telegram stand-in,",
                    "all in this process on 127.0.0.1: no token, no provider account, no network.",
                    f"You are {ADMIN_NAME} (Telegram id {ADMIN_ID}), an admin. Language: {language} "
                    "(--lang ru|en; default from $LANG, else ru; /language in the chat switches it).",
                    f"Database: {db_path} ({kept}).",
                    *hint_lines(),
                    *magic_lines(),
                    "",
                ]
            )
            while True:
                try:
                    line = _read_line(interactive, playground)
                except EOFError:
                    if interactive:
                        out.write("\n")
                    runner.call(playground.finish())
                    break
                if not runner.call(playground.handle(line)):
                    break
        except KeyboardInterrupt:
            out.write("\n")
            status = 130 if not interactive else 0
        except Exception as exc:  # start-up failed (a port, the database ...): one line, no traceback
            print(f"error: playground failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = 1
        finally:
            try:
                if playground is not None:
                    runner.call(playground.stop(), timeout=10)
                if entered:
                    runner.call(harness.__aexit__(None, None, None), timeout=30)
            except KeyboardInterrupt:
                status = status or 130
            except Exception as exc:
                print(f"warning: playground shutdown: {type(exc).__name__}: {exc}", file=sys.stderr)
            runner.stop()
        if interactive:
            out.write("(bye)\n")
        out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
