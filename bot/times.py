"""Moments as the database keeps them: whole seconds since 1970-01-01 UTC (`Epoch`), compared as numbers on both
engines. A number cannot be compared wrongly the way ISO text with two offsets can.

`moment()` also reads the ISO text that older columns hold until they are converted, so code written against
either form keeps working across that migration.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

Epoch = int


def now() -> Epoch:
    return int(time.time())


def epoch(at: datetime) -> Epoch:
    """An aware datetime (a naive one is taken as UTC) as epoch seconds."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp())


def moment(value: Epoch | float | str) -> datetime:
    """A stored moment (epoch seconds, or ISO text of an older column) as an aware UTC datetime."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():  # epoch seconds kept as text (kv values)
        value = int(value)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    return datetime.fromtimestamp(value, UTC)


def seconds(value: Epoch | float | str) -> float:
    """A stored moment (either form) as epoch seconds."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value if isinstance(value, int | float) else moment(value).timestamp()
