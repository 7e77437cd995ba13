"""Fast-tier fixtures: the production app with its Bot API calls answered in memory (see ``client.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN
from tests.support.fast_client import FastBot


@pytest.fixture
async def fb(tmp_path: Path) -> AsyncIterator[FastBot]:
    async with FastBot(tmp_path, admin_ids=(ADMIN,)) as bot:
        yield bot
