"""The real SmskaClient against the real sandbox over loopback: actions, error codes, faults, retry rules."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import pytest

from bot.devkit.sandbox import Fault, SandboxGateway
from bot.gateway.client import SmskaClient
from bot.gateway.errors import (
    ArgumentValidationFailed,
    AuthenticationFailed,
    GatewayRejected,
    GatewayUnavailable,
    InsufficientCredits,
    InvalidMsisdn,
    InvalidSenderId,
    SendFailed,
    SendOutcomeUnknown,
    UndocumentedGatewayError,
)
from bot.gateway.parser import SendResult
from bot.sms.status import DeliveryStatus
from tests.support.gateway_fixtures import (  # noqa: F401 — the *_fixture names register pytest fixtures
    API_KEY,
    PASSWORD,
    FakeClock,
    client_fixture,
    clock_fixture,
    free_port,
    http_fixture,
    make_client,
    sandbox_fixture,
)

NUMBER = "79041764995"


class Outcomes:
    """An observer that records every attempt."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, str]] = []

    def __call__(self, action: str, seconds: float, outcome: str) -> None:
        self.calls.append((action, seconds, outcome))

    @property
    def outcomes(self) -> list[str]:
        return [outcome for _, _, outcome in self.calls]


def sends(gw: SandboxGateway) -> int:
    return sum(1 for r in gw.requests if r.action == "send")


# --------------------------------------------------------------------------- the three actions


async def test_send_balance_query(client: SmskaClient, sandbox: SandboxGateway, clock: FakeClock) -> None:
    assert client.last_success_at is None
    before = time.monotonic()
    result = await client.send(NUMBER, "Проверка связи ✓", "Clinic")
    assert isinstance(result, SendResult)
    assert len(result.message_id) == 17 and result.message_id.isalnum() and result.message_id.islower()
    assert result.balance == Decimal("98.5")  # 100 - 1.5 × 1 part
    assert client.last_success_at is not None and client.last_success_at >= before

    [sent] = sandbox.sent
    assert (sent.id, sent.msisdn, sent.text, sent.sender, sent.parts) == (
        result.message_id,
        NUMBER,
        "Проверка связи ✓",
        "Clinic",
        1,
    )
    assert await client.balance() == Decimal("98.5")
    assert await client.query(result.message_id) == DeliveryStatus(3, "ACCEPTD")
    clock.advance(5.0)
    status = await client.query(result.message_id)
    assert status == DeliveryStatus(4, "DELIVRD") and status.final


async def test_requests_are_post_forms_without_secrets_in_the_url(client: SmskaClient, sandbox: SandboxGateway) -> None:
    result = await client.send(NUMBER, "a b&c=d+e%", "Clinic")
    await client.balance()
    await client.query(result.message_id)
    assert [r.action for r in sandbox.requests] == ["send", "balance", "query"]
    for received in sandbox.requests:
        assert received.method == "POST"
        assert received.content_type == "application/x-www-form-urlencoded"
        assert received.query_keys == ()
        assert received.authenticated  # the password, with & = + % and Cyrillic, arrived intact
        assert received.fields["APIKey"] == API_KEY
        assert "APIPassword" not in received.fields
    send_fields = sandbox.requests[0].fields
    assert send_fields == {"APIKey": API_KEY, "SenderID": "Clinic", "MSISDN": NUMBER, "Message": "a b&c=d+e%"}
    assert sandbox.requests[1].fields == {"APIKey": API_KEY, "Action": "balance"}
    assert sandbox.requests[2].fields == {"APIKey": API_KEY, "Action": "query", "BatchId": result.message_id}


async def test_long_message_is_charged_per_part(client: SmskaClient, sandbox: SandboxGateway) -> None:
    result = await client.send(NUMBER, "x" * 161, "Clinic")  # GSM-7: 2 parts
    assert result.balance == Decimal("97.0")
    result = await client.send(NUMBER, "щ" * 71, "Clinic")  # UCS-2: 2 parts
    assert result.balance == Decimal("94.0")
    assert [s.parts for s in sandbox.sent] == [2, 2]


# --------------------------------------------------------------------------- documented errors


@pytest.mark.parametrize(
    ("msisdn", "sender", "error"),
    [
        ("79000000003", "Clinic", SendFailed),
        ("79000000005", "Clinic", InsufficientCredits),
        ("79000000006", "Clinic", InvalidMsisdn),
        ("89041764995", "Clinic", ArgumentValidationFailed),
        ("7904176499", "Clinic", ArgumentValidationFailed),
        (NUMBER, "", ArgumentValidationFailed),
        (NUMBER, "Much Too Long Sender", InvalidSenderId),
        (NUMBER, "Клиника", InvalidSenderId),
    ],
)
async def test_send_errors_are_typed_and_not_retried(
    client: SmskaClient, sandbox: SandboxGateway, msisdn: str, sender: str, error: type[GatewayRejected]
) -> None:
    with pytest.raises(error) as info:
        await client.send(msisdn, "hello", sender)
    assert type(info.value) is error
    assert info.value.code == error.documented_code
    assert info.value.text  # the gateway's text
    assert sends(sandbox) == 1
    assert sandbox.sent == []
    assert sandbox.balance == Decimal(100)


async def test_empty_message_is_error_4(client: SmskaClient, sandbox: SandboxGateway) -> None:
    with pytest.raises(ArgumentValidationFailed):
        await client.send(NUMBER, "", "Clinic")


async def test_sender_not_in_the_list_is_error_7(http: httpx.AsyncClient) -> None:
    async with SandboxGateway(api_key=API_KEY, api_password=PASSWORD, senders=["Clinic"]) as gw:
        client = make_client(http, gw.url)
        await client.send(NUMBER, "hi", "Clinic")
        with pytest.raises(InvalidSenderId):
            await client.send(NUMBER, "hi", "Other")
        assert len(gw.sent) == 1


async def test_insufficient_balance_is_error_5(http: httpx.AsyncClient) -> None:
    async with SandboxGateway(api_key=API_KEY, api_password=PASSWORD, balance=Decimal("2.5")) as gw:
        client = make_client(http, gw.url)
        assert (await client.send(NUMBER, "one", "Clinic")).balance == Decimal("1.5")
        with pytest.raises(InsufficientCredits):
            await client.send(NUMBER, "x" * 200, "Clinic")  # 2 parts cost 2
        assert await client.balance() == Decimal("1.5")
        assert len(gw.sent) == 1


@pytest.mark.parametrize("call", ["send", "balance", "query"])
async def test_wrong_password_is_error_1_for_every_action(
    http: httpx.AsyncClient, sandbox: SandboxGateway, call: str
) -> None:
    client = make_client(http, sandbox.url, api_password=PASSWORD + "x")
    with pytest.raises(AuthenticationFailed) as info:
        if call == "send":
            await client.send(NUMBER, "hi", "Clinic")
        elif call == "balance":
            await client.balance()
        else:
            await client.query("ah1acugxz98a27t9z")
    assert info.value.code == 1
    assert len(sandbox.requests) == 1  # not retried
    assert client.last_success_at is None
    assert client.last_reply_at is not None  # the gateway did answer


async def test_wrong_login_is_error_1(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    with pytest.raises(AuthenticationFailed):
        await make_client(http, sandbox.url, api_key="someone").balance()


async def test_unknown_batch_id_is_error_4(client: SmskaClient, sandbox: SandboxGateway) -> None:
    with pytest.raises(ArgumentValidationFailed):
        await client.query("nosuchid")
    assert len(sandbox.requests) == 1


@pytest.mark.parametrize("call", ["send", "balance", "query"])
@pytest.mark.parametrize("code", [1, 3, 4, 5, 6, 7, 42])
async def test_injected_error_codes_are_never_retried(
    client: SmskaClient, sandbox: SandboxGateway, call: str, code: int
) -> None:
    sandbox.inject(Fault.ERROR, action=call, code=code)
    with pytest.raises(GatewayRejected) as info:
        if call == "send":
            await client.send(NUMBER, "hi", "Clinic")
        elif call == "balance":
            await client.balance()
        else:
            await client.query("ah1acugxz98a27t9z")
    assert info.value.code == code
    if code == 42:
        assert type(info.value) is UndocumentedGatewayError
        assert info.value.text == "Error"
    assert len(sandbox.requests) == 1
    assert sandbox.sent == []


# --------------------------------------------------------------------------- faults on idempotent actions

ALL_FAULTS = [
    Fault.HTTP_500,
    Fault.HTML,
    Fault.EMPTY,
    Fault.GARBAGE,
    Fault.HANG,
    Fault.DROP,
    Fault.DROP_AFTER_SEND,
    Fault.SLOW,
]


@pytest.mark.parametrize("fault", ALL_FAULTS)
async def test_balance_and_query_retry_through_one_fault(
    http: httpx.AsyncClient, sandbox: SandboxGateway, fault: Fault
) -> None:
    observed = Outcomes()
    client = make_client(http, sandbox.url, timeout=0.3, budget=3.0, observer=observed)
    sandbox.inject(fault, action="balance", delay=1.0)
    assert await client.balance() == Decimal(100)
    sandbox.inject(fault, action="query", delay=1.0)
    assert await client.query("ah1acugxz98a27t9z") == DeliveryStatus(4, "DELIVRD")
    assert [r.action for r in sandbox.requests] == ["balance", "balance", "query", "query"]
    assert [r.fault for r in sandbox.requests] == [fault, None, fault, None]
    assert observed.outcomes[1::2] == ["ok", "ok"]
    assert all(o.startswith("unavailable_") for o in observed.outcomes[0::2])


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault.HTTP_500, "http_5xx"),
        (Fault.HTML, "html"),
        (Fault.EMPTY, "empty"),
        (Fault.GARBAGE, "garbage"),
        (Fault.HANG, "timeout"),
        (Fault.SLOW, "timeout"),
        (Fault.DROP, "dropped"),
        (Fault.DROP_AFTER_SEND, "dropped"),
    ],
)
async def test_a_persistent_fault_becomes_gateway_unavailable_within_the_budget(
    http: httpx.AsyncClient, sandbox: SandboxGateway, fault: Fault, reason: str
) -> None:
    observed = Outcomes()
    # An attempt may take 0.4 s: a loopback answer under a loaded CI machine once took over 0.15 s (a garbage answer
    # was then counted as a timeout).
    client = make_client(http, sandbox.url, timeout=0.4, budget=1.2, observer=observed)
    sandbox.inject(fault, times=None, delay=5.0)
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable) as info:
        await client.balance()
    elapsed = time.monotonic() - started
    assert info.value.reason == reason
    assert elapsed < 1.2 + 0.5
    assert len(sandbox.requests) >= 2  # it was retried
    assert observed.outcomes == [f"unavailable_{reason}"] * len(observed.outcomes)
    assert len(observed.outcomes) == len(sandbox.requests)


async def test_budget_caps_the_attempt_timeout(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    client = make_client(http, sandbox.url, timeout=30.0, budget=0.5)
    sandbox.inject(Fault.HANG, times=None)
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable) as info:
        await client.query("ah1acugxz98a27t9z")
    assert info.value.reason == "timeout"
    assert time.monotonic() - started < 1.2


async def test_refused_connection_on_balance(http: httpx.AsyncClient) -> None:
    observed = Outcomes()
    client = make_client(http, f"http://127.0.0.1:{free_port()}/api/httppost.php", budget=0.6, observer=observed)
    started = time.monotonic()
    with pytest.raises(GatewayUnavailable) as info:
        await client.balance()
    assert info.value.reason == "connect"
    assert time.monotonic() - started < 1.2
    assert len(observed.outcomes) >= 2
    assert set(observed.outcomes) == {"unavailable_connect"}


async def test_wrong_path_is_http_status_and_not_retried(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    url = sandbox.url.replace("httppost.php", "nothing-here.php")
    for call in ("balance", "send"):
        client = make_client(http, url)
        with pytest.raises(GatewayUnavailable) as info:
            if call == "send":
                await client.send(NUMBER, "hi", "Clinic")  # a 404 was refused, not processed: not "unknown"
            else:
                await client.balance()
        assert info.value.reason == "http_status"
        assert "404" in info.value.detail


# --------------------------------------------------------------------------- send: never resent once it may have gone out


@pytest.mark.parametrize(
    ("fault", "reason", "went_out"),
    [
        (Fault.SLOW, "timeout", 1),  # processed, the answer came too late
        (Fault.HANG, "timeout", 0),
        (Fault.DROP, "dropped", 0),
        (Fault.DROP_AFTER_SEND, "dropped", 1),
        (Fault.HTTP_500, "http_5xx", 0),
        (Fault.HTML, "html", 0),
        (Fault.EMPTY, "empty", 0),
        (Fault.GARBAGE, "garbage", 0),
    ],
)
async def test_send_fault_after_the_request_left_is_unknown_and_reaches_the_gateway_once(
    http: httpx.AsyncClient, sandbox: SandboxGateway, fault: Fault, reason: str, went_out: int
) -> None:
    observed = Outcomes()
    client = make_client(http, sandbox.url, timeout=0.3, budget=5.0, observer=observed)
    sandbox.inject(fault, action="send", delay=2.0)
    with pytest.raises(SendOutcomeUnknown) as info:
        await client.send(NUMBER, "hello", "Clinic")
    assert info.value.reason == reason
    assert not isinstance(info.value, GatewayUnavailable)
    assert observed.outcomes == ["unknown"]
    await sandbox.wait_requests(1, timeout=1)
    assert sends(sandbox) == 1
    assert len(sandbox.sent) == went_out
    assert client.last_success_at is None


async def test_drop_after_send_charges_once(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    client = make_client(http, sandbox.url)
    sandbox.inject(Fault.DROP_AFTER_SEND, action="send")
    with pytest.raises(SendOutcomeUnknown):
        await client.send(NUMBER, "hello", "Clinic")
    assert len(sandbox.sent) == 1
    assert sandbox.balance == Decimal("98.5")
    # the id it got is queryable, and the next send is a new, separate one
    assert await client.query(sandbox.sent[0].id) == DeliveryStatus(3, "ACCEPTD")
    await client.send(NUMBER, "again, by hand", "Clinic")
    assert len(sandbox.sent) == 2


async def test_refused_send_is_retried_and_never_unknown(http: httpx.AsyncClient) -> None:
    observed = Outcomes()
    client = make_client(http, f"http://127.0.0.1:{free_port()}/api/httppost.php", budget=0.6, observer=observed)
    with pytest.raises(GatewayUnavailable) as info:
        await client.send(NUMBER, "hello", "Clinic")
    assert info.value.reason == "connect"
    assert len(observed.outcomes) >= 2
    assert set(observed.outcomes) == {"unavailable_connect"}


async def test_refused_send_succeeds_once_the_gateway_comes_up(http: httpx.AsyncClient) -> None:
    port = free_port()
    refused = asyncio.Event()
    observed = Outcomes()

    def observer(action: str, seconds: float, outcome: str) -> None:
        observed(action, seconds, outcome)
        if outcome == "unavailable_connect":
            refused.set()

    client = make_client(
        http, f"http://127.0.0.1:{port}/api/httppost.php", budget=5.0, backoff_base=0.2, observer=observer
    )
    gw = SandboxGateway(api_key=API_KEY, api_password=PASSWORD)
    sending = asyncio.create_task(client.send(NUMBER, "hello", "Clinic"))
    try:
        await asyncio.wait_for(refused.wait(), 2)
        await gw.start(port=port)
        result = await asyncio.wait_for(sending, 6)
    finally:
        sending.cancel()
        await gw.stop()
    assert [s.id for s in gw.sent] == [result.message_id]
    assert sends(gw) == 1
    assert observed.outcomes[-1] == "ok"
    assert "unknown" not in observed.outcomes


async def test_connect_timeout_is_retried_for_send(http: httpx.AsyncClient) -> None:
    # 192.0.2.1 (TEST-NET-1) is never routed: the connection is never made, so the send may be retried.
    observed = Outcomes()
    client = make_client(http, "http://192.0.2.1:9/api/httppost.php", timeout=0.15, budget=0.45, observer=observed)
    with pytest.raises(GatewayUnavailable) as info:
        await client.send(NUMBER, "hello", "Clinic")
    assert info.value.reason in {"timeout", "connect"}
    assert "unknown" not in observed.outcomes
    assert len(observed.outcomes) >= 2


async def test_send_budget_bounds_a_hanging_gateway(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    client = make_client(http, sandbox.url, timeout=10.0, budget=0.5)
    sandbox.inject(Fault.HANG, action="send")
    started = time.monotonic()
    with pytest.raises(SendOutcomeUnknown) as info:
        await client.send(NUMBER, "hello", "Clinic")
    assert info.value.reason == "timeout"
    assert time.monotonic() - started < 1.2
    assert sends(sandbox) == 1


# --------------------------------------------------------------------------- observer, readiness, repr


async def test_observer_sees_every_attempt(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    observed = Outcomes()
    client = make_client(http, sandbox.url, observer=observed)
    sandbox.inject(Fault.HTTP_500, action="balance")
    await client.balance()
    with pytest.raises(InvalidMsisdn):
        await client.send("79000000006", "hi", "Clinic")
    assert [(a, o) for a, _, o in observed.calls] == [
        ("balance", "unavailable_http_5xx"),
        ("balance", "ok"),
        ("send", "error_6"),
    ]
    assert all(seconds >= 0 for _, seconds, _ in observed.calls)


async def test_a_failing_observer_does_not_break_the_client(client: SmskaClient) -> None:
    def broken(action: str, seconds: float, outcome: str) -> None:
        raise RuntimeError("metrics down")

    client.observer = broken
    assert await client.balance() == Decimal(100)


async def test_last_success_at_tracks_ok_replies(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    client = make_client(http, sandbox.url, budget=0.3)
    sandbox.inject(Fault.EMPTY, times=None)
    with pytest.raises(GatewayUnavailable):
        await client.balance()
    assert client.last_success_at is None and client.last_reply_at is None
    sandbox.clear_faults()
    await client.balance()
    first = client.last_success_at
    assert first is not None
    await client.balance()
    assert client.last_success_at is not None and client.last_success_at >= first


async def test_client_repr_hides_the_password(http: httpx.AsyncClient) -> None:
    client = SmskaClient(http, url="http://gw/api/httppost.php", api_key="k", api_password=PASSWORD)
    assert PASSWORD not in repr(client)
    assert "Zq9" not in repr(client) and "Zq9" not in str(client)
    assert "**********" in repr(client)


async def test_client_rejects_nonsense_timings(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError):
        SmskaClient(http, url="http://gw/", api_key="k", api_password="p", timeout=0)
    with pytest.raises(ValueError):
        SmskaClient(http, url="http://gw/", api_key="k", api_password="p", budget=-1)


# --------------------------------------------------------------------------- HTTP statuses on the wire


def wire(status: int, body: bytes | str, calls: list[httpx.Request]) -> httpx.AsyncClient:
    """A real httpx client whose transport answers every request with this status and body."""

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, content=body.encode() if isinstance(body, str) else body)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, "0|Message sent|abc|Balance status|5", "ok"),
        (201, "0|Message sent|abc|Balance status|5", "ok"),  # any 2xx is read
        (204, "", "unknown:empty"),  # a 2xx means processed: no reply is not "not sent"
        (500, "0|Message sent|abc|Balance status|5", "unknown:http_5xx"),
        (502, "<html>Bad Gateway</html>", "unknown:http_5xx"),
        (504, "", "unknown:http_5xx"),
        (200, b"\x89PNG\r\n\x1a\n\x00\x00", "unknown:garbage"),
        (200, "x" * 70_000, "unknown:garbage"),
        (301, "", "unavailable:http_status"),  # refused or redirected: not processed, not retried
        (403, "Forbidden", "unavailable:http_status"),
        (404, "Not Found", "unavailable:http_status"),
        (429, "Too Many Requests", "unavailable:http_status"),
    ],
)
async def test_send_by_http_status(status: int, body: bytes | str, expected: str) -> None:
    calls: list[httpx.Request] = []
    async with wire(status, body, calls) as http:
        client = make_client(http, "http://gw.example/api/httppost.php")
        try:
            await client.send(NUMBER, "hi", "Clinic")
            outcome = "ok"
        except SendOutcomeUnknown as exc:
            outcome = f"unknown:{exc.reason}"
        except GatewayUnavailable as exc:
            outcome = f"unavailable:{exc.reason}"
    assert outcome == expected
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("status", "body", "reason", "retried"),
    [
        (503, "Service Unavailable", "http_5xx", True),
        (200, "", "empty", True),
        (200, "<html></html>", "html", True),
        (404, "Not Found", "http_status", False),
    ],
)
async def test_balance_by_http_status(status: int, body: str, reason: str, retried: bool) -> None:
    calls: list[httpx.Request] = []
    async with wire(status, body, calls) as http:
        client = make_client(http, "http://gw.example/api/httppost.php", budget=0.3)
        with pytest.raises(GatewayUnavailable) as info:
            await client.balance()
    assert info.value.reason == reason
    assert (len(calls) > 1) is retried
