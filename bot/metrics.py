"""What the bot knows about itself: the facts behind /healthz, /readyz and /metrics, and the log context.

`instrument(bot, dp, gateway)` (called by `bot.app.build_app`) wires three small observers, so polling,
webhook, the tests and the playground all carry them:

* `TelegramWatch`, a Bot API session middleware: the monotonic time of the last Bot API call Telegram
  answered and of the last one that failed (network error, 5xx, bad token, conflict);
* `GatewayWatch`, the `SmskaClient.observer`: the outcome of the latest gateway attempt, latency by action;
* `UpdateMiddleware`, the first outer middleware on `dp.update`: counts updates by type and puts the
  update id and the operator's id into the log context (`bot.logs.LOG_CONTEXT`) while the update is handled.

Prometheus (`pip install '.[metrics]'`) is optional: without `prometheus-client` everything works and
`/metrics` answers 404. SMS outcomes and final delivery statuses are counted from the database at scrape
time, so they survive restarts and need nothing from the sending code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update, User

from bot.logs import log_context

if TYPE_CHECKING:
    from bot.gateway.client import SmskaClient

log = logging.getLogger(__name__)

#: Send states as stored in `sends.state`, always exported (0 when none) so a dashboard's series exist.
SEND_STATES = ("draft", "sending", "accepted", "failed", "unknown", "cancelled")
#: Gateway outcomes that mean "the gateway did not work", for readiness. `error_1` is a wrong API key or
#: password: nothing can be sent until someone fixes the settings. Other error codes are about one request.
GATEWAY_DOWN_PREFIXES = ("unavailable_", "unknown", "error_1")
#: Telegram errors that mean "the Bot API did not work". A 400/403/404/429 is Telegram answering.
TELEGRAM_DOWN = (TelegramNetworkError, TelegramServerError, TelegramUnauthorizedError, TelegramConflictError)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 25.0)
DELIVERY_BUCKETS = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
#: Facts read at scrape time (`bot.http.render_metrics` fills `Observability.scraped`); a fact that is not
#: known (None) is left out, so a rule never fires on a made-up zero (a balance never seen is not 0).
SCRAPED_GAUGES = {
    "smska_bot_telegram_ok": "1 when the latest Bot API call got an answer (or none was made yet), else 0",
    "smska_bot_balance": "The SMS account's balance as the gateway last reported it (with a send or /balance)",
    "smska_bot_balance_threshold": "LOW_BALANCE_THRESHOLD; absent when unset",
    "smska_bot_tracking_overdue_seconds": "How late the most overdue delivery-status check is; 0 when none is",
    "smska_bot_chat_queue_depth": "Messages the bot waits to post on its own (alerts, the team feed)",
    "smska_bot_leader": "1 on the process that does the bot's own work (tracking, notices, alerts); one "
    "process on SQLite is always the leader",
}


def _prometheus() -> Any | None:
    try:
        import prometheus_client
    except ImportError:
        return None
    return prometheus_client


def _ago(moment: float | None, now: float) -> float | None:
    return None if moment is None else round(now - moment, 3)


class TelegramWatch(BaseRequestMiddleware):
    """Session middleware: when Telegram last answered a call, and when a call last failed."""

    def __init__(self) -> None:
        self.last_success_at: float | None = None
        self.last_failure_at: float | None = None
        self.last_error: str | None = None
        self.calls = 0
        self.failures = 0  # calls Telegram did not answer (network, 5xx, bad token, conflict)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        self.calls += 1
        try:
            response = await make_request(bot, method)
        except TELEGRAM_DOWN as exc:
            self.failures += 1
            self.last_failure_at = time.monotonic()
            self.last_error = type(exc).__name__
            raise
        except Exception:
            # 400/403/404/429: Telegram is up and answered; the request itself was wrong or refused.
            self.last_success_at = time.monotonic()
            raise
        self.last_success_at = time.monotonic()
        return response

    @property
    def ok(self) -> bool:
        """No call yet, or the latest call got an answer."""
        if self.last_failure_at is None:
            return True
        return self.last_success_at is not None and self.last_success_at > self.last_failure_at

    def facts(self, now: float) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "last_success_ago_s": _ago(self.last_success_at, now),
            "last_failure_ago_s": _ago(self.last_failure_at, now),
            "last_error": self.last_error,
        }


@dataclass
class GatewayWatch:
    """`SmskaClient.observer`: the latest attempt's outcome, plus Prometheus series when available."""

    latency: Any = None  # Histogram(action) or None
    errors: Any = None  # Counter(action, code) or None
    last_outcome: str | None = None
    last_at: float | None = None
    attempts: Counter[str] = field(default_factory=Counter)

    def __call__(self, action: str, seconds: float, outcome: str) -> None:
        self.last_outcome = outcome
        self.last_at = time.monotonic()
        self.attempts[outcome] += 1
        if self.latency is not None:
            self.latency.labels(action=action).observe(seconds)
        if self.errors is not None and outcome != "ok":
            code = outcome.removeprefix("error_").removeprefix("unavailable_")
            self.errors.labels(action=action, code=code).inc()

    @property
    def ok(self) -> bool:
        """No gateway call yet, or the latest attempt got a reply the bot can work with."""
        return self.last_outcome is None or not self.last_outcome.startswith(GATEWAY_DOWN_PREFIXES)

    def facts(self, gateway: SmskaClient | None, now: float) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "last_outcome": self.last_outcome,
            "last_call_ago_s": _ago(self.last_at, now),
            "last_success_ago_s": _ago(gateway.last_success_at if gateway is not None else None, now),
        }


class UpdateMiddleware(BaseMiddleware):
    """First outer middleware on `update`: counts it by type, and logs carry its id and the sender's id."""

    def __init__(self, counter: Any = None, seconds: Any = None) -> None:
        self.counts: Counter[str] = Counter()
        self._counter = counter  # prometheus Counter(type) or None
        self._seconds = seconds  # prometheus Histogram(type) or None
        #: The tasks handling an update right now (polling and the webhook run one task per update): what a
        #: stop waits for before it closes the clients those updates need.
        self.in_flight: set[asyncio.Task[Any]] = set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update_id = getattr(event, "update_id", None)
        kind = "unknown"
        if isinstance(event, Update):
            try:
                kind = event.event_type
            except Exception:  # an update type newer than this aiogram knows
                kind = "unknown"
        self.counts[kind] += 1
        if self._counter is not None:
            self._counter.labels(type=kind).inc()
        user: User | None = data.get("event_from_user")
        task = asyncio.current_task()
        if task is not None:
            self.in_flight.add(task)
        started = time.monotonic()
        try:
            with log_context(update_id=update_id, user_id=user.id if user is not None else None):
                return await handler(event, data)
        finally:
            if task is not None:
                self.in_flight.discard(task)
            if self._seconds is not None:
                self._seconds.labels(type=kind).observe(time.monotonic() - started)


class _ScrapedCollector:
    """The facts `render_metrics` read at this scrape (`Observability.scraped`), plus Telegram's failures."""

    def __init__(self, obs: Observability) -> None:
        self.obs = obs

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        for name, help_text in SCRAPED_GAUGES.items():
            fact = self.obs.scraped.get(name)
            if fact is not None:
                yield GaugeMetricFamily(name, help_text, value=fact)
        yield CounterMetricFamily(
            "smska_bot_telegram_errors",
            "Bot API calls Telegram did not answer (network error, 5xx, bad token, conflict)",
            value=self.obs.telegram.failures,
        )

    def describe(self) -> Iterable[Any]:
        return []


class _RetriesCollector:
    """Telegram 429 waits, read from the RetryAfterMiddleware's own counter at scrape time."""

    def __init__(self, read: Callable[[], int]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        yield CounterMetricFamily(
            "smska_bot_telegram_retries",
            "Telegram requests that waited out a 429 Too Many Requests",
            value=self.read(),
        )

    def describe(self) -> Iterable[Any]:
        return []


class Observability:
    """Everything the health and metrics endpoints read; one per App."""

    def __init__(self) -> None:
        self.started_at = time.monotonic()
        self.starting = True  # until start-up reached Telegram and is done: /readyz says "starting"
        self.stopping = False
        self.prometheus = _prometheus()
        self.registry: Any = None
        self.sends: Any = None
        self.final: Any = None
        self.tracking: Any = None
        self.up: Any = None
        self.leader = True  # one process on SQLite does all the bot's own work
        self.scraped: dict[str, float | None] = {}
        self.delivery: Any = None  # Histogram(outcome) or None
        latency = errors = updates = answer = None
        if self.prometheus is not None:
            p = self.prometheus
            self.registry = p.CollectorRegistry(auto_describe=True)
            latency = p.Histogram(
                "smska_bot_gateway_request_seconds",
                "Time of one gateway attempt, by action",
                ["action"],
                buckets=LATENCY_BUCKETS,
                registry=self.registry,
            )
            errors = p.Counter(
                "smska_bot_gateway_errors",
                "Gateway attempts that did not succeed, by action and code (a documented error code, or a "
                "fault: timeout, connect, http_5xx, html, empty, garbage, dropped, unknown)",
                ["action", "code"],
                registry=self.registry,
            )
            updates = p.Counter(
                "smska_bot_updates", "Telegram updates handled, by type", ["type"], registry=self.registry
            )
            self.sends = p.Gauge(
                "smska_bot_sms", "SMS in the send log, by state (from the database)", ["state"], registry=self.registry
            )
            self.final = p.Gauge(
                "smska_bot_sms_final_status",
                "Accepted SMS whose tracking ended, by final delivery status (from the database; "
                "`untracked` when the tracking window ran out)",
                ["status"],
                registry=self.registry,
            )
            self.tracking = p.Gauge(
                "smska_bot_tracking_queue_depth", "SMS waiting for a final delivery status", registry=self.registry
            )
            self.up = p.Gauge("smska_bot_ready", "1 when /readyz would answer 200, else 0", registry=self.registry)
            answer = p.Histogram(
                "smska_bot_update_seconds",
                "Time from an update's arrival to the end of its handling (an operator's answer time), by type",
                ["type"],
                buckets=LATENCY_BUCKETS,
                registry=self.registry,
            )
            self.delivery = p.Histogram(
                "smska_bot_delivery_seconds",
                "Time from an SMS accepted by the gateway to its final delivery status, by outcome",
                ["outcome"],
                buckets=DELIVERY_BUCKETS,
                registry=self.registry,
            )
            self.registry.register(_ScrapedCollector(self))
        self.telegram = TelegramWatch()
        self.gateway = GatewayWatch(latency=latency, errors=errors)
        self.updates = UpdateMiddleware(updates, answer)

    def delivered(self, outcome: str, seconds: float) -> None:
        """A tracked SMS reached its final status `seconds` after it was sent (`Tracker.finals`)."""
        if self.delivery is not None:
            self.delivery.labels(outcome=outcome).observe(seconds)

    def watch_retries(self, read: Callable[[], int]) -> None:
        if self.registry is not None:
            self.registry.register(_RetriesCollector(read))


def instrument(bot: Bot, dp: Dispatcher, gateway: SmskaClient, retries: Callable[[], int]) -> Observability:
    """Wire the observers into a freshly built bot. Call before any other outer middleware on `dp.update`."""
    obs = Observability()
    bot.session.middleware(obs.telegram)
    dp.update.outer_middleware(obs.updates)
    gateway.observer = obs.gateway
    obs.watch_retries(retries)
    return obs
