"""`POST /alerts` (ALERT_TOKEN set): Alertmanager's webhook (version 4) and Grafana's webhook contact point.

The checks an open port needs, in this order: the token first (`Authorization: Bearer <ALERT_TOKEN>`, compared in
constant time; wrong or missing: 401, and the body is never read), then the size (over 1 MB: 413, by its
Content-Length and again while reading a body that has none), then the shape (not JSON, nested too deep, or
not a notification: 400). A notification that passes is stored and queued, and answered 200 at once: the
messages it causes go out in the background at Telegram's pace (`bot.services.alerts`), so a storm neither
waits nor slows anyone.
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
from typing import TYPE_CHECKING

from aiohttp import web

from bot.logs import mask_also
from bot.services.alert_payload import parse_alert_payload
from bot.web.body import read_or_refuse
from bot.web.refusals import RefusalLog

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

ALERTS_PATH = "/alerts"
MAX_ALERT_BYTES = 1024 * 1024
READ_TIMEOUT = 10.0  # seconds to read a body once its headers came, else 408


class AlertsEndpoint:
    def __init__(self, app: App, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()
        self.refusals = RefusalLog(log, "alert notification(s) without the right token")

    def authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, self._expected)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            self.refusals.note(request)
            return web.Response(status=401, text="Unauthorized\n", headers={"WWW-Authenticate": "Bearer"})
        raw = await read_or_refuse(request, limit=MAX_ALERT_BYTES, timeout=READ_TIMEOUT)
        if isinstance(raw, web.Response):
            return raw
        try:
            group = parse_alert_payload(json.loads(raw))
        except (ValueError, RecursionError, TypeError) as exc:
            # JSONDecodeError, UnicodeDecodeError and NotAnAlert are ValueErrors; a body nested deeper than the
            # parser goes raises RecursionError. Whatever cannot be read is the sender's mistake: 400, one line.
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:100]
            log.warning("refused an alert notification: %s", reason)
            return web.Response(status=400, text="Bad request: not an Alertmanager or Grafana notification\n")
        alerts = self.app.alerts
        if alerts is None:
            return web.Response(status=503, text="Not serving alerts right now\n")
        try:
            await alerts.take(group)
        except sqlite3.Error as exc:  # Alertmanager sends it again later
            log.error("could not store an alert notification: %s", type(exc).__name__)
            return web.Response(status=503, text="Could not store it; try again\n")
        return web.json_response({"status": "ok"})


def add_alert_routes(web_app: web.Application, app: App) -> AlertsEndpoint | None:
    """`POST /alerts` when ALERT_TOKEN is set (else the path does not exist: 404)."""
    token = app.settings.alert_token
    if token is None:
        return None
    secret = token.get_secret_value()
    mask_also(secret)  # never in a log line, whoever set up logging
    endpoint = AlertsEndpoint(app, secret)
    web_app.router.add_post(ALERTS_PATH, endpoint.handle)
    return endpoint
