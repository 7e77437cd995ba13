"""The bot's HTTP side and its way of stopping.

* Webhook mode (`python -m bot --webhook`): an aiohttp server with aiogram's webhook handler at the path of
  `WEBHOOK_URL`, `setWebhook` at start-up (with `WEBHOOK_SECRET` as its `secret_token` and
  `bot.app.ALLOWED_UPDATES`), and `/healthz`, `/readyz`, `/metrics` beside it. A request without the right
  `X-Telegram-Bot-Api-Secret-Token` gets 401 before its body is read; a body over 1 MB gets 413, one that is
  not a Telegram update 400. `deleteWebhook` is never called on shutdown: the next start sets it again, and
  Telegram keeps what it could not deliver meanwhile.
* Polling mode (`bot.app.run_polling` → `serve_polling`): the same endpoints on `HEALTH_PORT` when it is set.
* Shutdown, in both modes: the first SIGTERM/SIGINT stops taking updates, lets the updates being handled and
  the sends in flight finish (at most `DRAIN_TIMEOUT` seconds; a send the gateway never answered becomes
  `unknown`, never lost), closes the clients, and the process exits 0. The signal handlers then step aside:
  a second SIGTERM/SIGINT ends the process at once (SQLite in WAL mode is safe against that; a row left in
  `sending` becomes `unknown` at the next start and its operator is told).
* `python -m bot.web --probe`: the container's HEALTHCHECK; exit 0 when `/healthz` on `HEALTH_PORT` or
  `WEBHOOK_PORT` (127.0.0.1) answers 200.

Without `WEBHOOK_SECRET` a random secret is generated at every start (and given to `setWebhook`, so it
works), with a warning in the log: anyone who learns the URL could otherwise feed the bot forged updates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from pydantic import ValidationError

from bot.config import Settings, SettingsError
from bot.logs import mask_also
from bot.metrics import health, readiness, render_metrics

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
#: How long a stop waits for updates being handled and sends in flight (the gateway client's own budget
#: for one call is 25 s). docker-compose.yml gives the container more than this before it kills it.
DRAIN_TIMEOUT = 30.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 — a header name
# What Telegram accepts as a secret_token.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
HEALTH_PATHS = ("/healthz", "/readyz", "/metrics")


# ------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    path: str
    secret: str
    secret_generated: bool


def webhook_config(settings: Settings) -> WebhookConfig:
    """Check the webhook settings; a problem is a SettingsError with one plain line (never a secret's value)."""
    if not settings.webhook_url:
        raise SettingsError("WEBHOOK_URL is required in webhook mode (python -m bot --webhook) but not set")
    parts = urlsplit(settings.webhook_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("WEBHOOK_URL is malformed: it must be a full https:// URL")
    path = parts.path or "/"
    if path in HEALTH_PATHS:
        raise SettingsError(f"WEBHOOK_URL is malformed: its path must not be {path}")
    if settings.webhook_secret is not None:
        secret = settings.webhook_secret.get_secret_value()
        if not SECRET_PATTERN.fullmatch(secret):
            raise SettingsError("WEBHOOK_SECRET is malformed: 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return WebhookConfig(settings.webhook_url.strip(), path, secret, secret_generated=False)
    return WebhookConfig(settings.webhook_url.strip(), path, secrets.token_urlsafe(32), secret_generated=True)


# --------------------------------------------------------------------------------------------- health


def add_health_routes(web_app: web.Application, app: App) -> None:
    async def healthz(request: web.Request) -> web.Response:
        ok, facts = await health(app)
        return web.json_response(facts, status=200 if ok else 503)

    async def readyz(request: web.Request) -> web.Response:
        ok, facts = await readiness(app)
        return web.json_response(facts, status=200 if ok else 503)

    async def metrics(request: web.Request) -> web.Response:
        rendered = await render_metrics(app)
        if rendered is None:
            return web.Response(status=404, text="metrics need the optional prometheus-client package\n")
        body, content_type = rendered
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics)


async def start_site(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port a runner listens on (useful when it was started on port 0)."""
    port: int = runner.addresses[0][1]
    return port


async def start_health_server(app: App, port: int, host: str = "0.0.0.0") -> web.AppRunner:
    """`/healthz`, `/readyz` and `/metrics` on their own port (polling mode's HEALTH_PORT)."""
    web_app = web.Application()
    add_health_routes(web_app, app)
    runner = await start_site(web_app, host, port)
    log.info("health endpoints on %s:%s", host, bound_port(runner))
    return runner


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


async def drain(app: App, updates: Collection[asyncio.Task[Any]], timeout: float = DRAIN_TIMEOUT) -> None:
    """Let updates being handled and sends in flight finish, within `timeout` seconds in all."""
    app.obs.stopping = True
    deadline = time.monotonic() + timeout
    pending = {task for task in updates if not task.done()}
    sends = len(getattr(app.sending, "_inflight", ()))
    if pending or sends:
        log.info("stopping: waiting for %d update(s) and %d send(s) in flight", len(pending), sends)
    if pending:
        await asyncio.wait(pending, timeout=timeout)
    await app.sending.wait_inflight(max(0.0, deadline - time.monotonic()))
    log.info("stopping: drained in %.2fs", timeout - max(0.0, deadline - time.monotonic()))


# -------------------------------------------------------------------------------------------- polling


async def serve_polling(
    app: App,
    *,
    handle_signals: bool = True,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    allowed_updates: list[str] | None = None,
) -> None:
    """Long polling until a signal (or `stop`), with the health port when HEALTH_PORT is set; then a drain."""
    from bot.app import ALLOWED_UPDATES

    stop = stop if stop is not None else asyncio.Event()
    health_runner = None
    if app.settings.health_port is not None:
        health_runner = await start_health_server(app, app.settings.health_port)
    try:
        with StopSignals(stop, enabled=handle_signals):
            polling = asyncio.create_task(
                app.dp.start_polling(
                    app.bot,
                    handle_signals=False,
                    allowed_updates=allowed_updates or ALLOWED_UPDATES,
                    close_bot_session=False,
                ),
                name="polling",
            )
            stopped = asyncio.create_task(stop.wait(), name="stop-signal")
            if ready is not None:
                ready.set()
            try:
                await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                if not polling.done():
                    await _stop_polling(app.dp, polling)
            if not stop.is_set():
                polling.result()  # polling ended on its own: a crash is re-raised
            await drain(app, getattr(app.dp, "_handle_update_tasks", ()))
    finally:
        if health_runner is not None:
            await health_runner.cleanup()


async def _stop_polling(dp: Dispatcher, polling: asyncio.Task[None]) -> None:
    try:
        await asyncio.wait_for(dp.stop_polling(), timeout=10)
    except (RuntimeError, TimeoutError):  # not started yet, or stuck: cut it
        polling.cancel()
    try:
        await polling
    except asyncio.CancelledError:
        if not polling.cancelled():
            raise


# -------------------------------------------------------------------------------------------- webhook


class WebhookHandler(SimpleRequestHandler):
    """aiogram's handler with the checks an open port needs, and updates handled in tracked tasks."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, secret_token: str, **data: Any) -> None:
        super().__init__(dispatcher, bot, handle_in_background=True, secret_token=secret_token, **data)
        self.accepting = True
        self.refused = 0
        self._last_refusal_log = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        if not self.verify_secret(request.headers.get(SECRET_HEADER, ""), self.bot):
            self._note_refusal(request)
            return web.Response(status=401, text="Unauthorized")
        if not self.accepting:  # stopping: Telegram delivers it again later
            return web.Response(status=503, text="Shutting down")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.Response(status=413, text="Payload too large")
        try:
            raw = await request.read()  # the application's client_max_size also stops a chunked body
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="Payload too large")
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            update = Update.model_validate(data, context={"bot": self.bot})
        except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            log.warning("refused a webhook request whose body is not a Telegram update")
            return web.Response(status=400, text="Bad request")
        task = asyncio.create_task(self._feed(update), name=f"update-{update.update_id}")
        self._background_feed_update_tasks.add(task)
        task.add_done_callback(self._background_feed_update_tasks.discard)
        return web.json_response({})

    async def _feed(self, update: Update) -> None:
        try:
            result = await self.dispatcher.feed_update(self.bot, update, **self.data)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(bot=self.bot, result=result)
        except Exception:
            log.exception("update %s failed", update.update_id)

    @property
    def in_flight(self) -> set[asyncio.Task[Any]]:
        return set(self._background_feed_update_tasks)

    def _note_refusal(self, request: web.Request) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._last_refusal_log >= 60:  # a stale secret or a scanner: say so, but not per request
            self._last_refusal_log = now
            log.warning(
                "refused %d webhook request(s) without the right secret token (latest from %s)",
                self.refused,
                request.remote,
            )

    async def close(self) -> None:
        """The bot session belongs to the App (closed by `App.close` after the drain), not to this handler."""


async def run_webhook(
    settings: Settings,
    *,
    handle_signals: bool = True,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[App, int], None] | None = None,
) -> None:
    """`python -m bot --webhook`: serve until SIGTERM/SIGINT (or `stop`), then stop cleanly."""
    config = webhook_config(settings)
    if config.secret_generated:
        mask_also(config.secret)
        log.warning(
            "WEBHOOK_SECRET is not set: using a random secret generated for this run (set it to keep one "
            "across restarts)"
        )
    stop = stop if stop is not None else asyncio.Event()
    with StopSignals(stop, enabled=handle_signals):  # from the start: a SIGTERM during start-up stops cleanly too
        await _serve_webhook(settings, config, stop, ready, on_listening)


async def _serve_webhook(
    settings: Settings,
    config: WebhookConfig,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
    on_listening: Callable[[App, int], None] | None,
) -> None:
    from bot.app import ALLOWED_UPDATES, build_app

    app = await build_app(settings)
    runner: web.AppRunner | None = None
    try:
        await app.start()
        handler = WebhookHandler(app.dp, app.bot, secret_token=config.secret)
        web_app = web.Application(client_max_size=MAX_BODY_BYTES)
        web_app.router.add_post(config.path, handler.handle)
        add_health_routes(web_app, app)
        setup_application(web_app, app.dp, bot=app.bot)
        if not stop.is_set():
            runner = await start_site(web_app, settings.webhook_host, settings.webhook_port)
            port = bound_port(runner)
            if on_listening is not None:
                on_listening(app, port)
            await app.bot.set_webhook(
                config.url,
                secret_token=config.secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
            log.info("webhook mode: listening on %s:%d%s", settings.webhook_host, port, config.path)
            if ready is not None:
                ready.set()
        await stop.wait()
        handler.accepting = False
        await drain(app, handler.in_flight)
    finally:
        if runner is not None:
            await runner.cleanup()
        await app.close()


# ---------------------------------------------------------------------------------------------- probe


def probe(timeout: float = 3.0) -> int:
    """The container's HEALTHCHECK: 0 when `/healthz` answers 200 on HEALTH_PORT or WEBHOOK_PORT, else 1."""
    ports = [os.environ.get("HEALTH_PORT", "").strip(), os.environ.get("WEBHOOK_PORT", "").strip() or "8080"]
    for port in dict.fromkeys(p for p in ports if p):
        url = f"http://127.0.0.1:{port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return 0 if response.status == 200 else 1
        except urllib.error.HTTPError as exc:
            print(f"unhealthy: {url} answered {exc.code}", file=sys.stderr)
            return 1
        except OSError:
            continue  # nothing listens there: try the other port
    print("unhealthy: no health endpoint answers", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if sys.argv[1:] != ["--probe"]:
        print("usage: python -m bot.web --probe", file=sys.stderr)
        sys.exit(2)
    sys.exit(probe())
