"""Names close to one that was not found (issue 23.8, "did you mean"): a typo, or any word of a name (`Petrov`
finds "Ivan Petrov"). Pure: no aiogram, no I/O; works on folded keys (`bot.sms.names.name_key`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")
SHOWN = 3  # at most this many names offered
MIN_TYPO = 3  # characters: a shorter phrase is too short to be a typo of anything in particular
MIN_WORD = 2  # characters: the start of a name's word


def distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, replace, swap two neighbours) from `a` to `b`; anything over `limit` is limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return min(row[-1], limit + 1)


def allowed(phrase: str) -> int:
    """How many edits still make a near miss: one in a short word, two in a longer one."""
    if len(phrase) < MIN_TYPO:
        return 0
    return 1 if len(phrase) <= 5 else 2


def score(phrase: str, key: str) -> int | None:
    """0: `phrase` is a word of the name, or the start of one; 1, 2: a typo of the name or of one of its words;
    None: not close."""
    words = key.split()
    if len(phrase) >= MIN_WORD and any(w.startswith(phrase) for w in words):
        return 0
    limit = allowed(phrase)
    if not limit:
        return None
    found = min(distance(phrase, candidate, limit) for candidate in {key, *words})
    return found if found <= limit else None


def closest(phrase: str, keyed: Iterable[tuple[str, T]], shown: int = SHOWN) -> list[tuple[int, T]]:
    """The closest of `keyed` ((key, item) pairs) to `phrase` (a key), best first; at most `shown`."""
    scored = []
    for n, (key, item) in enumerate(keyed):
        found = score(phrase, key)
        if found is not None:
            scored.append((found, n, item))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [(s, item) for s, _, item in scored[:shown]]
