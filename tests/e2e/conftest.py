"""Hooks of the end-to-end tier (the fixtures every tier uses are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.image import build_ahead


def pytest_collection_finish(session: pytest.Session) -> None:
    build_ahead(session)  # the image's ~40 s of pip start now, not when the first test that needs it runs
