"""`/escalation 5 duty, 15 Admins, 30 +7 904 176-49-95` read: minutes after the group first fired, then a
recipient (duty, a contact, a group or a number), checked against the address book the way /send reads them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.services.directory import Directory, NobodyOnDuty

MAX_STEPS = 10
MAX_MINUTES = 24 * 60
_STEP = re.compile(r"^\s*(\d{1,6})\s*(?:m|min|мин|минут[аы]?)?\.?\s+(.+?)\s*$", re.IGNORECASE)

Why = Literal["format", "minutes", "recipient", "too_many"]


@dataclass(frozen=True, slots=True)
class LadderProblem:
    why: Why
    piece: str = ""  # the step (or recipient) that could not be read


OFF_WORDS = frozenset({"off", "выкл", "выключить", "нет"})


async def read_ladder(args: str, directory: Directory) -> list[tuple[int, str]] | LadderProblem:
    """The steps ((minutes, recipient as typed), by minutes), or what is wrong with them."""
    pieces = [p.strip() for p in args.split(",") if p.strip()]
    if not pieces:
        return LadderProblem("format")
    if len(pieces) > MAX_STEPS:
        return LadderProblem("too_many")
    steps: list[tuple[int, str]] = []
    for piece in pieces:
        found = _STEP.match(piece)
        if found is None:
            return LadderProblem("format", piece)
        minutes, phrase = int(found.group(1)), found.group(2)
        if minutes > MAX_MINUTES:
            return LadderProblem("minutes", piece)
        if not await names_someone(phrase, directory):
            return LadderProblem("recipient", phrase)
        steps.append((minutes, phrase))
    return sorted(steps, key=lambda s: s[0])


async def names_someone(phrase: str, directory: Directory) -> bool:
    """The phrase is one recipient, nothing left over: a number, a contact, a group, or duty (even when nobody is
    on duty right now: whoever is when the step is due)."""
    resolved = await directory.read(phrase)
    if isinstance(resolved.problem, NobodyOnDuty):
        return True
    return resolved.problem is None and not resolved.text and bool(resolved.recipients)
