"""Every stop of a background task goes through `bot.tasks.cancelled`: it must end even when a cancel is lost (as
Python 3.11's asyncio.wait_for loses one that lands as its call completes), and say what the task raised."""

from __future__ import annotations

import asyncio

import pytest

from bot.tasks import cancelled


async def test_a_loop_that_lost_its_cancel_is_stopped_all_the_same() -> None:
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                rounds += 1
                if rounds == 1:
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]  # the lost cancel
                    continue
                raise

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await cancelled(task)
    assert task.cancelled() and rounds == 2


async def test_what_the_task_raised_is_raised_and_a_finished_task_is_left_as_it_is() -> None:
    async def broken() -> None:
        raise ValueError("boom")

    task = asyncio.create_task(broken())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="boom"):
        await cancelled(task)

    done = asyncio.create_task(asyncio.sleep(0, result=7))
    await done
    await cancelled(done)
    assert done.result() == 7
