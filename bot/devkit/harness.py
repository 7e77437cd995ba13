"""The whole bot in one process over loopback: sandbox gateway + fake Telegram + the real app, polling.

Used by the end-to-end tests, the offline playground and the benchmarks, so all three run the production
code path (`bot.app.build_app`): same Dispatcher, routers, storage and gateway client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import ALLOWED_UPDATES, App, build_app
from bot.config import Settings
from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from bot.web.http import bound_port, start_health_server

TOKEN = "123456:TEST-token-Zq9secret"  # noqa: S105 - test-only; distinctive so a leak is easy to find
API_KEY = "test"
API_PASSWORD = "Sandbox-Pw-Zq9secret"  # noqa: S105 - test-only
#: Tests only: an already migrated SQLite file (tests/support/db_templates.py) that `from_template` copies into
#: place of a database file that does not exist yet, so a test's bot does not migrate from empty. Unset (the
#: playground, the benchmarks): nothing is copied and the bot migrates as in production.
SQLITE_TEMPLATE = "HARNESS_SQLITE_TEMPLATE"


@dataclass
class Harness:
    """`async with Harness(tmp_path) as h:` — h.telegram, h.gateway, h.app; `await h.restart()`."""

    directory: Path
    admin_ids: tuple[int, ...] = (1001,)
    senders: tuple[str, ...] = ("OnCall", "Backup")
    delivery_delay: float = 0.3
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    http: bool = False  # serve the bot's HTTP side (health, POST /alerts) on a free loopback port: `http_url`
    # postgresql://…: the bot runs on PostgreSQL; None: HARNESS_DATABASE_URL's (tests/support/engines.py sets it for a
    # test on PostgreSQL), else SQLite at `db_path`.
    database_url: str | None = None
    clock: Callable[[], float] | None = None  # a clock the test moves: duty's schedule, the ladder (else time.time)
    telegram: FakeTelegram = field(init=False)
    gateway: SandboxGateway = field(init=False)
    app: App | None = field(init=False, default=None)
    _polling: asyncio.Task[None] | None = field(init=False, default=None)
    _http: web.AppRunner | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.database_url is None:
            self.database_url = os.environ.get("HARNESS_DATABASE_URL") or None
        self.telegram = FakeTelegram(token=TOKEN)
        self.gateway = SandboxGateway(
            api_key=API_KEY,
            api_password=API_PASSWORD,
            balance=Decimal("1000"),
            delivery_delay=self.delivery_delay,
            senders=self.senders,
        )

    @property
    def http_url(self) -> str:
        """`http://127.0.0.1:PORT` of the bot's HTTP side (with `http=True`)."""
        if self._http is None:
            raise RuntimeError("the harness serves no HTTP: Harness(..., http=True)")
        return f"http://127.0.0.1:{bound_port(self._http)}"

    @property
    def db_path(self) -> Path:
        return self.directory / "bot.sqlite3"

    def settings(self) -> Settings:
        overrides = dict(self.settings_overrides)
        overrides.setdefault("database_url", self.database_url or "")
        return rig_settings(
            telegram_url=self.telegram.url,
            gateway_url=self.gateway.url,
            senders=self.senders,
            db_path=self.db_path,
            admin_ids=self.admin_ids,
            overrides=overrides,
        )

    async def __aenter__(self) -> Harness:
        await self.telegram.start()
        await self.gateway.start()
        await self.start_bot()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_bot()
        await self.gateway.stop()
        await self.telegram.stop()

    async def start_bot(self) -> App:
        app = await build_app(from_template(self.settings()))
        app.gateway.budget = 6.0  # an operator-facing answer stays well within a test's patience
        if self.clock is not None and app.schedule is not None:
            app.schedule.clock = self.clock
        if self.clock is not None and app.escalation is not None:
            app.escalation.clock = self.clock  # the ladder's steps fall due as the test moves it
        await app.start()
        self.app = app
        if self.http:
            self._http = await start_health_server(app, 0, host="127.0.0.1")
        self._polling = asyncio.create_task(
            app.dp.start_polling(
                app.bot,
                handle_signals=False,
                allowed_updates=ALLOWED_UPDATES,
                close_bot_session=False,
                polling_timeout=1,
            )
        )
        return app

    async def stop_bot(self) -> None:
        app, task, http = self.app, self._polling, self._http
        self.app, self._polling, self._http = None, None, None
        if app is None:
            return
        if http is not None:
            await http.cleanup()
        try:
            await app.dp.stop_polling()
        except RuntimeError:  # polling has not started yet (or already stopped): nothing to wait for
            if task is not None:
                task.cancel()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        await app.sending.wait_inflight(10)
        await app.close()

    async def restart(self) -> App:
        await self.stop_bot()
        return await self.start_bot()


def from_template(settings: Settings) -> Settings:
    """Copy HARNESS_SQLITE_TEMPLATE's file (tests only) to the SQLite database of `settings` when there is none yet
    (nor a write-ahead log of one) in an existing folder; private (0600) as the bot makes it. Anything else — the
    variable unset, PostgreSQL, a database already there, a folder the bot is to create — is left to the bot.
    Returns `settings`."""
    template = os.environ.get(SQLITE_TEMPLATE)
    path = Path(settings.database_path)
    wal = path.with_name(path.name + "-wal")
    if not template or settings.database_url or path.exists() or wal.exists() or not path.parent.is_dir():
        return settings
    data = Path(template).read_bytes()
    with open(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "wb") as copy:
        copy.write(data)
    return settings


def rig_settings(
    *,
    telegram_url: str,
    gateway_url: str,
    senders: tuple[str, ...] | list[str],
    db_path: Path,
    admin_ids: tuple[int, ...] | list[int],
    overrides: dict[str, Any],
    token: str = TOKEN,
    api_key: str = API_KEY,
    api_password: str = API_PASSWORD,
) -> Settings:
    """The bot's settings on a loopback rig: short timeouts and polls, so tests and the playground move quickly."""
    values: dict[str, Any] = {
        "bot_token": token,
        "telegram_api_url": telegram_url,
        "smska_url": gateway_url,
        "smska_api_key": api_key,
        "smska_api_password": api_password,
        "smska_sender_ids": ",".join(senders),
        "smska_timeout": 2.0,
        "database_path": str(db_path),
        "admin_ids": ",".join(str(i) for i in admin_ids),
        "default_locale": "en",
        "delivery_poll_initial": 0.2,
        "delivery_poll_max": 1.0,
        "delivery_track_hours": 1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)
