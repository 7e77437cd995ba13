"""Table tests of the reply parser: every documented reply and error, and malformed ones."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.gateway.errors import (
    DOCUMENTED_ERROR_TEXTS,
    ArgumentValidationFailed,
    AuthenticationFailed,
    GatewayError,
    GatewayRejected,
    GatewayUnavailable,
    InsufficientCredits,
    InvalidMsisdn,
    InvalidSenderId,
    SendFailed,
    UndocumentedGatewayError,
    rejected_for,
)
from bot.gateway.parser import SendResult, parse_balance, parse_query, parse_send
from bot.sms.status import DeliveryStatus, StatusKind

# --------------------------------------------------------------------------- success replies


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("0|Message sent|ah1acugxz98a27t9z|Balance status|7463", SendResult("ah1acugxz98a27t9z", Decimal(7463))),
        ("0|Message sent|ah1acugxz98a27t9z|Balance status|7463\r\n", SendResult("ah1acugxz98a27t9z", Decimal(7463))),
        ("  0 | Message sent | abc | Balance status | 12.50 \n", SendResult("abc", Decimal("12.50"))),
        ("\ufeff0|Message sent|abc|Balance status|12,5", SendResult("abc", Decimal("12.5"))),
        ("0|message SENT|ID-1.x|balance  status|-3", SendResult("ID-1.x", Decimal(-3))),
        ("0|Message sent|abc|Balance status|7463|extra|fields", SendResult("abc", Decimal(7463))),
        ("0|Message sent|abc|Balance status|7463|", SendResult("abc", Decimal(7463))),
        ("0\t|Message sent|abc|Balance status|1", SendResult("abc", Decimal(1))),
    ],
)
def test_parse_send_reads_liberally(body: str, expected: SendResult) -> None:
    assert parse_send(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (" 0|Balance status|7464", Decimal(7464)),  # the document's reply, leading space included
        ("0|Balance status|7464", Decimal(7464)),
        ("0|Balance status|7464.25\r\n", Decimal("7464.25")),
        ("0|Balance status|0", Decimal(0)),
        ("0|Balance status|-15.5", Decimal("-15.5")),
        ("0|Balance status|1,5", Decimal("1.5")),
        ("0|Balance status|7464|RUB", Decimal(7464)),
        ("\r\n 0 | Balance status | 7464 \r\n", Decimal(7464)),
    ],
)
def test_parse_balance_reads_liberally(body: str, expected: Decimal) -> None:
    value = parse_balance(body)
    assert value == expected
    assert isinstance(value, Decimal)


def test_balance_keeps_decimal_precision() -> None:
    assert str(parse_balance(" 0|Balance status|0.10")) == "0.10"


@pytest.mark.parametrize(
    ("body", "code", "name", "kind", "final"),
    [
        ("0|Status|3|ACCEPTD", 3, "ACCEPTD", StatusKind.ACCEPTED, False),
        ("0|Status|4|DELIVRD", 4, "DELIVRD", StatusKind.DELIVERED, True),
        ("0|Status|5|REJECTD", 5, "REJECTD", StatusKind.REJECTED, True),
        ("0|Status|6|REJECTD", 6, "REJECTD", StatusKind.REJECTED, True),
        ("0|Status|7|EXPIRED", 7, "EXPIRED", StatusKind.EXPIRED, True),
        ("0|Status|8|DELETED", 8, "DELETED", StatusKind.DELETED, True),
        ("0|Status|9|UNKNOWN", 9, "UNKNOWN", StatusKind.OTHER, False),
        ("0|Status|2|ENROUTE\r\n", 2, "ENROUTE", StatusKind.OTHER, False),
        (" 0 | status | 4 | DELIVRD | 2024-01-01 ", 4, "DELIVRD", StatusKind.DELIVERED, True),
        ("0|Status|4", 4, "DELIVRD", StatusKind.DELIVERED, True),  # a missing name of a documented code
        ("0|Status|9|", 9, "", StatusKind.OTHER, False),
    ],
)
def test_parse_query(body: str, code: int, name: str, kind: StatusKind, final: bool) -> None:
    status = parse_query(body)
    assert status == DeliveryStatus(code=code, name=name)
    assert status.kind is kind
    assert status.final is final


# --------------------------------------------------------------------------- error replies

DOCUMENTED = [
    (1, AuthenticationFailed),
    (3, SendFailed),
    (4, ArgumentValidationFailed),
    (5, InsufficientCredits),
    (6, InvalidMsisdn),
    (7, InvalidSenderId),
]


@pytest.mark.parametrize("parse", [parse_send, parse_balance, parse_query])
@pytest.mark.parametrize(("code", "cls"), DOCUMENTED)
def test_documented_errors_with_the_documents_texts(parse: object, code: int, cls: type[GatewayRejected]) -> None:
    text = DOCUMENTED_ERROR_TEXTS[code]
    with pytest.raises(cls) as info:
        parse(f"{code}|{text}\r\n")  # type: ignore[operator]
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.text == text
    assert isinstance(info.value, GatewayRejected)
    assert isinstance(info.value, GatewayError)
    assert not isinstance(info.value, GatewayUnavailable)


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [
        ("2|Something new", 2, "Something new"),
        ("42|Rate limit exceeded", 42, "Rate limit exceeded"),
        ("-1|Internal", -1, "Internal"),
        ("9|", 9, ""),
        (" 99 | a | b ", 99, "a|b"),
    ],
)
def test_undocumented_error_code(body: str, code: int, text: str) -> None:
    with pytest.raises(UndocumentedGatewayError) as info:
        parse_balance(body)
    assert info.value.code == code
    assert info.value.text == text


def test_error_text_with_a_pipe_is_kept_whole() -> None:
    with pytest.raises(SendFailed) as info:
        parse_send("3|Sent Error|operator said no")
    assert info.value.text == "Sent Error|operator said no"


def test_rejected_for_maps_codes() -> None:
    for code, cls in DOCUMENTED:
        assert type(rejected_for(code, "x")) is cls
    assert type(rejected_for(11, "x")) is UndocumentedGatewayError
    assert rejected_for(11, "x").code == 11
    assert str(rejected_for(5, "Insufficient Credits.")) == "5|Insufficient Credits."


# --------------------------------------------------------------------------- unusable replies

MALFORMED = [
    ("", "empty"),
    ("   \r\n\t ", "empty"),
    ("\ufeff", "empty"),
    ("<html><body><h1>502 Bad Gateway</h1></body></html>", "html"),
    ("<!DOCTYPE html>\n<html>...</html>", "html"),
    ("  <br />\n<b>Warning</b>: mysql_connect()", "html"),
    ("Error: <html>", "html"),
    ("OK", "garbage"),
    ("Service temporarily overloaded", "garbage"),
    ("0", "garbage"),  # no separator
    ("1", "garbage"),  # a bare number is not an error reply
    ("x|Message sent|abc|Balance status|1", "garbage"),
    ("0.0|Balance status|1", "garbage"),
    ("0|Balance status|7464\n0|Balance status|7464", "garbage"),  # two lines
    ("\x00\x01|\x02", "garbage"),
    ('{"status": 0}', "garbage"),
]


@pytest.mark.parametrize("parse", [parse_send, parse_balance, parse_query])
@pytest.mark.parametrize(("body", "reason"), MALFORMED)
def test_unusable_bodies_are_typed(parse: object, body: str, reason: str) -> None:
    with pytest.raises(GatewayUnavailable) as info:
        parse(body)  # type: ignore[operator]
    assert info.value.reason == reason
    assert info.value.code is None


@pytest.mark.parametrize(
    "body",
    [
        "0|Message sent||Balance status|7463",  # empty id
        "0|Message sent| |Balance status|7463",  # blank id
        "0|Message sent|ah1 acug|Balance status|7463",  # whitespace in the id
        "0|Message sent|ah1acugxz98a27t9z|Balance status|",  # no balance
        "0|Message sent|ah1acugxz98a27t9z|Balance status|NaN",
        "0|Message sent|ah1acugxz98a27t9z|Balance status|Infinity",
        "0|Message sent|ah1acugxz98a27t9z|Balance status|1e3",
        "0|Message sent|ah1acugxz98a27t9z|Balance status|1 000",
        "0|Message sent|ah1acugxz98a27t9z|Balance|7463",
        "0|Message sent|ah1acugxz98a27t9z",  # truncated
        "0|Message sent|",
        "0|Message sent",
        "0|Balance status|7464",  # the reply of another request
        "0|Status|4|DELIVRD",
        "0|Message queued|abc|Balance status|1",
        "0|Message sent|" + "a" * 129 + "|Balance status|1",  # not an id, a blob
    ],
)
def test_send_reply_must_be_complete(body: str) -> None:
    with pytest.raises(GatewayUnavailable) as info:
        parse_send(body)
    assert info.value.reason == "garbage"


@pytest.mark.parametrize(
    "body",
    [
        "0|Balance status|",
        "0|Balance status|abc",
        "0|Balance status|NaN",
        "0|Balance status|-inf",
        "0|Balance status|7,464.00",
        "0|Balance status",
        "0|Status|4|DELIVRD",  # would read as a balance of 4
        "0|Message sent|abc|Balance status|7463",
    ],
)
def test_balance_reply_must_be_a_balance(body: str) -> None:
    with pytest.raises(GatewayUnavailable) as info:
        parse_balance(body)
    assert info.value.reason == "garbage"


@pytest.mark.parametrize(
    "body",
    [
        "0|Status||DELIVRD",
        "0|Status|four|DELIVRD",
        "0|Status|4.0|DELIVRD",
        "0|Status",
        "0|Balance status|4",
        "0|Message sent|abc|Balance status|4",
    ],
)
def test_query_reply_must_be_a_status(body: str) -> None:
    with pytest.raises(GatewayUnavailable) as info:
        parse_query(body)
    assert info.value.reason == "garbage"


def test_unusable_detail_is_a_short_excerpt() -> None:
    with pytest.raises(GatewayUnavailable) as info:
        parse_balance("<html>" + "x" * 10_000 + "</html>")
    assert len(info.value.detail) < 120
    assert "\n" not in str(info.value)


def test_exception_reprs_and_strings() -> None:
    error = GatewayUnavailable("timeout", "ReadTimeout")
    assert error.reason == "timeout"
    assert error.code is None
    assert "timeout" in str(error)
    assert repr(error) == "GatewayUnavailable(reason='timeout', detail='ReadTimeout')"
    rejected = InvalidSenderId("Your SenderID is not valid.")
    assert rejected.code == 7
    assert str(rejected) == "7|Your SenderID is not valid."
    with pytest.raises(TypeError):
        UndocumentedGatewayError("no code")
