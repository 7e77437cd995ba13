"""The one log of refused requests on the HTTP edge (the webhook without its secret, `/alerts` without its
token): a stale secret or a scanner is said in the log, with how many so far, but at most once a minute — a
flood of refusals never floods the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp import web

EVERY = 60.0  # seconds between two log lines at the most


class RefusalLog:
    """Counts refusals (`count`); `note(request)` logs "refused N <what> (latest from <address>)" when the last
    such line is `EVERY` seconds old or there was none."""

    def __init__(self, log: logging.Logger, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.what = what  # e.g. "webhook request(s) without the right secret token"
        self.clock = clock
        self.count = 0
        self._logged_at: float | None = None

    def note(self, request: web.BaseRequest) -> None:
        self.count += 1
        now = self.clock()
        if self._logged_at is None or now - self._logged_at >= EVERY:
            self._logged_at = now
            self.log.warning("refused %d %s (latest from %s)", self.count, self.what, request.remote)
