"""How the bot runs: long polling or a webhook, from the first instant to a clean exit.

* Start-up never gives up on the network. Every Bot API call of start-up (`getMe`, `deleteWebhook`,
  `setMyCommands`, `setWebhook`) that meets an unreachable Telegram, a DNS failure, a 5xx, a 429 or a body that
  is not JSON is logged in one line and tried again with a capped back-off; meanwhile `/healthz` answers and
  `/readyz` says "starting". Only bad settings stop it: a token Telegram refuses (401) or a `WEBHOOK_URL` it
  rejects becomes a `SettingsError` (one line, exit 2).
* Signals from the start: a SIGTERM/SIGINT at any moment of start-up cancels it and exits cleanly; once
  serving, the first one stops taking updates and lets the updates being handled and the sends in flight
  finish (at most `DRAIN_TIMEOUT` seconds in all; a send the gateway never answered becomes `unknown`, never
  lost); the handlers then step aside, so a second one ends the process at once (SQLite in WAL mode is safe
  against that; a row left in `sending` becomes `unknown` at the next start and its operator is told).
* Webhook mode never calls `deleteWebhook` on shutdown: the next start sets it again, and Telegram keeps what it
  could not deliver meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable, Collection
from types import TracebackType
from typing import Any, TypeVar

from aiogram.exceptions import (
    AiogramError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bot.app import ALLOWED_UPDATES, App, build_app
from bot.config import Settings, SettingsError
from bot.logs import mask_also
from bot.replicas.outage import OutageAnswers
from bot.replicas.poller import Poller
from bot.tasks import cancelled
from bot.web.http import (
    WebhookConfig,
    bound_port,
    start_health_server,
    start_site,
    webhook_application,
)
from bot.web.http import webhook_config as check_webhook_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long a stop waits for updates being handled and sends in flight (one gateway call is bounded by
#: SMSKA_TIMEOUT). docker-compose.yml gives the container more than this before it kills it.
DRAIN_TIMEOUT = 30.0
#: Back-off between start-up attempts while Telegram does not answer: 1 s doubling up to this.
RETRY_CAP = 30.0


# -------------------------------------------------------------------------------------------- signals


class StopSignals:
    """The first SIGTERM/SIGINT sets `event`; then the handlers step aside, so a second one ends the process
    at once (the signal's default action). Does nothing when not `enabled` (tests, embedding)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, event: asyncio.Event, *, enabled: bool = True) -> None:
        self.event = event
        self.enabled = enabled
        self._installed: list[signal.Signals] = []

    def __enter__(self) -> StopSignals:
        if self.enabled:
            loop = asyncio.get_running_loop()
            for sig in self.SIGNALS:
                try:
                    loop.add_signal_handler(sig, self._first, sig)
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
                    continue
                self._installed.append(sig)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._restore(None)  # back to Python's defaults (no signal came, or `_first` already stepped aside)

    def _first(self, sig: signal.Signals) -> None:
        log.warning("received %s: stopping; send it again to exit at once", sig.name)
        self.event.set()
        self._restore(signal.SIG_DFL)

    def _restore(self, action: signal.Handlers | None) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)
            if action is not None:
                signal.signal(sig, action)
        self._installed.clear()


# ------------------------------------------------------------------------------------------- start-up


async def persist(call: Callable[[], Awaitable[T]], what: str, *, cap: float = RETRY_CAP) -> T:
    """`call()` until Telegram answers it. A network failure, 5xx, 429 or non-JSON answer: one log line, then
    again after 1 s doubling up to `cap` (429: its `retry_after`). A refused token is a SettingsError."""
    delay = 1.0
    while True:
        try:
            return await call()
        except (TelegramUnauthorizedError, TelegramNotFound):
            # Telegram answers 401 to a wrong token and 404 to a malformed one.
            raise SettingsError("BOT_TOKEN is refused by Telegram (401 Unauthorized): check the token") from None
        except TelegramRetryAfter as exc:
            wait = float(exc.retry_after)
            reason = f"429, retry after {exc.retry_after}s"
        except (TelegramNetworkError, TelegramServerError, AiogramError) as exc:
            if isinstance(exc, TelegramBadRequest):
                raise
            wait = delay * random.uniform(0.9, 1.1)
            delay = min(delay * 2, cap)
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        log.warning("Telegram did not answer %s (%s); trying again in %.0f s", what, reason, wait)
        await asyncio.sleep(wait)


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> tuple[bool, T | None]:
    """Run `work` unless `stop` comes first (then `work` is cancelled): (finished, its result)."""
    task: asyncio.Task[T] = asyncio.ensure_future(work)
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():
            raise
    log.info("stopped during start-up")
    return False, None


# --------------------------------------------------------------------------------------------- drain


async def drain(app: App, updates: Collection[asyncio.Task[Any]], timeout: float = DRAIN_TIMEOUT) -> None:
    """Let updates being handled and sends in flight finish, within `timeout` seconds in all."""
    app.obs.stopping = True
    deadline = time.monotonic() + timeout
    pending = {task for task in updates if not task.done()}
    sends = app.sending.inflight_count
    if pending or sends:
        log.info("stopping: waiting for %d update(s) and %d send(s) in flight", len(pending), sends)
    if pending:
        await asyncio.wait(pending, timeout=timeout)
    await app.sending.wait_inflight(max(0.0, deadline - time.monotonic()))
    log.info("stopping: drained in %.2fs", timeout - max(0.0, deadline - time.monotonic()))


# -------------------------------------------------------------------------------------------- polling


async def run_polling(settings: Settings, *, handle_signals: bool = True, ready: asyncio.Event | None = None) -> None:
    """`python -m bot`: long polling until SIGTERM/SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    with StopSignals(stop, enabled=handle_signals):  # from the start: a SIGTERM during start-up stops cleanly too
        app = await build_app(settings)
        try:
            await serve_polling(app, handle_signals=False, ready=ready, stop=stop)
        finally:
            await app.close()


async def serve_polling(
    app: App,
    *,
    handle_signals: bool = True,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    allowed_updates: list[str] | None = None,
) -> None:
    """Start-up (unless `app.obs.starting` is already False), then long polling until a signal (or `stop`),
    with the health port when HEALTH_PORT is set; then a drain."""
    stop = stop if stop is not None else asyncio.Event()
    health_runner = None
    with StopSignals(stop, enabled=handle_signals):
        if app.settings.health_port is not None:
            health_runner = await start_health_server(app, app.settings.health_port, app.settings.health_host)
        elif app.settings.alert_token is not None:
            log.warning("ALERT_TOKEN is set but HEALTH_PORT is not: POST /alerts is not served in polling mode")
        polling = Polling(app, allowed_updates or ALLOWED_UPDATES)
        try:
            if app.obs.starting:
                started, _ = await until_stopped(_start_polling(app), stop)
                if not started:
                    return
            elif app.leadership.leader:
                await polling.begin()
            await _poll(app, polling, stop, ready)
            await drain(app, app.obs.updates.in_flight | polling.poller.tasks)  # + answers of outage mode
        finally:
            if health_runner is not None:
                await health_runner.cleanup()


async def _start_polling(app: App) -> None:
    await persist(app.bot.me, "getMe")
    await persist(lambda: app.bot.delete_webhook(drop_pending_updates=False), "deleteWebhook")
    await app.start(persist)


class Polling:
    """Polls while this process leads: SQLite, always; among replicas, while it holds the lease (its
    `gain`/`lose` are the leadership's). A leader fenced by a database outage polls on in outage mode (each
    update confirmed, then answered in words) until the database answers again or another replica polls."""

    def __init__(self, app: App, allowed_updates: list[str]) -> None:
        self.app = app
        answers = OutageAnswers(app.bot, app.i18n, app.settings.default_locale)
        self.poller = Poller(app.bot, app.dp, app.recorded, allowed_updates, outage=answers.answer)
        self.task: asyncio.Task[None] | None = None
        self.outage = False  # whether `task` is the outage mode's
        self.stopping = False
        self.changed = asyncio.Event()
        lead = app.leadership
        if lead.leases is None:
            lead.gain = self.begin
        else:
            lead.gain, lead.lose, lead.reached = self.gain, self.lose, self.reached

    async def begin(self) -> None:
        if self.outage:
            await self.end()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.poller.run(), name="polling")
            self.changed.set()

    async def answer_only(self) -> None:
        """Outage mode: no work, no handling that needs the lease; operators are answered in words."""
        if self.stopping or self.app.obs.stopping:
            return
        self.outage = True
        self.task = asyncio.create_task(self.poller.run_outage(), name="polling-outage")
        self.changed.set()

    async def end(self) -> None:
        task, self.task = self.task, None
        self.outage = False
        if task is not None:
            await cancelled(task)

    async def gain(self) -> None:
        await self.app.start_work()
        await self.begin()

    async def lose(self) -> None:
        await self.end()  # first: no getUpdates beside the next leader's
        if self.app.leadership.unreachable:  # fenced by an outage: nobody else can poll before it ends
            await self.answer_only()
        await self.app.stop_work()

    async def reached(self) -> None:
        """The database answers again: outage mode ends (the leader polls as ever; a standby not at all)."""
        if self.outage and not self.app.leadership.leader:
            log.warning("the database answers again: outage polling ends")
            await self.end()


async def _poll(app: App, polling: Polling, stop: asyncio.Event, ready: asyncio.Event | None) -> None:
    """Until `stop`; polling itself comes and goes with the leadership."""
    if ready is not None:
        ready.set()
    stopped = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        while not stop.is_set():
            polling.changed.clear()
            current = polling.task
            changed = asyncio.create_task(polling.changed.wait())
            waits: set[asyncio.Future[Any]] = {stopped, changed}
            if current is not None:
                waits.add(current)
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
            if current is not None and current.done() and current is polling.task and not stop.is_set():
                polling.task, polling.outage = None, False
                current.result()  # polling ended on its own: a crash is re-raised (outage mode gives way)
    finally:
        polling.stopping = True
        stopped.cancel()
        app.obs.stopping = stop.is_set()
        await app.leadership.stop()  # the work stops and the lease is released: a standby takes over at once
        await polling.end()


# -------------------------------------------------------------------------------------------- webhook


async def run_webhook(
    settings: Settings,
    *,
    handle_signals: bool = True,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[App, int], None] | None = None,
) -> None:
    """`python -m bot --webhook`: serve until SIGTERM/SIGINT (or `stop`), then stop cleanly."""
    config = check_webhook_settings(settings)
    if config.secret_generated:
        mask_also(config.secret)
        log.warning(
            "WEBHOOK_SECRET is not set: using a random secret generated for this run (set it to keep one "
            "across restarts)"
        )
    stop = stop if stop is not None else asyncio.Event()
    with StopSignals(stop, enabled=handle_signals):  # from the start: a SIGTERM during start-up stops cleanly too
        app = await build_app(settings)
        try:
            await _serve_webhook(app, config, stop, ready, on_listening)
        finally:
            await app.close()


async def _serve_webhook(
    app: App,
    config: WebhookConfig,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
    on_listening: Callable[[App, int], None] | None,
) -> None:
    settings = app.settings
    web_app, handler = webhook_application(app, config)
    # Listening first: health answers while Telegram is unreachable, and updates that come meanwhile (a hook
    # set by the previous run) get 503 until start-up is done.
    runner = await start_site(web_app, settings.webhook_host, settings.webhook_port)
    try:
        port = bound_port(runner)
        if on_listening is not None:
            on_listening(app, port)
        log.info("webhook mode: listening on %s:%d%s", settings.webhook_host, port, config.path)
        started, _ = await until_stopped(_start_webhook(app, config), stop)
        if not started:
            return
        handler.accepting = True
        if ready is not None:
            ready.set()
        try:
            await stop.wait()  # every replica serves updates; the bot's own work is the leader's (App.start)
        finally:
            handler.accepting = False
            app.obs.stopping = True
            await app.leadership.stop()
        await drain(app, handler.in_flight | app.obs.updates.in_flight)
    finally:
        await runner.cleanup()


async def _start_webhook(app: App, config: WebhookConfig) -> None:
    await persist(app.bot.me, "getMe")
    await app.start(persist)

    async def set_webhook() -> bool:
        try:
            return await app.bot.set_webhook(
                config.url, secret_token=config.secret, allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False
            )
        except TelegramBadRequest as exc:  # e.g. "bad webhook: HTTPS url must be provided for webhook"
            raise SettingsError(f"WEBHOOK_URL is refused by Telegram: {exc.message}") from None

    app.obs.starting = True  # until the hook is set
    await persist(set_webhook, "setWebhook")
    app.obs.starting = False
