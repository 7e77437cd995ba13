"""How a typed phrase names recipients (bot.sms.names): pure, no aiogram, milliseconds."""

from __future__ import annotations

import pytest

from bot.sms.names import (
    Book,
    Entry,
    NameProblem,
    name_key,
    name_problem,
    read_one,
    read_recipients,
    split_contact_args,
)
from bot.sms.phone import PhoneProblem

BOOK = Book(
    [
        Entry("contact", 1, "Иван"),
        Entry("contact", 2, "Ivan Petrov"),
        Entry("contact", 3, "Ivan Sidorov"),
        Entry("group", 4, "Ops"),
        Entry("contact", 5, "Olga"),
        Entry("contact", 6, "Семён"),
    ]
)


def names(args: str) -> tuple[list[str], str]:
    reading = read_recipients(args, BOOK)
    return [
        item.msisdn or ("duty" if item.duty else "/".join(e.name for e in item.entries)) for item in reading.items
    ], (reading.text)


@pytest.mark.parametrize(
    ("args", "recipients", "text"),
    [
        ("иван Сервер упал", ["Иван"], "Сервер упал"),  # any case, Cyrillic too
        ("ИВАН Сервер упал", ["Иван"], "Сервер упал"),
        ("семен привет", ["Семён"], "привет"),  # ё and е are the same letter here
        ("Ivan Petrov db1 is down", ["Ivan Petrov"], "db1 is down"),  # a name of several words
        ("Olga Hello, check the logs", ["Olga"], "Hello, check the logs"),  # the comma is the text's
        ("Olga, Ops, +7 904 176-49-95 db1 down", ["Olga", "Ops", "79041764995"], "db1 down"),
        ("Olga,Ivan P test", ["Olga", "Ivan Petrov"], "test"),  # a unique prefix, no space after the comma
        ("Olga , Ops text", ["Olga", "Ops"], "text"),
        ("Olga, hello there", ["Olga"], "hello there"),  # what follows the comma names nobody: it is text
        ("Iv hi", ["Ivan Petrov/Ivan Sidorov"], "hi"),  # several start so: a choice
        ("duty Server down", ["duty"], "Server down"),
        ("Дежурный Сервер упал", ["duty"], "Сервер упал"),
        ("79041764995, Olga text", ["79041764995", "Olga"], "text"),
        ("Olga", ["Olga"], ""),
    ],
)
def test_recipients_and_the_text(args: str, recipients: list[str], text: str) -> None:
    assert names(args) == (recipients, text)


def test_an_exact_name_wins_over_a_longer_prefix() -> None:
    book = Book([Entry("contact", 1, "Ivan"), Entry("contact", 2, "Ivan Hellman")])
    reading = read_recipients("Ivan He is late", book)
    assert [e.name for e in reading.items[0].entries] == ["Ivan"] and reading.text == "He is late"


def test_nothing_named_keeps_everything_and_a_bad_number_says_why() -> None:
    assert read_recipients("Nobody here", BOOK) == ([], "Nobody here", None, False, None)
    assert read_recipients("8 904 12 text", BOOK).problem is PhoneProblem.TOO_SHORT
    assert read_recipients("I am late", BOOK).items == []  # one letter is no prefix


def test_one_whole_recipient() -> None:
    assert read_one("ivan p", BOOK) is not None and read_one("ivan p", BOOK).entries[0].name == "Ivan Petrov"  # type: ignore[union-attr]
    assert read_one("Olga text", BOOK) is None
    assert read_one("+7\u00a0904\u00a0176\u201149\u201195", BOOK).msisdn == "79041764995"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "name", "msisdn", "problem"),
    [
        ("Ivan Petrov +7 904 176-49-95", "Ivan Petrov", "79041764995", None),
        ("Иван 8 (904) 176 49 95", "Иван", "79041764995", None),
        ("Room 5 89041764995", "Room 5", "79041764995", None),
        ("Ivan", "Ivan", None, None),  # a name alone: show it
        ("Room 5", "Room 5", None, None),
        ("Ivan 8 904 12", "Ivan", None, PhoneProblem.TOO_SHORT),  # a typo in the number is not a name
        ("+7 904 176-49-95", "", "79041764995", None),
    ],
)
def test_contact_arguments(args: str, name: str, msisdn: str | None, problem: PhoneProblem | None) -> None:
    assert split_contact_args(args) == (name, msisdn, problem)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", NameProblem.EMPTY),
        ("x" * 65, NameProblem.TOO_LONG),
        ("x" * 64, None),
        ("8 904 176-49-95", NameProblem.NUMBER),
        ("12345", NameProblem.NUMBER),
        ("duty", NameProblem.RESERVED),
        ("Ivan, Olga", NameProblem.PUNCTUATION),
        ("Ops: night", NameProblem.PUNCTUATION),
        ("#db", NameProblem.PUNCTUATION),
        ("<b>Bold</b>", None),  # shown escaped, never parsed
        ("1C support", None),
    ],
)
def test_what_can_be_a_name(name: str, problem: NameProblem | None) -> None:
    assert name_problem(name) == problem


def test_names_compare_ignoring_case_in_every_script() -> None:
    assert name_key("ИВАН  Петров") == name_key("иван петров")
    assert name_key("Straße") == name_key("STRASSE")  # casefold, not lower
