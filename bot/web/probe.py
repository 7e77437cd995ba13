"""`python -m bot.web.probe`: the container's HEALTHCHECK. Exit 0 when `/healthz` on `HEALTH_PORT` or `WEBHOOK_PORT`
(127.0.0.1) answers 200, else 1.

The standard library only, on purpose: the probe runs every 30 s with a 5 s timeout, and importing aiogram takes
3-5 s on a busy container (`bot/__init__.py` is empty, so `python -m bot.web.probe` imports nothing else of the bot).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe(timeout: float = 3.0) -> int:
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
    sys.exit(probe())
