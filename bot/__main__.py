"""`python -m bot` — run the bot (polling, or `--webhook`), the sandbox gateway, or the offline playground."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _stop_while_importing(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGINT before the bot's own handlers are in place (the imports take seconds): exit at once. Nothing
    is open yet to be closed, and an exception raised here could surface inside an import as another error.
    Without a handler, python as a container's PID 1 would ignore SIGTERM until Docker kills it."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


signal.signal(signal.SIGTERM, _stop_while_importing)
signal.signal(signal.SIGINT, _stop_while_importing)

import argparse  # noqa: E402 — after the handlers, on purpose
import asyncio  # noqa: E402
import gc  # noqa: E402

from bot.config import SettingsError, load_settings  # noqa: E402
from bot.logs import setup_logging  # noqa: E402
from bot.storage.db import StorageError  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Telegram bot that sends SMS via smska.net")
    parser.add_argument("--webhook", action="store_true", help="run behind a webhook instead of long polling")
    sub = parser.add_subparsers(dest="command")
    sandbox = sub.add_parser("sandbox", help="a local smska gateway emulator")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)
    playground = sub.add_parser(
        "playground", help="everything offline: sandbox + Telegram stand-in + the bot, chat in the terminal"
    )
    playground.add_argument("--db", metavar="PATH", help="keep the playground's database in this file")
    playground.add_argument(
        "--lang", choices=("ru", "en"), help="your Telegram language (default: from $LANG, else ru)"
    )
    copy = sub.add_parser(
        "copy-db", help="copy a SQLite database file into the empty PostgreSQL database named by DATABASE_URL"
    )
    copy.add_argument("sqlite_file", metavar="SQLITE_FILE")
    return parser.parse_args(argv)


def database_url() -> str | None:
    """DATABASE_URL from the environment, else from `.env` (as the settings read it)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from dotenv import dotenv_values

    return dotenv_values(".env").get("DATABASE_URL") if os.path.exists(".env") else None


def copy_db(sqlite_file: str) -> int:
    from pathlib import Path

    from bot.storage.copy import copy_db as run

    url = database_url()
    if not url:
        print("error: set DATABASE_URL=postgresql://… to the empty database to copy into", file=sys.stderr)
        return 2
    try:
        counted = asyncio.run(run(Path(sqlite_file), url))
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max(len(c.table) for c in counted)
    print(f"{'table':<{width}}  {'sqlite':>8}  {'postgresql':>10}")
    for c in counted:
        print(f"{c.table:<{width}}  {c.source:>8}  {c.target:>10}")
    equal = all(c.source == c.target for c in counted)
    print("copied: every table has the same rows on both sides" if equal else "error: the counts differ")
    return 0 if equal else 1


def freeze_imports() -> None:
    """Move everything imported so far (aiogram's ~300 pydantic models: most of the heap) out of the garbage
    collector's reach. It lives as long as the process anyway; otherwise every full collection walks all of it,
    a pause of ~0.1 s in the middle of handling updates (python -m bench: 11 of them under a /help burst cost
    1.03 s of CPU; after freezing, 0.09 s). No collection first: there is next to no garbage yet, and one would
    cost ~0.1 s of start-up."""
    gc.freeze()


def database_secrets(settings: object) -> list[str]:
    """The database password (as written in DATABASE_URL and decoded): masked in every log line."""
    from urllib.parse import unquote, urlsplit

    url = getattr(settings, "database_url", None)
    if url is None:
        return []
    password = urlsplit(url.get_secret_value()).password
    return [p for p in {password, unquote(password or "")} if p]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is not None:  # the sandbox and the playground stop the ordinary way (KeyboardInterrupt, ...)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if args.command == "sandbox":
        from bot.devkit.sandbox import serve_forever

        setup_logging(os.environ.get("LOG_LEVEL", "INFO").upper(), os.environ.get("LOG_FORMAT", "text").lower())
        asyncio.run(
            serve_forever(
                args.host,
                args.port,
                os.environ.get("SMSKA_API_KEY") or "test",
                os.environ.get("SMSKA_API_PASSWORD") or "test",
            )
        )
        return 0
    if args.command == "copy-db":
        setup_logging("WARNING", "text")
        return copy_db(args.sqlite_file)
    if args.command == "playground":
        from bot.devkit.playground import main as playground_main

        return playground_main()
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        settings.log_level,
        settings.log_format,
        secrets=[
            settings.bot_token.get_secret_value(),
            settings.smska_api_password.get_secret_value(),
            *([settings.alert_token.get_secret_value()] if settings.alert_token is not None else []),
        ]
        + ([settings.webhook_secret.get_secret_value()] if settings.webhook_secret else [])
        + database_secrets(settings),
    )
    try:
        from bot.runners import run_polling, run_webhook

        freeze_imports()
        asyncio.run(run_webhook(settings) if args.webhook else run_polling(settings))
    except (StorageError, SettingsError) as exc:  # SettingsError: webhook settings, or a token Telegram refused
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
