"""What a person typed after /send: where the number ends and the text begins. Pure: no aiogram, no I/O."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from bot.sms.phone import PhoneError, PhoneProblem, normalize_phone

NUMBER_WORD = re.compile(r"^[+\d()\-.\u2010-\u2015\u2212]+[,;:]?$")
MAX_NUMBER_WORDS = 6  # '+7 (904) 176 49 95' is six words; no valid number needs more
TRAILING = ",;:"  # '/send 8 (904) 176-49-95, test': punctuation after the number is not part of either


class Recipient(NamedTuple):
    """Whom one SMS goes to: the number, the contact's name when it was picked by name (else None), and how it
    was chosen when that was not by its own name or number (`via`): "group:<name>" (a group's member), "duty"
    (whoever is on duty), "duty-group:<name>" (a member of the group on duty). Every way of choosing recipients
    ends in a list of these; `via` lets the preview, summary, notices and feed say "👥 Night (7)", "duty"."""

    msisdn: str  # 79XXXXXXXXX
    name: str | None = None
    via: str | None = None

    def to_data(self) -> list[str | None]:
        return [self.msisdn, self.name, self.via]

    @classmethod
    def from_data(cls, raw: Any) -> Recipient:
        """What `to_data` wrote (or an older `[msisdn, name]`); ValueError/TypeError when it is neither."""
        if not isinstance(raw, list | tuple) or len(raw) not in (2, 3):
            raise ValueError("not a recipient")
        via = raw[2] if len(raw) == 3 else None
        return cls(str(raw[0]), None if raw[1] is None else str(raw[1]), None if via is None else str(via))


class NumberSplit(NamedTuple):
    msisdn: str | None  # 79XXXXXXXXX, or None when no leading words form a valid number
    text: str  # what follows the number (or the words that look like one, when they are not a valid number)
    problem: PhoneProblem | None  # why the leading words are not a number (None when one was found)


def split_number(args: str) -> NumberSplit:
    """'+7 904 176-49-95 Server down' -> ('79041764995', 'Server down', None).

    People put spaces inside numbers, so the shortest run of leading words that reads as a valid number wins; a
    comma, semicolon or colon right after the number separates it from the text. When no run does, the problem
    reported is that of all the leading words that look like parts of a number, and the text is what follows
    them — kept, so that only the number has to be given again.
    """
    words = args.split()
    for k in range(1, min(len(words), MAX_NUMBER_WORDS) + 1):
        last = words[k - 1].rstrip(TRAILING)
        if not last:
            continue
        try:
            msisdn = normalize_phone(" ".join([*words[: k - 1], last]))
        except PhoneError:
            continue
        return NumberSplit(msisdn, _after(args, words, k), None)
    numeric = 0
    while numeric < len(words) and NUMBER_WORD.match(words[numeric]):
        numeric += 1
    text = _after(args, words, numeric) if numeric else args.strip()
    try:
        normalize_phone(" ".join(w.rstrip(TRAILING) for w in words[: max(numeric, 1)]))
    except PhoneError as exc:
        return NumberSplit(None, text, exc.reason)
    return NumberSplit(None, text, PhoneProblem.INVALID)  # pragma: no cover - a valid number was found above


def _after(args: str, words: list[str], k: int) -> str:
    """What follows the first `k` words of `args`, as typed (inner spacing and line breaks kept)."""
    rest = args.strip()
    for word in words[:k]:
        rest = rest[rest.index(word) + len(word) :]
    return rest.strip().lstrip(TRAILING).strip()


class LoneDigit(NamedTuple):
    """`8 904 176 49 9 5 серверов упало`: the number is whole only with a lone digit that may start the text."""

    digit: str  # '5'
    msisdn: str  # the number with it: 79041764995
    text: str  # the text without it: 'серверов упало'
    text_with: str  # the text with it, as typed: '5 серверов упало'
    typed: str  # the number as typed without it: '8 904 176 49 9'


def lone_digit(args: str) -> LoneDigit | None:
    """The split `split_number` makes, when its number ends in a word of one digit that the words before it
    needed (they are one digit short) and text follows: that digit may as well be the start of the text."""
    split = split_number(args)
    words = args.split()
    if split.msisdn is None or not split.text:
        return None
    k = next(k for k in range(1, len(words) + 1) if _after(args, words, k) == split.text)
    digit = words[k - 1].rstrip(TRAILING)
    if k < 2 or len(digit) != 1 or not digit.isdigit():
        return None
    typed = " ".join(words[: k - 1])
    try:
        normalize_phone(typed)
    except PhoneError as exc:
        if exc.reason is not PhoneProblem.TOO_SHORT:
            return None
        return LoneDigit(digit, split.msisdn, split.text, _after(args, words, k - 1), typed)
    return None  # pragma: no cover - the shortest run that is a number would have ended before the digit


PHONE_LIKE_DIGITS = 7  # number-like words with this many digits look like a phone number, not like text


def phone_like_start(text: str) -> str | None:
    """The number-like words a text starts with when they look like a phone number (`8 800 100-60-03 call us`):
    a preview says they go out as text (issue 23.1). None otherwise."""
    words = text.split()
    run: list[str] = []
    for word in words[:MAX_NUMBER_WORDS]:
        if not NUMBER_WORD.match(word):
            break
        run.append(word)
        if word[-1] in TRAILING:
            break
    if sum(ch.isdigit() for w in run for ch in w) < PHONE_LIKE_DIGITS:
        return None
    return " ".join(run).rstrip(TRAILING)
