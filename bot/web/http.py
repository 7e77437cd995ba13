"""The bot's HTTP side: the webhook route, `/healthz`, `/readyz` and `/metrics`.

* Webhook mode: aiogram's webhook handler at the path of `WEBHOOK_URL`, with the checks an open port needs: a
  request without the right `X-Telegram-Bot-Api-Secret-Token` gets 401 before its body is read; while the bot
  starts or stops 503 (Telegram delivers it again later); a body over 1 MB 413, one that is not an update 400.
* `POST /alerts` when ALERT_TOKEN is set (`bot.web.alerts`), beside the health endpoints in both modes.
* `/healthz` (liveness: the process answers and its database is usable), `/readyz` (the database, the latest
  Bot API call and the latest gateway call worked; not while starting or stopping), `/metrics` (Prometheus,
  with the `metrics` extra). In polling mode they are served on `HEALTH_PORT`; in webhook mode beside the hook.

Without `WEBHOOK_SECRET` a random secret is generated at every start (and given to `setWebhook`, so it works),
with a warning in the log: anyone who learns the URL could otherwise feed the bot forged updates. How the modes
run and stop is `bot.runners`; the container's probe is `bot.web.probe` (standard library only).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

from bot.config import Settings, SettingsError
from bot.metrics import SEND_STATES
from bot.web.alerts import ALERTS_PATH, add_alert_routes
from bot.web.body import read_or_refuse
from bot.web.refusals import RefusalLog

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
#: A connection that has not sent a whole request within this many seconds is closed (aiohttp counts it from
#: the connection's start and after each answer): half-sent headers cannot hold the port's sockets.
IDLE_TIMEOUT = 10.0
#: Seconds to read a webhook body once its headers came (Telegram sends it at once): else 408.
BODY_TIMEOUT = 10.0
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
    if path in (*HEALTH_PATHS, ALERTS_PATH):
        raise SettingsError(f"WEBHOOK_URL is malformed: its path must not be {path}")
    if settings.webhook_secret is not None:
        secret = settings.webhook_secret.get_secret_value()
        if not SECRET_PATTERN.fullmatch(secret):
            raise SettingsError("WEBHOOK_SECRET is malformed: 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return WebhookConfig(settings.webhook_url.strip(), path, secret, secret_generated=False)
    return WebhookConfig(settings.webhook_url.strip(), path, secrets.token_urlsafe(32), secret_generated=True)


# --------------------------------------------------------------------------------------------- health


def webhook_application(app: App, config: WebhookConfig) -> tuple[web.Application, WebhookHandler]:
    """The webhook mode's routes: the update route (its secret checked), health, metrics, and POST /alerts when
    ALERT_TOKEN is set."""
    handler = WebhookHandler(app.dp, app.bot, secret_token=config.secret)
    web_app = web.Application(client_max_size=MAX_BODY_BYTES)
    web_app.router.add_post(config.path, handler.handle)
    add_health_routes(web_app, app)
    add_alert_routes(web_app, app)
    return web_app, handler


def add_health_routes(web_app: web.Application, app: App) -> None:
    async def healthz(request: web.Request) -> web.Response:
        ok, facts = await health(app)
        return web.json_response(facts, status=200 if ok else 503)

    async def readyz(request: web.Request) -> web.Response:
        ok, facts = await readiness(app)
        return web.json_response(facts, status=200 if ok else 503)

    token = app.settings.metrics_token

    async def metrics(request: web.Request) -> web.Response:
        if token is not None and not same_secret(
            request.headers.get("Authorization", ""), f"Bearer {token.get_secret_value()}"
        ):
            return web.Response(status=401, text="Unauthorized\n", headers={"WWW-Authenticate": "Bearer"})
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


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a header with a secret; any text (non-ASCII too) is just "not the same"."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


async def start_site(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(
        web_app, access_log=None, handle_signals=False, shutdown_timeout=5.0, keepalive_timeout=IDLE_TIMEOUT
    )
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
    add_alert_routes(web_app, app)  # POST /alerts when ALERT_TOKEN is set
    runner = await start_site(web_app, host, port)
    log.info("health endpoints on %s:%s", host, bound_port(runner))
    return runner


# ---------------------------------------------------------------------------------- what they say


async def health(app: App) -> tuple[bool, dict[str, Any]]:
    """Liveness: the process answers and the database file is usable."""
    database = await app.db.ping()
    return database, {
        "status": "ok" if database else "fail",
        "database": "ok" if database else "unreachable",
        "uptime_s": round(time.monotonic() - app.obs.started_at, 1),
    }


async def readiness(app: App) -> tuple[bool, dict[str, Any]]:
    """Readiness: the database works, and the latest Telegram call and the latest gateway call worked."""
    obs = app.obs
    now = time.monotonic()
    database = await app.db.ping()
    depth: int | None = None
    if database:
        try:
            depth = await app.db.tracking.depth()
        except Exception:
            database = False
    telegram = obs.telegram.facts(now)
    gateway = obs.gateway.facts(app.gateway, now)
    ready = database and telegram["ok"] and gateway["ok"] and not obs.stopping and not obs.starting
    status = "stopping" if obs.stopping else "starting" if obs.starting else "ready" if ready else "not ready"
    facts = {
        "status": status,
        "role": app.leadership.role,  # "leader" polls and does the bot's own work; a "standby" takes over
        "database": "ok" if database else "unreachable",
        "telegram": telegram,
        "gateway": gateway,
        "tracking_queue": depth,
    }
    return ready, facts


async def render_metrics(app: App) -> tuple[bytes, str] | None:
    """The Prometheus text exposition, or None when prometheus-client is not installed."""
    obs = app.obs
    if obs.prometheus is None or obs.registry is None:
        return None
    threshold = app.settings.low_balance_threshold
    balance = app.gateway.last_balance
    obs.scraped = {
        "smska_bot_telegram_ok": 1.0 if obs.telegram.ok else 0.0,
        "smska_bot_balance": None if balance is None else float(balance),
        "smska_bot_balance_threshold": None if threshold is None else float(threshold),
        "smska_bot_chat_queue_depth": float(app.queue.depth()),
        "smska_bot_leader": 1.0 if app.leadership.leader else 0.0,
    }
    try:
        states = await app.db.sends.counts_by_state()
        finals = await app.db.sends.final_status_counts()
        depth = await app.db.tracking.depth()
        oldest = await app.db.tracking.first_due()
    except Exception as exc:  # a closed or broken database must not break the scrape
        log.warning("metrics: database not readable: %s", type(exc).__name__)
    else:
        for state in {*SEND_STATES, *states}:
            obs.sends.labels(state=state).set(states.get(state, 0))
        for status, count in finals.items():
            obs.final.labels(status=status).set(count)
        obs.tracking.set(depth)
        overdue = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        obs.scraped["smska_bot_tracking_overdue_seconds"] = round(overdue, 1)
    ready, _ = await readiness(app)
    obs.up.set(1 if ready else 0)
    body: bytes = obs.prometheus.generate_latest(obs.registry)
    return body, obs.prometheus.CONTENT_TYPE_LATEST


# -------------------------------------------------------------------------------------------- webhook


class WebhookHandler(SimpleRequestHandler):
    """aiogram's handler with the checks an open port needs, and updates handled in tracked tasks."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, secret_token: str, **data: Any) -> None:
        super().__init__(dispatcher, bot, handle_in_background=True, secret_token=secret_token, **data)
        self.accepting = False  # until start-up is done, and again once a stop began: 503
        self._tasks: set[asyncio.Task[None]] = set()  # strong references to the updates being handled
        self.refusals = RefusalLog(log, "webhook request(s) without the right secret token")

    async def handle(self, request: web.Request) -> web.Response:
        if not same_secret(request.headers.get(SECRET_HEADER, ""), self.secret_token or ""):
            self.refusals.note(request)
            return web.Response(status=401, text="Unauthorized")
        if not self.accepting:  # starting or stopping: Telegram delivers it again later
            return web.Response(status=503, text="Not serving right now")
        raw = await read_or_refuse(request, limit=MAX_BODY_BYTES, timeout=BODY_TIMEOUT)
        if isinstance(raw, web.Response):
            return raw
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            update = Update.model_validate(data, context={"bot": self.bot})
        except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            log.warning("refused a webhook request whose body is not a Telegram update")
            return web.Response(status=400, text="Bad request")
        task = asyncio.create_task(self._feed(update), name=f"update-{update.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response({})

    async def _feed(self, update: Update) -> None:
        try:
            result = await self.dispatcher.feed_update(self.bot, update, **self.data)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(bot=self.bot, result=result)
        except Exception:
            log.exception("update %s failed", update.update_id)

    @property
    def in_flight(self) -> set[asyncio.Task[None]]:
        return set(self._tasks)

    async def close(self) -> None:
        """The bot session belongs to the App (closed by `App.close` after the drain), not to this handler."""
