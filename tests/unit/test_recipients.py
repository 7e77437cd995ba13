"""Where the number ends and the text begins in `/send <number> <text>`: pure, no aiogram, milliseconds."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.sms.phone import PhoneProblem
from bot.sms.recipients import lone_digit, split_number


@pytest.mark.parametrize(
    ("args", "msisdn", "text"),
    [
        ("+7 904 176-49-95 Server down", "79041764995", "Server down"),
        ("8 (904) 176 49 95 db1 is down", "79041764995", "db1 is down"),
        ("9041764995 hi", "79041764995", "hi"),
        ("79041764995", "79041764995", ""),
        ("  79041764995   two  spaces kept  ", "79041764995", "two  spaces kept"),
        ("+7 904 176 49 95\nline two", "79041764995", "line two"),
        ("79041764995 8 800 100-60-03 call us", "79041764995", "8 800 100-60-03 call us"),  # shortest run wins
    ],
)
def test_a_number_and_the_text(args: str, msisdn: str, text: str) -> None:
    assert split_number(args) == (msisdn, text, None)


@pytest.mark.parametrize(
    ("args", "problem", "text"),
    [
        ("hello there", PhoneProblem.NOT_A_NUMBER, "hello there"),
        ("+7 904 176 hello", PhoneProblem.TOO_SHORT, "hello"),
        ("12345, short", PhoneProblem.TOO_SHORT, "short"),
        ("8 495 123-45-67 landline", PhoneProblem.NOT_MOBILE, "landline"),
        ("+1 202 555 0100 hi", PhoneProblem.NOT_RUSSIAN, "hi"),
        ("00 7 904 176 49 95 hi", PhoneProblem.INTERNATIONAL_PREFIX, "hi"),
    ],
)
def test_no_number_keeps_the_text_after_it_and_says_why(args: str, problem: PhoneProblem, text: str) -> None:
    split = split_number(args)
    assert split.msisdn is None
    assert split.text == text
    assert split.problem is problem


@pytest.mark.parametrize(
    "args",
    ["8 (904) 176-49-95, тест", "8 (904) 176-49-95 , тест", "+79041764995: тест"],
)
def test_punctuation_after_the_number_separates_it(args: str) -> None:
    assert split_number(args) == ("79041764995", "тест", None)


def test_parsing_does_not_need_aiogram() -> None:
    code = "import sys, bot.sms.recipients; sys.exit('aiogram' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_lone_digit_that_could_start_the_text() -> None:
    found = lone_digit("8 904 176 49 9 5 серверов упало")
    assert found == ("5", "79041764995", "серверов упало", "5 серверов упало", "8 904 176 49 9")


@pytest.mark.parametrize(
    "args",
    [
        "8 904 176 49 95 серверов упало",  # the number is whole without help
        "8 904 176 49 9 5",  # no text follows: nothing to take from
        "8 904 176 49 9 55 серверов",  # not a lone digit
        "+7 904 176-49-95 5 серверов упало",  # the 5 is the text's, and stays there
        "hello 5 there",
    ],
)
def test_no_lone_digit(args: str) -> None:
    assert lone_digit(args) is None
