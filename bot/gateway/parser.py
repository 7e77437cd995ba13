"""Reply text of the smska gateway -> values or typed errors (see shared/smska-api.md).

Liberal in what it reads: a UTF-8 byte-order mark, surrounding whitespace (the document's balance reply
starts with a space), a trailing CR/LF, whitespace around fields, extra trailing fields, and the case of the
request-type words are all tolerated.

Strict in what it accepts:

* a success reply must start with ``0`` and carry the request-type word of *this* request (``Message sent``,
  ``Balance status``, ``Status``), so that an answer to a different request is never misread (a query reply
  ``0|Status|4|DELIVRD`` would otherwise read as a balance of 4);
* an error reply is ``<code>|<text>`` with an integer code other than 0 (a bare number without ``|`` is
  garbage, not an error: for a send, "rejected" would claim that nothing went out);
* amounts are finite decimals (``7463``, ``-12.5``, ``7463,50``) — never ``NaN``/``Infinity``/exponents;
* a message id is a non-empty opaque token without whitespace or ``|``;
* the body is a single line; anything else is ``garbage``, a page starting with ``<`` is ``html``, nothing at
  all is ``empty``.

Failures are :class:`~bot.gateway.errors.GatewayRejected` (the gateway said no) or
:class:`~bot.gateway.errors.GatewayUnavailable` (no usable reply). The parser never sees HTTP status codes;
the client classifies those before calling it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from bot.gateway.errors import GatewayUnavailable, rejected_for
from bot.sms.status import STATUS_NAMES, DeliveryStatus

_AMOUNT = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_CODE = re.compile(r"[-+]?\d{1,9}")
_MESSAGE_ID = re.compile(r"[^\s|]{1,128}")
_EXCERPT_LEN: Final = 80


@dataclass(frozen=True, slots=True)
class SendResult:
    """A send the gateway accepted: its opaque message id and the balance left."""

    message_id: str
    balance: Decimal


def excerpt(body: str) -> str:
    """A short, printable excerpt of a body for logs and error details (no control characters)."""
    flat = " ".join(body.split())
    return repr(flat[:_EXCERPT_LEN] + ("…" if len(flat) > _EXCERPT_LEN else ""))


def _fields(body: str) -> list[str]:
    """Split a reply into stripped fields, or raise GatewayUnavailable(empty/html/garbage)."""
    text = body.lstrip("\ufeff").strip()
    if not text:
        raise GatewayUnavailable("empty", "empty body")
    if text.startswith("<") or "<html" in text[:512].lower():
        raise GatewayUnavailable("html", excerpt(text))
    if "\n" in text or "\r" in text or "|" not in text or not text.replace("\t", " ").isprintable():
        raise GatewayUnavailable("garbage", excerpt(text))
    return [field.strip() for field in text.split("|")]


def _check_success(fields: list[str], type_word: str, min_fields: int, body: str) -> None:
    """Raise the error of an error reply, or garbage unless this is a `0|<type_word>|...` reply."""
    head = fields[0]
    if not _CODE.fullmatch(head):
        raise GatewayUnavailable("garbage", excerpt(body))
    code = int(head)
    if code != 0:
        raise rejected_for(code, "|".join(fields[1:]).strip())
    if len(fields) < min_fields or " ".join(fields[1].split()).casefold() != type_word.casefold():
        raise GatewayUnavailable("garbage", excerpt(body))


def _amount(raw: str, body: str) -> Decimal:
    if not _AMOUNT.fullmatch(raw):
        raise GatewayUnavailable("garbage", excerpt(body))
    return Decimal(raw.replace(",", "."))


def parse_send(body: str) -> SendResult:
    """``0|Message sent|<id>|Balance status|<balance>`` -> SendResult."""
    fields = _fields(body)
    _check_success(fields, "Message sent", 5, body)
    message_id = fields[2]
    if not _MESSAGE_ID.fullmatch(message_id):
        raise GatewayUnavailable("garbage", excerpt(body))
    if " ".join(fields[3].split()).casefold() != "balance status":
        raise GatewayUnavailable("garbage", excerpt(body))
    return SendResult(message_id=message_id, balance=_amount(fields[4], body))


def parse_balance(body: str) -> Decimal:
    """`` 0|Balance status|<balance>`` (leading space as in the document) -> Decimal."""
    fields = _fields(body)
    _check_success(fields, "Balance status", 3, body)
    return _amount(fields[2], body)


def parse_query(body: str) -> DeliveryStatus:
    """``0|Status|<code>|<name>`` -> DeliveryStatus.

    Any integer status code is accepted (an undocumented one is kept with its raw name, for the caller to
    keep polling and show). A missing name of a documented code is filled in from the document.
    """
    fields = _fields(body)
    _check_success(fields, "Status", 3, body)
    if not _CODE.fullmatch(fields[2]):
        raise GatewayUnavailable("garbage", excerpt(body))
    code = int(fields[2])
    name = fields[3] if len(fields) > 3 else ""
    if not name:
        name = STATUS_NAMES.get(code, "")
    return DeliveryStatus(code=code, name=name)
