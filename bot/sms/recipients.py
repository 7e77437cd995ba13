"""What a person typed after /send: where the number ends and the text begins. Pure: no aiogram, no I/O."""

from __future__ import annotations

import re
from typing import NamedTuple

from bot.sms.phone import PhoneError, PhoneProblem, normalize_phone

NUMBER_WORD = re.compile(r"^[+\d()\-.]+$")
MAX_NUMBER_WORDS = 6  # '+7 (904) 176 49 95' is six words; no valid number needs more


class NumberSplit(NamedTuple):
    msisdn: str | None  # 79XXXXXXXXX, or None when no leading words form a valid number
    text: str  # what follows the number; all of the input when there is no number
    problem: PhoneProblem | None  # why the leading words are not a number (None when one was found)


def split_number(args: str) -> NumberSplit:
    """'+7 904 176-49-95 Server down' -> ('79041764995', 'Server down', None).

    People put spaces inside numbers, so the shortest run of leading words that reads as a valid number wins.
    When none does, the problem reported is that of all the leading words that look like parts of a number.
    """
    words = args.split()
    for k in range(1, min(len(words), MAX_NUMBER_WORDS) + 1):
        try:
            msisdn = normalize_phone(" ".join(words[:k]))
        except PhoneError:
            continue
        rest = args.strip()
        for word in words[:k]:
            rest = rest[rest.index(word) + len(word) :]
        return NumberSplit(msisdn, rest.strip(), None)
    numeric = 0
    while numeric < len(words) and NUMBER_WORD.match(words[numeric]):
        numeric += 1
    try:
        normalize_phone(" ".join(words[: max(numeric, 1)]))
    except PhoneError as exc:
        return NumberSplit(None, args, exc.reason)
    return NumberSplit(None, args, PhoneProblem.INVALID)  # pragma: no cover - a valid number was found above
