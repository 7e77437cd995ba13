"""What the sandbox gateway knows and keeps: its faults, its magic recipient numbers and their status timelines,
and its records of requests and sends (see the package docstring)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

#: The message id of the document's examples; the sandbox knows it as delivered.
DOCUMENT_EXAMPLE_ID: Final = "ah1acugxz98a27t9z"


class Fault(enum.Enum):
    HTTP_500 = "http_500"
    HTML = "html"
    EMPTY = "empty"
    GARBAGE = "garbage"
    HANG = "hang"
    DROP = "drop"
    DROP_AFTER_SEND = "drop_after_send"
    SLOW = "slow"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class MagicNumber:
    """What the sandbox does with a recipient number.

    ``error``: the send is answered with this error code. Otherwise the send is accepted and ``statuses``
    is its timeline: ``(after, code, name)``, ``after`` in units of ``delivery_delay``. ``drop``: accepted, but
    the connection is closed before the answer (the sender cannot know the outcome).
    """

    msisdn: str
    description: str
    error: int | None = None
    statuses: tuple[tuple[float, int, str], ...] = ()
    drop: bool = False


def _final(msisdn: str, code: int, name: str, words: str) -> MagicNumber:
    return MagicNumber(
        msisdn,
        f"accepted, {code}|{name} ({words}) after the delivery delay",
        None,
        ((0, 3, "ACCEPTD"), (1, code, name)),
    )


MAGIC_NUMBERS: Final[dict[str, MagicNumber]] = {
    m.msisdn: m
    for m in (
        MagicNumber("79000000003", "send fails: error 3 (Sent Error)", error=3),
        MagicNumber("79000000005", "send fails: error 5 (Insufficient Credits)", error=5),
        MagicNumber("79000000006", "send fails: error 6 (Invalid MSISDN)", error=6),
        MagicNumber("79000000031", "accepted, stays 3|ACCEPTD forever", statuses=((0, 3, "ACCEPTD"),)),
        _final("79000000051", 5, "REJECTD", "rejected"),
        _final("79000000061", 6, "REJECTD", "rejected"),
        _final("79000000071", 7, "EXPIRED", "expired"),
        _final("79000000081", 8, "DELETED", "deleted"),
        MagicNumber(
            "79000000099",
            "accepted and delivered, but the answer to the send never comes (the outcome is unknown)",
            statuses=((0, 3, "ACCEPTD"), (1, 4, "DELIVRD")),
            drop=True,
        ),
        MagicNumber(
            "79000000091",
            "accepted, undocumented 9|UNKNOWN, then 4|DELIVRD after the delivery delay",
            statuses=((0, 9, "UNKNOWN"), (1, 4, "DELIVRD")),
        ),
    )
}

_DEFAULT_TIMELINE: Final = ((0.0, 3, "ACCEPTD"), (1.0, 4, "DELIVRD"))


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request as the sandbox saw it. ``fields`` never holds ``APIPassword``."""

    action: str  # "send", "balance", "query", or the raw unknown Action value
    fields: dict[str, str]
    at: float  # time.monotonic() when received
    method: str
    authenticated: bool
    fault: Fault | None = None
    content_type: str = ""  # of the request body ("" for a GET)
    query_keys: tuple[str, ...] = ()  # names of the fields that came in the URL's query string


@dataclass(frozen=True, slots=True)
class SentMessage:
    id: str
    msisdn: str
    text: str
    sender: str
    parts: int
    cost: Decimal
    at: float  # on the sandbox's clock


@dataclass(slots=True)
class _Injection:
    fault: Fault
    action: str | None
    remaining: int | None
    delay: float
    code: int
    body: str | None
