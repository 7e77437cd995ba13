"""``python -m bot sandbox``: a sandbox gateway that runs until it is stopped, announcing its URL and magic
numbers."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Final

from .model import MAGIC_NUMBERS
from .server import DEFAULT_HOST, SandboxGateway

DEFAULT_PORT: Final = 8090


def credentials_from_env() -> tuple[str, str]:
    """``SMSKA_API_KEY``/``SMSKA_API_PASSWORD`` when set (and not blank), else ``test``/``test``."""
    key = os.environ.get("SMSKA_API_KEY", "").strip() or "test"
    password = os.environ.get("SMSKA_API_PASSWORD", "").strip() or "test"
    return key, password


async def serve_forever(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    api_password: str | None = None,
    *,
    stop: asyncio.Event | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Run a sandbox until SIGINT/SIGTERM (or ``stop`` is set), announcing its URL first.

    ``api_key``/``api_password`` default to :func:`credentials_from_env`. The password is never printed.
    """
    env_key, env_password = credentials_from_env()
    gateway = SandboxGateway(
        api_key=api_key if api_key is not None else env_key,
        api_password=api_password if api_password is not None else env_password,
    )
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    url = await gateway.start(host, port)
    try:
        announce(f"smska sandbox gateway listening on {url}")
        announce(f"  SMSKA_URL={url}  SMSKA_API_KEY={gateway.api_key}  (password as configured)")
        announce("  magic recipient numbers:")
        for magic in MAGIC_NUMBERS.values():
            announce(f"    {magic.msisdn}  {magic.description}")
        announce("  stop with Ctrl+C")
        await stop.wait()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await gateway.stop()
        announce("smska sandbox gateway stopped")
