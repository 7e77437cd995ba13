"""Typed errors of the smska gateway layer (see docs/ARCHITECTURE.md, "Gateway layer").

Three families, so that callers can decide what to tell an operator without looking at strings:

* :class:`GatewayRejected` — the gateway answered with a well-formed error reply ``<code>|<text>``.
  Each documented code has its own subclass; any other code is :class:`UndocumentedGatewayError`.
  The request was processed and refused: nothing was sent, nothing is retried.
* :class:`GatewayUnavailable` — no usable answer (transport failure, 5xx, an HTML page, an empty or
  unreadable body). ``.reason`` is a short machine word (see :data:`UNAVAILABLE_REASONS`).
  For ``balance``/``query`` the client has already retried within its time budget. For ``send`` this is
  only raised when the request certainly did not reach the gateway (the connection was never made).
* :class:`SendOutcomeUnknown` — a send that may or may not have gone out (timeout while waiting for the
  answer, connection dropped, 5xx, unreadable answer after the request was written). Never resend it
  automatically. Deliberately *not* a subclass of :class:`GatewayUnavailable`, so that a handler catching
  "gateway down, nothing happened" cannot swallow it by accident.

No exception here ever holds the gateway password: messages are built from the gateway's reply text (which
the client scrubs of the password before it gets here) and short reason words only.
"""

from __future__ import annotations

from typing import ClassVar, Final

#: Reasons carried by :class:`GatewayUnavailable` and :class:`SendOutcomeUnknown`.
#: ``timeout``: connect/read/write timeout or the time budget ran out; ``connect``: the connection could not
#: be made (refused, DNS, TLS handshake, proxy refused, pool exhausted); ``dropped``: the connection broke
#: before a complete answer; ``http_5xx``: a 5xx status; ``http_status``: any other non-200 status (3xx/4xx,
#: e.g. a wrong URL); ``html``: an HTML page instead of a reply; ``empty``: an empty body; ``garbage``: a
#: body that is not a reply of the documented shape.
UNAVAILABLE_REASONS: Final[frozenset[str]] = frozenset(
    {"timeout", "connect", "dropped", "http_5xx", "http_status", "html", "empty", "garbage"}
)


class GatewayError(Exception):
    """Base of every gateway error. ``code`` is the gateway's error code when it gave one."""

    code: int | None
    text: str

    def __init__(self, text: str = "", *, code: int | None = None) -> None:
        self.code = code
        self.text = text
        super().__init__(self._message())

    def _message(self) -> str:
        if self.code is not None:
            return f"{self.code}|{self.text}" if self.text else str(self.code)
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, text={self.text!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[GatewayError], state: dict[str, object]) -> GatewayError:
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    Exception.__init__(obj, obj._message())
    return obj


class GatewayRejected(GatewayError):
    """A well-formed error reply ``<code>|<text>``: the gateway processed the request and refused it."""

    documented_code: ClassVar[int | None] = None
    code: int

    def __init__(self, text: str = "", *, code: int | None = None) -> None:
        resolved = code if code is not None else self.documented_code
        if resolved is None:
            raise TypeError(f"{type(self).__name__} needs a code")
        super().__init__(text, code=resolved)


class AuthenticationFailed(GatewayRejected):
    """1: wrong login/password or a locked account."""

    documented_code = 1


class SendFailed(GatewayRejected):
    """3: "Sent Error" — the gateway failed to send."""

    documented_code = 3


class ArgumentValidationFailed(GatewayRejected):
    """4: a field is invalid or missing."""

    documented_code = 4


class InsufficientCredits(GatewayRejected):
    """5: the balance does not cover the message."""

    documented_code = 5


class InvalidMsisdn(GatewayRejected):
    """6: the recipient number is not valid or not reachable."""

    documented_code = 6


class InvalidSenderId(GatewayRejected):
    """7: the sender name is not allowed."""

    documented_code = 7


class UndocumentedGatewayError(GatewayRejected):
    """An error code the document does not list; ``code`` and ``text`` are the gateway's own."""


DOCUMENTED_ERRORS: Final[dict[int, type[GatewayRejected]]] = {
    cls.documented_code: cls
    for cls in (
        AuthenticationFailed,
        SendFailed,
        ArgumentValidationFailed,
        InsufficientCredits,
        InvalidMsisdn,
        InvalidSenderId,
    )
    if cls.documented_code is not None
}

#: The texts the document gives for each error code (the sandbox answers with exactly these).
DOCUMENTED_ERROR_TEXTS: Final[dict[int, str]] = {
    1: "Authentication failed. Your API Key, Password combination is not valid or your account has been locked.",
    3: "Sent Error",
    4: "Argument validation failed. One or more of your POSTVars is invalid or missing.",
    5: "Insufficient Credits. You do not have sufficient credits to send the message.",
    6: "Invalid MSISDN. The mobile number is not valid or can not be reached via the API",
    7: "Your SenderID is not valid.",
}


def rejected_for(code: int, text: str) -> GatewayRejected:
    """The exception for an error reply with this code (documented subclass or UndocumentedGatewayError)."""
    cls = DOCUMENTED_ERRORS.get(code, UndocumentedGatewayError)
    return cls(text, code=code)


class GatewayUnavailable(GatewayError):
    """No usable answer from the gateway; ``reason`` is one of :data:`UNAVAILABLE_REASONS`.

    ``detail`` is a short, password-free description for logs (exception type, status, a body excerpt).
    """

    reason: str
    detail: str

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"gateway unavailable: {reason}" + (f" ({detail})" if detail else ""))

    def _message(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, detail={self.detail!r})"


class SendOutcomeUnknown(GatewayError):
    """A send whose request may have reached the gateway but whose answer is missing or unreadable.

    The SMS may or may not have gone out: do not resend it automatically. ``reason`` is one of
    :data:`UNAVAILABLE_REASONS` (what went wrong after the request was written).
    """

    reason: str
    detail: str

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"send outcome unknown: {reason}" + (f" ({detail})" if detail else ""))

    def _message(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, detail={self.detail!r})"
