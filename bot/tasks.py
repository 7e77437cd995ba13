"""Stopping a background task: one way for every stop in the bot."""

from __future__ import annotations

import asyncio
from typing import Any

#: How long a stop waits on a cancelled task before it asks again.
AGAIN_AFTER = 1.0


async def cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended; what it raised, other than its cancel, is raised here.

    On Python 3.11 `asyncio.wait_for` loses a cancel that lands as the call it waits on completes, and the task
    goes on (a loop goes round again): the cancel is asked for again every `AGAIN_AFTER` seconds, so a stop never
    waits forever (a restart hung that way on PostgreSQL under load). A cancel of the caller itself ends the
    wait, as `await task` under `suppress(CancelledError)` did."""
    while not task.done():
        task.cancel()
        try:
            await asyncio.wait({task}, timeout=AGAIN_AFTER)
        except asyncio.CancelledError:
            return
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
