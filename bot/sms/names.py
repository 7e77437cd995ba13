"""Names of recipients (contacts and groups) and how a typed phrase names them. Pure: no aiogram, no I/O.

The address book is small (a team's contacts and groups), so the reader works on a snapshot of it (`Book`):
`bot.services.directory.Directory` loads one per message and expands what was read (groups, duty) from storage.

Names compare ignoring case in every script (`str.casefold`, not SQLite's ASCII-only NOCASE) and ignoring the
difference between ё and е, which Russian writers drop at will: "семен" finds "Семён".
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import Literal, NamedTuple

from bot.sms.clean import clean_name
from bot.sms.phone import PhoneError, PhoneProblem, normalize_phone
from bot.sms.recipients import MAX_NUMBER_WORDS, NUMBER_WORD, TRAILING, split_number

MAX_NAME = 64  # characters
MAX_NAME_WORDS = 8  # a run of more words is never read as a name
MIN_PREFIX = 2  # characters: "I" alone is not a prefix of "Ivan"
DUTY_WORDS = frozenset({"duty", "дежурный", "дежурному", "дежурные", "дежурным"})
_FORBIDDEN = ",:"  # a comma separates recipients, a colon ends a group's name (/group name: a, b)
_NUMBERISH = re.compile(r"^[\s+\d()\-.‐‑‒–—―−]+$")
_TOKEN = re.compile(r"[^\s,]+,?|,")  # 'Ivan,Olga' reads as 'Ivan,' 'Olga'


def name_key(name: str) -> str:
    """What two names must share to be the same name: case, spacing and ё/е do not count."""
    return " ".join(name.split()).casefold().replace("ё", "е")


class NameProblem(enum.StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NUMBER = "number"  # it reads as a phone number: it would shadow one
    RESERVED = "reserved"  # "duty" means whoever is on duty
    PUNCTUATION = "punctuation"  # a comma or a colon, or it starts with # or /


def clean_contact_name(raw: str) -> str:
    return clean_name(raw)


def name_problem(name: str) -> NameProblem | None:
    """Why `name` (cleaned) cannot be a contact's or a group's name; None when it can."""
    if not name:
        return NameProblem.EMPTY
    if len(name) > MAX_NAME:
        return NameProblem.TOO_LONG
    if _NUMBERISH.match(name):
        return NameProblem.NUMBER
    try:
        normalize_phone(name)
    except PhoneError:
        pass
    else:  # pragma: no cover - every valid number is number-ish
        return NameProblem.NUMBER
    if name_key(name) in DUTY_WORDS:
        return NameProblem.RESERVED
    if any(ch in name for ch in _FORBIDDEN) or name[0] in "#/":
        return NameProblem.PUNCTUATION
    return None


class ContactArgs(NamedTuple):
    """`/contact Ivan Petrov +7 904 176-49-95` -> ('Ivan Petrov', '79041764995', None)."""

    name: str
    msisdn: str | None
    problem: PhoneProblem | None  # trailing words that look like a number but are not a valid one


def split_contact_args(args: str) -> ContactArgs:
    """The number is the longest run of trailing words that forms a valid number; the name is what comes before
    it. Without one, the whole is a name (to show) — unless its trailing words look like a number that is not a
    valid one: then that is the problem (a typo in the number must not silently become a lookup)."""
    words = args.split()
    for k in range(min(len(words), MAX_NUMBER_WORDS), 0, -1):
        try:
            msisdn = normalize_phone(" ".join(words[-k:]))
        except PhoneError:
            continue
        return ContactArgs(clean_contact_name(" ".join(words[:-k])), msisdn, None)
    numeric = 0
    while numeric < len(words) and NUMBER_WORD.match(words[-numeric - 1]):
        numeric += 1
    digits = sum(ch.isdigit() for w in words[len(words) - numeric :] for ch in w)
    if numeric and digits >= 5:
        try:
            normalize_phone(" ".join(words[-numeric:]))
        except PhoneError as exc:
            return ContactArgs(clean_contact_name(" ".join(words[:-numeric])), None, exc.reason)
    return ContactArgs(clean_contact_name(args), None, None)


# --- the address book and reading a phrase ------------------------------------------------------------------
Kind = Literal["contact", "group"]


class Entry(NamedTuple):
    kind: Kind
    id: int
    name: str


class Book:
    """A snapshot of the names: exact lookups and prefixes, ignoring case."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = sorted(entries, key=lambda e: name_key(e.name))
        self._keys = [(name_key(e.name), e) for e in self.entries]
        self._exact = dict(self._keys)

    def exact(self, phrase: str) -> Entry | None:
        return self._exact.get(name_key(phrase))

    def prefixed(self, phrase: str) -> list[Entry]:
        key = name_key(phrase)
        if len(key) < MIN_PREFIX:
            return []
        return [e for k, e in self._keys if k.startswith(key)]


class Item(NamedTuple):
    """One recipient phrase read: a number, duty, or the entries it names (one: exact or unique prefix; several:
    the person must choose)."""

    phrase: str
    msisdn: str | None = None
    entries: tuple[Entry, ...] = ()
    duty: bool = False


class Reading(NamedTuple):
    items: list[Item]  # empty: the start of the phrase names no recipient
    text: str  # what follows the recipients, as typed
    problem: PhoneProblem | None = None  # nothing read, and the first words look like a number that is not one
    comma: bool = False  # a comma follows the last recipient read (what follows it named none)


class _Token(NamedTuple):
    word: str  # without its trailing comma
    comma: bool  # a comma follows it
    end: int  # where it ends in the phrase


def _tokens(args: str) -> list[_Token]:
    found: list[_Token] = []
    for m in _TOKEN.finditer(args):
        word = m.group()
        if word == ",":
            if found:
                found[-1] = found[-1]._replace(comma=True, end=m.end())
            continue
        comma = word.endswith(",")
        found.append(_Token(word.rstrip(","), comma, m.end()))
    return found


def _number_at(tokens: list[_Token], pos: int) -> tuple[Item, int] | None:
    """The shortest run of words from `pos` that reads as a valid number; a comma ends a run."""
    for k in range(1, min(len(tokens) - pos, MAX_NUMBER_WORDS) + 1):
        run = tokens[pos : pos + k]
        last = run[-1].word.rstrip(TRAILING)
        if any(t.comma for t in run[:-1]):
            return None
        if not last:
            continue
        try:
            msisdn = normalize_phone(" ".join([*(t.word for t in run[:-1]), last]))
        except PhoneError:
            continue
        return Item(" ".join(t.word for t in run), msisdn=msisdn), pos + k
    return None


def _name_runs(tokens: list[_Token], pos: int) -> list[tuple[str, int]]:
    """Candidate names from `pos`, longest first: runs of words no comma breaks, at most MAX_NAME long."""
    runs: list[tuple[str, int]] = []
    for k in range(1, min(len(tokens) - pos, MAX_NAME_WORDS) + 1):
        run = tokens[pos : pos + k]
        if any(t.comma for t in run[:-1]):
            break
        phrase = " ".join([*(t.word for t in run[:-1]), run[-1].word.rstrip(TRAILING)])
        if len(phrase) > MAX_NAME:
            break
        runs.append((phrase, pos + k))
    return runs[::-1]


def _item_at(tokens: list[_Token], pos: int, book: Book, *, whole: bool = False) -> tuple[Item, int] | None:
    """The recipient named at `pos`, and where it ends; `whole`: only one that takes every word left."""
    if NUMBER_WORD.match(tokens[pos].word):
        return _number_at(tokens, pos)
    runs = [(p, end) for p, end in _name_runs(tokens, pos) if not whole or end == len(tokens)]
    for phrase, end in runs:  # an exact name (or duty), the longest run first
        if name_key(phrase) in DUTY_WORDS:
            return Item(phrase, duty=True), end
        entry = book.exact(phrase)
        if entry is not None:
            return Item(phrase, entries=(entry,)), end
    for phrase, end in runs:  # else a prefix, the longest run first
        found = book.prefixed(phrase)
        if found:
            return Item(phrase, entries=tuple(found)), end
    return None


def read_recipients(args: str, book: Book, most: int | None = None) -> Reading:
    """`Ivan, Olga Petrova, +7 904 176-49-95 db1 is down` -> three items and the text 'db1 is down'.

    Read left to right: at each place a number (the shortest run of words that is one), else the longest run of
    words that is a name exactly (or "duty"), else the longest that is the start of names. A comma continues the
    list only when what follows it names a recipient: `Ivan Hello, check the logs` is Ivan and 'Hello, check the
    logs'. With `most`, a list that goes on past that many recipients is not read further: `most` items, a comma
    after the last and no text (`went_on`) — what a person may type is bounded, what is read for it is too."""
    tokens = _tokens(args)
    items: list[Item] = []
    pos, end_at = 0, 0
    while pos < len(tokens):
        if most is not None and len(items) >= most:
            return Reading(items, "", comma=True)
        found = _item_at(tokens, pos, book)
        if found is None:
            break
        item, pos = found
        items.append(item)
        end_at = tokens[pos - 1].end
        if not tokens[pos - 1].comma:
            break
    if not items:
        problem = None
        if tokens and NUMBER_WORD.match(tokens[0].word):
            problem = split_number(args).problem
        return Reading([], args.strip(), problem)
    text = args[end_at:].strip().lstrip(TRAILING).strip()
    return Reading(items, text, comma=tokens[pos - 1].comma)


def went_on(reading: Reading, most: int) -> bool:
    """`read_recipients(..., most=most)` stopped reading: the list goes on past `most` recipients."""
    return len(reading.items) >= most and reading.comma and not reading.text


def read_one(phrase: str, book: Book) -> Item | None:
    """The whole `phrase` as one recipient (a group's member, /duty's argument); None when it is not one."""
    tokens = _tokens(phrase)
    if not tokens:
        return None
    found = _item_at(tokens, 0, book, whole=True)
    if found is None or found[1] != len(tokens):
        return None
    return found[0]
