"""End-to-end fixtures: the whole bot over loopback (fake Telegram + sandbox gateway + real SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.devkit.harness import Harness

ADMIN = 1001
OPERATOR = 2002
STRANGER = 3003


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Harness]:
    async with Harness(tmp_path, admin_ids=(ADMIN,)) as harness:
        yield harness
