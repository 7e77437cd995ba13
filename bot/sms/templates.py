"""What a person typed after /template, and `#name` in place of an SMS text. Pure: no aiogram, no I/O.

A template is written `#name` in /send, so a name is one word: letters (any alphabet), digits, `_` and `-`,
at most 64 characters, at least one letter (`112` would read as a number). Names are unique ignoring case, ё/е
and lookalike letters, by their folded key (`bot.sms.names.name_key`, as contacts' and groups' names; Python folds
Cyrillic, SQLite's NOCASE would not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from bot.sms.clean import clean_sms_text
from bot.sms.names import name_key
from bot.sms.parts import count_parts

NAME_MAX = 64
MAX_TEMPLATE_PARTS = 10  # the same cap as one send (bot.services.sending.MAX_PARTS)
_NAME = re.compile(r"[\w-]+")  # \w: letters and digits of any alphabet, and _
_REFERENCE = re.compile(r"#([\w-]+)")


class Problem(Enum):
    USAGE = "usage"  # `/template` alone
    NO_COLON = "no_colon"  # several words and no colon after the name
    EMPTY_NAME = "empty_name"
    NAME_TOO_LONG = "name_too_long"
    NAME_CHARACTERS = "name_characters"  # spaces, punctuation, HTML...
    NAME_NUMBER = "name_number"  # no letter in it
    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LONG = "text_too_long"
    TEXT_REFERENCE = "text_reference"  # the text is itself `#name`: it would be read as another template


@dataclass(frozen=True, slots=True)
class Refused:
    problem: Problem
    name: str = ""  # the name as typed (to show it, escaped)
    suggestion: str | None = None  # a name that would do (`db down` -> `db_down`)
    parts: int = 0  # TEXT_TOO_LONG: how many SMS the text takes


@dataclass(frozen=True, slots=True)
class Save:
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class Show:
    name: str


def key(name: str) -> str:
    """What makes two names the same: `DBdown`, `dbdown`; `БД`, `бд`; `ошибка_всё`, `ошибка_все`."""
    return name_key(name)


def name_problem(name: str) -> Problem | None:
    if not name:
        return Problem.EMPTY_NAME
    if len(name) > NAME_MAX:
        return Problem.NAME_TOO_LONG
    if not _NAME.fullmatch(name):
        return Problem.NAME_CHARACTERS
    if not any(ch.isalpha() for ch in name):
        return Problem.NAME_NUMBER
    return None


def _suggest(name: str) -> str | None:
    """`db down` -> `db_down`, when that is a good name."""
    joined = "_".join(name.split())
    return joined if joined != name and name_problem(joined) is None else None


def _name(typed: str) -> str:
    typed = typed.strip()
    return typed[1:].strip() if typed.startswith("#") else typed  # `/template #dbdown: ...` works too


def parse(args: str | None) -> Save | Show | Refused:
    """`dbdown: Server db1 is down` -> Save; `dbdown` -> Show; anything else -> Refused (why, and what was typed)."""
    args = (args or "").strip()
    if not args:
        return Refused(Problem.USAGE)
    if ":" not in args:
        name = _name(args)
        if len(name.split()) > 1:
            first = name.split()[0]
            return Refused(Problem.NO_COLON, name, first if name_problem(first) is None else None)
        problem = name_problem(name)
        return Show(name) if problem is None else Refused(problem, name)
    typed, text = args.split(":", 1)
    name = _name(typed)
    problem = name_problem(name)
    if problem is not None:
        return Refused(problem, name, _suggest(name) if problem is Problem.NAME_CHARACTERS else None)
    text = clean_sms_text(text).strip()
    if not text:
        return Refused(Problem.EMPTY_TEXT, name)
    if reference(text) is not None:
        return Refused(Problem.TEXT_REFERENCE, name)
    parts = count_parts(text).parts
    if parts > MAX_TEMPLATE_PARTS:
        return Refused(Problem.TEXT_TOO_LONG, name, parts=parts)
    return Save(name, text)


def reference(text: str) -> str | None:
    """The name when the whole text is `#name` (the template is meant, never the text "#name"), else None."""
    found = _REFERENCE.fullmatch(text.strip())
    return found.group(1) if found else None
