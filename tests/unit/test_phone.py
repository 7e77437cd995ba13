import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sms.phone import PhoneError, PhoneProblem, format_phone, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "+7 904 176-49-95",
        "8 (904) 176 49 95",
        "9041764995",
        "79041764995",  # a Telegram contact without the plus
        "+79041764995",
        "  +7 (904) 176.49.95\n",
        "8\u00a0904\u00a0176\u00a049\u00a095",  # NBSP
        "\u202a+7 904 176-49-95\u202c",  # bidi marks a phone adds when copying a contact
        "+7 904 176–49–95",  # en dashes
        "+ 7 904 1764995",
        "８９０４１７６４９９５",  # full-width digits
    ],
)
def test_accepts_what_people_type(raw: str) -> None:
    assert normalize_phone(raw) == "79041764995"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", PhoneProblem.EMPTY),
        (" \t\u00a0", PhoneProblem.EMPTY),
        ("abc", PhoneProblem.NOT_A_NUMBER),
        ("+7 904 176 49 9x", PhoneProblem.NOT_A_NUMBER),
        ("7+9041764995", PhoneProblem.NOT_A_NUMBER),  # a plus in the middle
        ("++79041764995", PhoneProblem.NOT_A_NUMBER),
        ("--", PhoneProblem.NOT_A_NUMBER),
        ("+", PhoneProblem.NOT_A_NUMBER),
        ("904176499", PhoneProblem.TOO_SHORT),
        ("+7 904 176 49 9", PhoneProblem.TOO_SHORT),
        ("8 904 176 49 9", PhoneProblem.TOO_SHORT),  # 10 digits: an 8-number missing one
        ("7904176499", PhoneProblem.TOO_SHORT),
        ("+7 904 176 49 955", PhoneProblem.TOO_LONG),
        ("8 904 176 49 955", PhoneProblem.TOO_LONG),
        ("790417649955", PhoneProblem.TOO_LONG),
        ("810 380 50 123 45 67", PhoneProblem.INTERNATIONAL_PREFIX),
        ("00 380 50 123 45 67", PhoneProblem.INTERNATIONAL_PREFIX),
        ("8107 904 176 49 95", PhoneProblem.INTERNATIONAL_PREFIX),
        ("+380 50 123 45 67", PhoneProblem.NOT_RUSSIAN),
        ("380501234567", PhoneProblem.NOT_RUSSIAN),  # a Ukrainian Telegram contact
        ("+1 202 555 0123", PhoneProblem.NOT_RUSSIAN),
        ("+7 701 234 56 78", PhoneProblem.NOT_RUSSIAN),  # Kazakhstan
        ("8 701 234 56 78", PhoneProblem.NOT_RUSSIAN),
        ("77012345678", PhoneProblem.NOT_RUSSIAN),
        ("+7 600 123 45 67", PhoneProblem.NOT_RUSSIAN),
        ("8 495 123 45 67", PhoneProblem.NOT_MOBILE),  # Moscow landline
        ("+7 812 123 45 67", PhoneProblem.NOT_MOBILE),
        ("8 800 555 35 35", PhoneProblem.NOT_MOBILE),  # toll-free
        ("+7 930 000 00 00", PhoneProblem.INVALID),  # unallocated mobile block
        ("+7 123 456 78 90", PhoneProblem.INVALID),
        ("+8 904 176 49 95", PhoneProblem.INVALID),  # no country +8
        ("99041764995", PhoneProblem.INVALID),
    ],
)
def test_refuses_with_precise_reason(raw: str, reason: PhoneProblem) -> None:
    with pytest.raises(PhoneError) as info:
        normalize_phone(raw)
    assert info.value.reason is reason
    assert isinstance(info.value, ValueError)


def test_sandbox_test_numbers_are_mobiles() -> None:
    for n in range(79000000000, 79000001000):
        assert normalize_phone(f"+{n}") == str(n)


@pytest.mark.parametrize(
    ("msisdn", "shown"),
    [
        # no-break spaces and hyphens: a number never breaks across lines on a phone
        ("79041764995", "+7\u00a0904\u00a0176\u201149\u201195"),
        ("79000000001", "+7\u00a0900\u00a0000\u201100\u201101"),
        ("7904", "7904"),  # not our shape: shown unchanged rather than crash a history page
        ("89041764995", "89041764995"),
        ("", ""),
    ],
)
def test_format_phone(msisdn: str, shown: str) -> None:
    assert format_phone(msisdn) == shown


# Numbers in ranges phonenumbers (and the operators) call mobile; 930 is avoided for its holes.
nationals = st.builds(
    lambda code, rest: code + rest,
    st.sampled_from(["900", "904", "916", "926", "950", "958", "977", "999"]),
    st.text(alphabet="0123456789", min_size=7, max_size=7),
)
separators = st.text(alphabet=" \u00a0\t-.()–\u2011\u202a\u202c", max_size=3)
spaces = st.text(alphabet=" \t\n\u00a0", max_size=2)


@st.composite
def typed_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(how a person might type it, the expected 79XXXXXXXXX)."""
    national = draw(nationals)
    prefix = draw(st.sampled_from(["+7", "8", "7", ""]))
    tokens = ([prefix] if prefix else []) + list(national)
    body = "".join(token + draw(separators) for token in tokens[:-1]) + tokens[-1]
    return draw(spaces) + body + draw(spaces), "7" + national


@given(typed_numbers())
def test_any_formatting_of_a_valid_number_is_accepted(case: tuple[str, str]) -> None:
    raw, expected = case
    assert normalize_phone(raw) == expected


@given(typed_numbers())
def test_normalisation_is_idempotent_and_round_trips_display(case: tuple[str, str]) -> None:
    once = normalize_phone(case[0])
    assert normalize_phone(once) == once
    shown = format_phone(once)
    assert re.fullmatch(r"\+7\u00a09\d\d\u00a0\d{3}\u2011\d\d\u2011\d\d", shown)
    assert normalize_phone(shown) == once


@given(typed_numbers(), st.sampled_from("xXабв#*/,;"), st.data())
def test_a_foreign_symbol_anywhere_is_not_a_number(case: tuple[str, str], junk: str, data: st.DataObject) -> None:
    raw = case[0]
    at = data.draw(st.integers(0, len(raw)))
    with pytest.raises(PhoneError) as info:
        normalize_phone(raw[:at] + junk + raw[at:])
    assert info.value.reason is PhoneProblem.NOT_A_NUMBER


@given(st.one_of(st.text(max_size=30), st.text(alphabet="+0123456789 -()", max_size=20)))
def test_only_phone_errors_and_never_the_input_in_the_message(raw: str) -> None:
    try:
        result = normalize_phone(raw)
    except PhoneError as e:
        assert e.reason in PhoneProblem
        assert not any(ch.isdigit() for ch in str(e))  # no part of the number leaks into logs
        return
    assert re.fullmatch(r"79\d{9}", result)
