"""The process: the options, an asyncio loop in a helper thread running the harness and the chat, and the
terminal (or piped stdin) read in the main thread."""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import io
import os
import sys
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from bot.devkit.harness import API_PASSWORD, TOKEN, Harness
from bot.logs import setup_logging

from .alerts import TEAM_CHAT_ID, TEAM_TITLE, session_token
from .chat import Playground
from .constants import (
    ADMIN_ID,
    ADMIN_NAME,
    ALERT_MINUTES,
    DEFAULT_LANGUAGE,
    DELIVERY_DELAY,
    LANGUAGES,
    POLL_INITIAL,
    POLL_MAX,
)
from .transcript import hint_lines, magic_lines

T = TypeVar("T")


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
    (``python -m bot.devkit.playground ...``)."""
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
    setup_logging(
        "WARNING", "text", secrets=[TOKEN, API_PASSWORD]
    )  # and the alert token, once it is made  # stderr only: the chat stays clean

    with tempfile.TemporaryDirectory(prefix="smska-playground-", ignore_cleanup_errors=True) as tmp:
        db_path = Path(args.db).expanduser().resolve() if args.db else Path(tmp) / "playground.sqlite3"
        token = session_token()  # POST /alerts for :alert (never shown: the playground posts it itself)
        harness = Harness(
            Path(tmp),
            admin_ids=(ADMIN_ID,),
            delivery_delay=DELIVERY_DELAY,
            settings_overrides={
                "database_path": str(db_path),
                "default_locale": language,
                "delivery_poll_initial": POLL_INITIAL,
                "delivery_poll_max": POLL_MAX,
                "alert_token": token,
                "team_chat_id": TEAM_CHAT_ID,
                "delivery_alert_minutes": ALERT_MINUTES,
            },
            http=True,
        )
        harness.telegram.group(TEAM_CHAT_ID, TEAM_TITLE)  # the team feed's chat, printed as "team bot: ..."
        out = sys.stdout
        runner = _LoopThread()
        runner.start()
        playground: Playground | None = None
        entered = False
        status = 0
        try:
            runner.call(harness.__aenter__(), timeout=60)
            entered = True
            if harness.app is not None and harness.app.escalation is not None:
                harness.app.escalation.minute = 1.0  # /escalation's minutes are seconds here: watch a ladder climb
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
