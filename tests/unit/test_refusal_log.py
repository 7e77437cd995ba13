"""The HTTP edge's one refusal log (`bot.web.refusals`, serving the webhook and `/alerts`): a flood of refused
requests — a stale secret, a scanner — is said in the log with how many so far, at most once a minute."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import make_mocked_request

from bot.web.refusals import EVERY, RefusalLog


class Clock:
    def __init__(self) -> None:
        self.now = 5.0  # a machine up for a few seconds: the first refusal is still said

    def __call__(self) -> float:
        return self.now


def refused_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.refusals"]


def test_a_flood_of_refusals_is_one_line_a_minute_with_the_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    refusals = RefusalLog(logging.getLogger("test.refusals"), "webhook request(s) without the secret", clock)
    request = make_mocked_request("POST", "/hook")
    with caplog.at_level(logging.WARNING, logger="test.refusals"):
        for _ in range(500):  # a scanner's burst within one second
            refusals.note(request)
        assert len(refusals_lines := refused_lines(caplog)) == 1
        assert refusals_lines[0].startswith("refused 1 webhook request(s) without the secret (latest from ")
        clock.now += EVERY - 0.5
        refusals.note(request)
        assert len(refused_lines(caplog)) == 1  # still within the minute
        clock.now += 0.5
        refusals.note(request)
        lines = refused_lines(caplog)
        assert len(lines) == 2 and lines[1].startswith("refused 502 webhook request(s) without the secret")
    assert refusals.count == 502
