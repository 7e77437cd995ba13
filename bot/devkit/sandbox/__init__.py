"""An in-process emulator of the smska HTTP gateway (aiohttp), for tests, the playground and
``python -m bot sandbox``.

It speaks the protocol of shared/smska-api.md exactly: the same fields, the same reply lines (including the
leading space of the balance reply `` 0|Balance status|7464``), the documented error texts. It answers
``POST`` form bodies *and* ``GET`` query strings (the document's examples are GET URLs) on
``/api/httppost.php`` and ``/api/httppostapi2.php``; like a default PHP script it labels its replies
``text/html; charset=UTF-8`` (a client must not judge a reply by its content type). Its access log is off:
a GET request line carries the password.

Usage::

    gw = SandboxGateway(api_key="test", api_password="test", balance=Decimal("1000"))
    url = await gw.start(host="127.0.0.1", port=0)     # http://127.0.0.1:<port>/api/httppost.php
    ...
    await gw.stop()

Behaviour
    * Wrong or missing ``APIKey``/``APIPassword`` → ``1`` (checked first, for every action).
    * ``Action`` absent or empty → send; ``balance``; ``query``; anything else → ``4``.
    * Send: no ``Message``, no ``SenderID``, or an ``MSISDN`` that is not 11 digits starting with 7 → ``4``.
      A sender not in ``senders`` → ``7``; when ``senders`` is None any sender of 1–11 characters from
      latin letters, digits, space and ``.-_`` (not only spaces) is accepted — the usual alphanumeric
      originator rule. Then the magic numbers below, then ``5`` when the balance does not cover
      ``price_per_part × parts`` (parts by GSM-7 160/153, UCS-2 70/67, from ``bot.sms.parts``).
      An accepted send lowers the balance and gets a fresh 17-character lowercase alphanumeric id.
    * Query: ``BatchId`` missing or unknown → ``4``. (The real gateway's reply to an unknown id is not
      documented; ``4`` is this emulator's choice.) The status is ``3|ACCEPTD`` and becomes ``4|DELIVRD``
      ``delivery_delay`` seconds after the send, measured on ``clock`` (inject a fast clock to compress
      time). ``force_status()`` pins a status by hand. The document's example id ``ah1acugxz98a27t9z`` is
      known as ``4|DELIVRD``, so the document's example query URL answers its example reply.

Magic recipient numbers (valid Russian mobiles, so they pass the bot's own number check)
    ============  ===================================================================
    79000000003   send answers ``3|Sent Error``
    79000000005   send answers ``5|Insufficient Credits...`` (whatever the balance)
    79000000006   send answers ``6|Invalid MSISDN...``
    79000000031   accepted, stays ``3|ACCEPTD`` forever
    79000000051   accepted, ``3|ACCEPTD`` then ``5|REJECTD`` after ``delivery_delay``
    79000000061   accepted, ``3|ACCEPTD`` then ``6|REJECTD`` after ``delivery_delay``
    79000000071   accepted, ``3|ACCEPTD`` then ``7|EXPIRED`` after ``delivery_delay``
    79000000081   accepted, ``3|ACCEPTD`` then ``8|DELETED`` after ``delivery_delay``
    79000000091   accepted, undocumented ``9|UNKNOWN`` then ``4|DELIVRD`` after ``delivery_delay``
    79000000099   accepted (then ``4|DELIVRD``), but the connection drops before the answer: unknown outcome
    ============  ===================================================================

    Any other valid number: ``3|ACCEPTD`` then ``4|DELIVRD`` after ``delivery_delay``. The table is also
    :data:`MAGIC_NUMBERS`.

Fault injection (tests)
    ``gw.inject(Fault.X, action=None, times=1, delay=..., code=..., body=...)`` makes the next ``times``
    matching requests (``action`` "send"/"balance"/"query", None for any; ``times=None`` until
    ``clear_faults()``) misbehave:

    ============== ==============================================================================
    HTTP_500       ``500`` with an HTML error page (or ``body``); the request is not processed
    HTML           ``200`` with an HTML page (or ``body``); not processed
    EMPTY          ``200`` with an empty body; not processed
    GARBAGE        ``200`` with a body that is not a reply (``body`` to choose it); not processed
    HANG           never answers (until ``stop()``, which it does not hold up); not processed
    DROP           closes the connection without a reply, before processing
    DROP_AFTER_SEND processes the request (a send counts and is charged), then closes the connection
    SLOW           processes the request, answers after ``delay`` seconds
    ERROR          answers ``<code>|<documented text>`` (``body`` to choose the text); not processed
    ============== ==============================================================================

Records
    ``gw.requests``: every request received, as :class:`ReceivedRequest` (the password field removed);
    ``gw.sent``: every accepted send, as :class:`SentMessage`; ``await gw.wait_requests(n, timeout=5)``
    waits for the n-th request without sleeping.
"""

from .model import DOCUMENT_EXAMPLE_ID, MAGIC_NUMBERS, Fault, MagicNumber, ReceivedRequest, SentMessage
from .serve import credentials_from_env, serve_forever
from .server import SandboxGateway

__all__ = [
    "DOCUMENT_EXAMPLE_ID",
    "MAGIC_NUMBERS",
    "Fault",
    "MagicNumber",
    "ReceivedRequest",
    "SandboxGateway",
    "SentMessage",
    "credentials_from_env",
    "serve_forever",
]
