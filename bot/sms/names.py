"""Names of recipients (contacts and groups) and how a typed phrase names them. Pure: no aiogram, no I/O.

The address book is small (a team's contacts and groups), so the reader works on a snapshot of it (`Book`):
`bot.services.directory.Directory` loads one per message and expands what was read (groups, duty) from storage.

Names compare ignoring case in every script (`str.casefold`, not SQLite's ASCII-only NOCASE) and ignoring the
difference between ё and е, which Russian writers drop at will: "семен" finds "Семён". They also ignore what a
reader cannot see (issue 23.4): Unicode forms (NFC/NFD/NFKC), invisible characters (zero-width spaces and joiners,
soft hyphens, fillers) and letters that look alike in Latin, Cyrillic and Greek ("Ivаn" with a Cyrillic "а" is
"Ivan"); see `name_key`.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from typing import Literal, NamedTuple

from bot.sms import nearby
from bot.sms.clean import clean_name
from bot.sms.fold import looks_like as looks_like
from bot.sms.fold import name_key as name_key
from bot.sms.fold import plain_key as plain_key
from bot.sms.fold import visible as _visible
from bot.sms.phone import PhoneError, PhoneProblem, normalize_phone
from bot.sms.recipients import MAX_NUMBER_WORDS, NUMBER_WORD, PHONE_LIKE_DIGITS, TRAILING, split_number

MAX_NAME = 64  # characters
MAX_NAME_WORDS = MAX_NAME // 2  # one-letter words and spaces: any name that can be saved can be read
MIN_PREFIX = 2  # characters: "I" alone is not a prefix of "Ivan"
DUTY_WORDS = frozenset({"duty", "дежурный", "дежурному", "дежурные", "дежурным"})
_FORBIDDEN = ",:#"  # a comma separates recipients, a colon ends a group's name, `#name` is a template
_NUMBERISH = re.compile(r"^[\s+\d()\-.‐‑‒–—―−]+$")
_TOKEN = re.compile(r"[^\s,]+,?|,")  # 'Ivan,Olga' reads as 'Ivan,' 'Olga'


DUTY_KEYS = frozenset(name_key(w) for w in DUTY_WORDS)


class NameProblem(enum.StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NUMBER = "number"  # it reads as a phone number: it would shadow one
    RESERVED = "reserved"  # "duty" means whoever is on duty
    PUNCTUATION = "punctuation"  # a comma, a colon or #, or it starts with /
    DIGITS_FIRST = "digits_first"  # `112 Ops`: /send would read the digits as a number


def clean_contact_name(raw: str) -> str:
    """A name as saved and shown: one line, NFC, nothing invisible in it."""
    return clean_name(_visible(unicodedata.normalize("NFC", raw)))


def name_problem(name: str) -> NameProblem | None:
    """Why `name` (cleaned) cannot be a contact's or a group's name; None when it can."""
    if not name_key(name):  # empty, or nothing in it a reader can see
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
    if name_key(name) in DUTY_KEYS:
        return NameProblem.RESERVED
    if any(ch in name for ch in _FORBIDDEN) or name[0] == "/":
        return NameProblem.PUNCTUATION
    if NUMBER_WORD.match(name.split()[0]):
        return NameProblem.DIGITS_FIRST
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


def trailing_number(args: str) -> tuple[str, str] | None:
    """`Вася 123` -> ('Вася', '123'): the words before trailing number-like words, and those words; None when
    there are none (or nothing before them)."""
    words = args.split()
    numeric = 0
    while numeric < len(words) - 1 and NUMBER_WORD.match(words[-numeric - 1]):
        numeric += 1
    if not numeric:
        return None
    return " ".join(words[:-numeric]), " ".join(words[-numeric:])


# --- the address book and reading a phrase ------------------------------------------------------------------
Kind = Literal["contact", "group"]


class Entry(NamedTuple):
    kind: Kind
    id: int
    name: str


class Book:
    """A snapshot of the names: exact lookups and prefixes, ignoring case."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._keys = sorted(((name_key(e.name), e) for e in entries), key=lambda ke: ke[0])
        self.entries = [e for _, e in self._keys]
        self._exact: dict[str, Entry] = {}
        # Two saved names that fold alike (saved before the fold knew lookalikes; see migration 10): a contact
        # before a group, the older first — the one that kept the stored key.
        for k, e in sorted(self._keys, key=lambda ke: (ke[0], ke[1].kind != "contact", ke[1].id)):
            self._exact.setdefault(k, e)

    def exact(self, phrase: str) -> Entry | None:
        return self._exact.get(name_key(phrase))

    def prefixed(self, phrase: str) -> list[Entry]:
        key = name_key(phrase)
        if len(key) < MIN_PREFIX:
            return []
        return [e for k, e in self._keys if k.startswith(key)]

    def closest(self, phrase: str) -> list[tuple[int, Entry]]:
        """Names close to `phrase` (did you mean): (how close, 0 best; the entry), best first."""
        return nearby.closest(name_key(phrase), self._keys)


class Item(NamedTuple):
    """One recipient phrase read: a number, duty, or the entries it names (one: exact or unique prefix; several:
    the person must choose)."""

    phrase: str
    msisdn: str | None = None
    entries: tuple[Entry, ...] = ()
    duty: bool = False


class Unsure(NamedTuple):
    """What follows a comma (or a number) looks like a recipient that could not be read (issue 23.1): a typo of a
    name, a phone-like run that is not a number, a second number without a comma. The person says which."""

    phrase: str  # as typed
    kind: Literal["name", "number", "bad_number"]
    choices: tuple[Entry, ...] = ()  # "name": the closest names
    msisdn: str | None = None  # "number": the second number
    problem: PhoneProblem | None = None  # "bad_number": why it is not a number
    rest: str = ""  # what follows the phrase, as typed
    comma: bool = False  # a comma follows the phrase: the list goes on in `rest`


class Reading(NamedTuple):
    items: list[Item]  # empty: the start of the phrase names no recipient
    text: str  # what follows the recipients, as typed
    problem: PhoneProblem | None = None  # nothing read, and the first words look like a number that is not one
    comma: bool = False  # a comma follows the last recipient read (what follows it named none)
    unsure: Unsure | None = None  # the text seems to start with a recipient that could not be read


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
        if any(t.comma for t in run[:-1]) or run[-1].word.startswith("#"):  # `Ivan #dbdown`: a template follows
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
        if name_key(phrase) in DUTY_KEYS:
            return Item(phrase, duty=True), end
        entry = book.exact(phrase)
        if entry is not None:
            return Item(phrase, entries=(entry,)), end
    for phrase, end in runs:  # else a prefix, the longest run first
        found = book.prefixed(phrase)
        if found:
            return Item(phrase, entries=tuple(found)), end
    return None


def read_recipients(args: str, book: Book, most: int | None = None, *, after_comma: bool = False) -> Reading:
    """`Ivan, Olga Petrova, +7 904 176-49-95 db1 is down` -> three items and the text 'db1 is down'.

    Read left to right: at each place a number (the shortest run of words that is one), else the longest run of
    words that is a name exactly (or "duty"), else the longest that is the start of names. A comma continues the
    list only when what follows it names a recipient: `Ivan Hello, check the logs` is Ivan and 'Hello, check the
    logs'. With `most`, a list that goes on past that many recipients is not read further: `most` items, a comma
    after the last and no text (`went_on`) — what a person may type is bounded, what is read for it is too.
    `after_comma`: `args` is the rest of a list after a comma (a question about it was answered)."""
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
        if after_comma:  # the rest of a list: words that name nobody may still be a near miss
            unsure = _unsure_after_comma(args, tokens, 0, book) if tokens else None
            return Reading([], args.strip(), unsure=unsure)
        problem = None
        if tokens and NUMBER_WORD.match(tokens[0].word):
            problem = split_number(args).problem
        return Reading([], args.strip(), problem)
    text = args[end_at:].strip().lstrip(TRAILING).strip()
    comma = tokens[pos - 1].comma
    unsure = None
    if pos < len(tokens):
        unsure = _unsure_after_comma(args, tokens, pos, book) if comma else _second_number(args, tokens, pos, items)
    return Reading(items, text, comma=comma, unsure=unsure)


NEAR_WORDS = 4  # a near miss of a name is looked for in at most this many words


def _rest(args: str, tokens: list[_Token], end: int) -> str:
    return args[tokens[end - 1].end :].strip().lstrip(TRAILING).strip()


def _unsure_after_comma(args: str, tokens: list[_Token], pos: int, book: Book) -> Unsure | None:
    """After a comma, words that name nobody: meant as a recipient (a typo) or the start of the text?"""
    numeric = pos
    while numeric < len(tokens) and NUMBER_WORD.match(tokens[numeric].word):
        numeric += 1
        if tokens[numeric - 1].comma:
            break
    run = tokens[pos:numeric]
    if run and sum(ch.isdigit() for t in run for ch in t.word) >= PHONE_LIKE_DIGITS:
        phrase = " ".join(t.word for t in run).rstrip(TRAILING)
        problem = split_number(phrase).problem
        return Unsure(phrase, "bad_number", problem=problem, rest=_rest(args, tokens, numeric), comma=run[-1].comma)
    best: tuple[int, int, tuple[Entry, ...]] | None = None
    for k in range(1, min(len(tokens) - pos, NEAR_WORDS) + 1):
        words = tokens[pos : pos + k]
        if any(t.comma for t in words[:-1]) or words[-1].word.startswith("#"):
            break
        close = book.closest(" ".join(t.word for t in words).rstrip(TRAILING))
        if close and (best is None or close[0][0] <= best[0]):
            best = (close[0][0], pos + k, tuple(e for _, e in close))
    first = tokens[pos]
    if best is None and first.comma and pos + 1 < len(tokens) and _item_at(tokens, pos + 1, book) is not None:
        best = (0, pos + 1, ())  # `Ivn, Olga text`: a word between two recipients is meant as one
    if best is None:
        return None
    _, end, choices = best
    phrase = " ".join(t.word for t in tokens[pos:end]).rstrip(TRAILING)
    return Unsure(phrase, "name", choices, rest=_rest(args, tokens, end), comma=tokens[end - 1].comma)


def _second_number(args: str, tokens: list[_Token], pos: int, items: list[Item]) -> Unsure | None:
    """`89041764995 89041112234 test`: a second number with no comma before it — a recipient or the text's?"""
    if items[-1].msisdn is None or not NUMBER_WORD.match(tokens[pos].word):
        return None
    found = _number_at(tokens, pos)
    if found is None:
        return None
    item, end = found
    phrase = item.phrase.rstrip(TRAILING)
    return Unsure(phrase, "number", msisdn=item.msisdn, rest=_rest(args, tokens, end), comma=tokens[end - 1].comma)


def first_unknown(args: str, book: Book) -> Unsure:
    """The start of `args` names nobody: the phrase taken for a name (the closest run of words, else the first
    word) and the names close to it (did you mean)."""
    tokens = _tokens(args)
    if not tokens:
        return Unsure("", "name")
    found = _unsure_after_comma(args, tokens, 0, book)
    if found is not None and found.kind == "name" and found.choices:
        return found
    return Unsure(tokens[0].word.rstrip(TRAILING), "name", rest=_rest(args, tokens, 1), comma=tokens[0].comma)


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
