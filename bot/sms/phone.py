"""Recipient numbers: accept what a person types, keep ``79XXXXXXXXX``, show ``+7 904 176-49-95``.

What counts as a Russian mobile: phonenumbers (region "RU") says the number is valid, belongs to RU and is of
type MOBILE. In practice that is ``+7 9XX XXX-XX-XX`` minus a few unallocated ``+7 930 0…`` blocks; the
sandbox-style test numbers ``79000000000``–``79000000999`` are all valid RU mobiles.

Accepted shapes (digits may be separated by spaces of any kind, ``-``, ``.``, ``(``, ``)``, Unicode dashes, and
the invisible direction marks phones put around numbers copied from contacts):

* ``+7`` followed by 10 digits;
* ``8`` or ``7`` followed by 10 digits (domestic ``8 (904)…``, a Telegram contact's ``79041764995``);
* 10 digits (the number without any prefix; ``79…``/``89…`` of 10 digits is a 7/8 number missing a digit).

Anything else raises :class:`PhoneError` whose ``reason`` says precisely why, so the handler can explain it.
The raw input never goes into an exception message: it is personal data and may end up in a log.
"""

from __future__ import annotations

import enum
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

NBSP = "\u00a0"  # no-break space
NBH = "\u2011"  # no-break hyphen
_DASHES = frozenset("-‐‑‒–—―−")
_SEPARATORS = frozenset(".()") | _DASHES


class PhoneProblem(enum.StrEnum):
    EMPTY = "empty"
    NOT_A_NUMBER = "not_a_number"  # letters or other symbols, or no digits at all
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    INTERNATIONAL_PREFIX = "international_prefix"  # 810… / 00…: write +<country> instead
    NOT_RUSSIAN = "not_russian"  # another country, including Kazakhstan's +7 6xx/7xx
    NOT_MOBILE = "not_mobile"  # a valid Russian landline, toll-free, …
    INVALID = "invalid"  # right length and prefix, but not an allocated number


class PhoneError(ValueError):
    def __init__(self, reason: PhoneProblem) -> None:
        super().__init__(f"not a Russian mobile number: {reason.value}")
        self.reason = reason


def normalize_phone(raw: str) -> str:
    """Return the number as ``79XXXXXXXXX`` or raise :class:`PhoneError`."""
    plus, digits = _clean(raw)
    if plus:
        return _check_e164(digits)
    if digits.startswith(("00", "810")):
        raise PhoneError(PhoneProblem.INTERNATIONAL_PREFIX)
    if len(digits) == 10:
        if digits.startswith(("79", "89")):  # no national number starts so: a 7/8 mobile missing a digit
            raise PhoneError(PhoneProblem.TOO_SHORT)
        return _check_e164("7" + digits)
    if len(digits) == 11 and digits[0] in "78":
        return _check_e164("7" + digits[1:])
    if len(digits) < 10:
        raise PhoneError(PhoneProblem.TOO_SHORT)
    # 11+ digits that are no Russian shape: most likely a foreign number without its plus (Telegram contacts).
    if digits[0] not in "78" and _is_foreign(digits, valid_only=True):
        raise PhoneError(PhoneProblem.NOT_RUSSIAN)
    raise PhoneError(PhoneProblem.TOO_LONG if len(digits) > 11 else PhoneProblem.INVALID)


def format_phone(msisdn: str) -> str:
    """``79041764995`` -> ``+7 904 176-49-95`` with no-break spaces and hyphens (U+00A0, U+2011), so that a
    number never breaks across lines on a narrow screen; anything not of that shape is returned unchanged.
    The parser reads the result back (both characters are separators to it)."""
    if len(msisdn) != 11 or not msisdn.isascii() or not msisdn.isdigit() or msisdn[0] != "7":
        return msisdn
    n = msisdn
    return f"+7{NBSP}{n[1:4]}{NBSP}{n[4:7]}{NBH}{n[7:9]}{NBH}{n[9:11]}"


def _clean(raw: str) -> tuple[bool, str]:
    """Split input into (had a leading plus, ASCII digits); refuse anything that is not a phone number."""
    if not raw.strip():
        raise PhoneError(PhoneProblem.EMPTY)
    plus = False
    digits: list[str] = []
    for ch in raw:
        if ch.isdecimal():  # also Arabic-Indic, full-width… digits: phone keyboards produce them
            digits.append(str(unicodedata.decimal(ch)))
        elif ch in "+＋" and not plus and not digits:
            plus = True
        elif not (ch.isspace() or ch in _SEPARATORS or unicodedata.category(ch) == "Cf"):
            raise PhoneError(PhoneProblem.NOT_A_NUMBER)
    if not digits:
        raise PhoneError(PhoneProblem.NOT_A_NUMBER)
    return plus, "".join(digits)


def _check_e164(digits: str) -> str:
    """``digits`` are country code + national number, without the plus."""
    if not digits.startswith("7"):
        # with an explicit plus any real country code is enough: the fix is another number, not a typo
        raise PhoneError(PhoneProblem.NOT_RUSSIAN if _is_foreign(digits) else PhoneProblem.INVALID)
    national = digits[1:]
    if len(national) < 10:
        raise PhoneError(PhoneProblem.TOO_SHORT)
    if len(national) > 10:
        raise PhoneError(PhoneProblem.TOO_LONG)
    if national[0] in "67":  # ITU gave zone 7's 6xx and 7xx ranges to Kazakhstan
        raise PhoneError(PhoneProblem.NOT_RUSSIAN)
    number = phonenumbers.parse("+" + digits)
    if not phonenumbers.is_valid_number_for_region(number, "RU"):
        raise PhoneError(PhoneProblem.INVALID)
    if phonenumbers.number_type(number) != PhoneNumberType.MOBILE:
        raise PhoneError(PhoneProblem.NOT_MOBILE)
    return digits


def _is_foreign(digits: str, *, valid_only: bool = False) -> bool:
    """True when ``+digits`` starts with another country's code (and, if ``valid_only``, is a valid number)."""
    try:
        number = phonenumbers.parse("+" + digits)
    except NumberParseException:  # unknown country code, or nothing after it
        return False
    if number.country_code == 7:
        return False
    return bool(not valid_only or phonenumbers.is_valid_number(number))
