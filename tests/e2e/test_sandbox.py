"""The sandbox speaks the document's protocol: its example requests, replies, errors, magic numbers, faults,
records, lifecycle and the serve_forever entry point."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

import bot.devkit.sandbox as sandbox_module
from bot.devkit.sandbox import (
    DOCUMENT_EXAMPLE_ID,
    MAGIC_NUMBERS,
    Fault,
    SandboxGateway,
    serve_forever,
)
from bot.gateway.errors import DOCUMENTED_ERROR_TEXTS
from bot.sms.phone import normalize_phone
from tests.support.gateway_fixtures import (  # noqa: F401 — the *_fixture names register pytest fixtures
    API_KEY,
    PASSWORD,
    FakeClock,
    clock_fixture,
    http_fixture,
    make_client,
    sandbox_fixture,
)

SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_225bcb1e5fe711fd.txt"
ROOT = Path(__file__).resolve().parents[2]
SEND_REPLY = re.compile(r"0\|Message sent\|([a-z0-9]{17})\|Balance status\|(\S+)")


async def post(http: httpx.AsyncClient, gw: SandboxGateway, **fields: str) -> str:
    form = {"APIKey": API_KEY, "APIPassword": PASSWORD, **fields}
    response = await http.post(gw.url, data=form)
    assert response.status_code == 200
    return response.text


# --------------------------------------------------------------------------- the document's own examples


async def test_the_documents_example_requests_get_the_documents_replies(http: httpx.AsyncClient) -> None:
    # The document's examples are GET URLs with test/test; balance 7464 as in its balance reply.
    async with SandboxGateway(balance=Decimal("7464")) as gw:
        base = gw.url
        balance = await http.get(f"{base}?APIKey=test&APIPassword=test&Action=balance")
        assert balance.text == " 0|Balance status|7464"  # leading space included, as in the document
        assert balance.headers["content-type"].startswith("text/html")  # like a default PHP page

        send = await http.get(f"{base}?APIKey=test&APIPassword=test&SenderID=test&MSISDN=79041764995&Message=Проверка")
        match = SEND_REPLY.fullmatch(send.text)
        assert match, send.text
        assert match.group(2) == "7463"  # one part at 1 per part: the document's 7464 -> 7463
        assert gw.sent[0].text == "Проверка"

        query = await http.get(f"{base}?APIKey=test&APIPassword=test&Action=query&BatchId=ah1acugxz98a27t9z")
        assert query.text == "0|Status|4|DELIVRD"
        assert DOCUMENT_EXAMPLE_ID == "ah1acugxz98a27t9z"

        # the alternative address named by the document answers too
        alt = await http.get(
            base.replace("httppost.php", "httppostapi2.php"),
            params={"APIKey": "test", "APIPassword": "test", "Action": "balance"},
        )
        assert alt.text == " 0|Balance status|7463"
        assert [r.method for r in gw.requests] == ["GET"] * 4
        assert all("APIPassword" in r.query_keys and "APIPassword" not in r.fields for r in gw.requests)


@pytest.mark.skipif(not SEED.exists(), reason="the original document is not beside the repository")
def test_error_texts_are_the_documents() -> None:
    seed = " ".join(SEED.read_text(encoding="utf-8").split())
    for code, text in DOCUMENTED_ERROR_TEXTS.items():
        assert f"{code}|{text}" in seed


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"APIKey": API_KEY, "APIPassword": "wrong", "Action": "balance"}, 1),
        ({"APIKey": "wrong", "APIPassword": PASSWORD, "Action": "balance"}, 1),
        ({"Action": "balance"}, 1),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "Action": "nonsense"}, 4),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "Action": "query"}, 4),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "Action": "query", "BatchId": "unknownid"}, 4),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "79041764995", "SenderID": "A"}, 4),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "79041764995", "Message": "m"}, 4),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "+79041764995", "Message": "m", "SenderID": "A"}, 4),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "89041764995", "Message": "m", "SenderID": "A"}, 4),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "790417649951", "Message": "m", "SenderID": "A"}, 4),
        (
            {
                "APIKey": API_KEY,
                "APIPassword": PASSWORD,
                "MSISDN": "79041764995",
                "Message": "m",
                "SenderID": "TooLongSender",
            },
            7,
        ),
        (
            {
                "APIKey": API_KEY,
                "APIPassword": PASSWORD,
                "MSISDN": "79041764995",
                "Message": "m",
                "SenderID": "Клиника",
            },
            7,
        ),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "79041764995", "Message": "m", "SenderID": "   "}, 7),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "79000000003", "Message": "m", "SenderID": "A"}, 3),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "79000000005", "Message": "m", "SenderID": "A"}, 5),
        ({"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "79000000006", "Message": "m", "SenderID": "A"}, 6),
    ],
)
async def test_error_replies_are_exactly_the_documents(
    http: httpx.AsyncClient, sandbox: SandboxGateway, fields: dict[str, str], code: int
) -> None:
    response = await http.post(sandbox.url, data=fields)
    assert response.text == f"{code}|{DOCUMENTED_ERROR_TEXTS[code]}"
    assert sandbox.sent == []
    assert sandbox.balance == Decimal(100)


async def test_senders_accepted_without_a_list(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    for sender in ("A", "Clinic-24", "Dr.House", "ab_cd 1234", "12345678901"):
        reply = await post(http, sandbox, MSISDN="79041764995", Message="m", SenderID=sender)
        assert SEND_REPLY.fullmatch(reply), (sender, reply)
    assert [s.sender for s in sandbox.sent] == ["A", "Clinic-24", "Dr.House", "ab_cd 1234", "12345678901"]


async def test_balance_runs_out(http: httpx.AsyncClient) -> None:
    async with SandboxGateway(balance=Decimal("3"), price_per_part=Decimal("1.25")) as gw:
        form = {"APIKey": "test", "APIPassword": "test", "MSISDN": "79041764995", "SenderID": "A", "Message": "m"}
        replies = [(await http.post(gw.url, data=form)).text for _ in range(3)]
        assert SEND_REPLY.fullmatch(replies[0]) and replies[0].endswith("|1.75")
        assert SEND_REPLY.fullmatch(replies[1]) and replies[1].endswith("|0.50")
        assert replies[2] == f"5|{DOCUMENTED_ERROR_TEXTS[5]}"
        assert gw.balance == Decimal("0.50")


async def test_ids_are_unique_17_lowercase_alphanumerics(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    ids = set()
    for _ in range(20):
        match = SEND_REPLY.fullmatch(await post(http, sandbox, MSISDN="79041764995", Message="m", SenderID="A"))
        assert match
        ids.add(match.group(1))
    assert len(ids) == 20


# --------------------------------------------------------------------------- delivery timeline and magic numbers


async def test_status_moves_on_the_injected_clock(
    http: httpx.AsyncClient, sandbox: SandboxGateway, clock: FakeClock
) -> None:
    match = SEND_REPLY.fullmatch(await post(http, sandbox, MSISDN="79041764995", Message="m", SenderID="A"))
    assert match
    message_id = match.group(1)
    assert await post(http, sandbox, Action="query", BatchId=message_id) == "0|Status|3|ACCEPTD"
    clock.advance(4.99)
    assert await post(http, sandbox, Action="query", BatchId=message_id) == "0|Status|3|ACCEPTD"
    clock.advance(0.01)
    assert await post(http, sandbox, Action="query", BatchId=message_id) == "0|Status|4|DELIVRD"
    sandbox.force_status(message_id, 7, "EXPIRED")
    assert await post(http, sandbox, Action="query", BatchId=message_id) == "0|Status|7|EXPIRED"


def test_magic_numbers_are_valid_russian_mobiles() -> None:
    assert len(MAGIC_NUMBERS) == 10
    for msisdn, magic in MAGIC_NUMBERS.items():
        assert magic.msisdn == msisdn
        assert normalize_phone(msisdn) == msisdn
        assert normalize_phone("+7 " + msisdn[1:]) == msisdn
        assert sandbox_module.__doc__ is not None and msisdn in sandbox_module.__doc__


@pytest.mark.parametrize(
    ("msisdn", "error", "before", "after"),
    [
        ("79000000003", 3, None, None),
        ("79000000005", 5, None, None),
        ("79000000006", 6, None, None),
        ("79000000031", None, "3|ACCEPTD", "3|ACCEPTD"),
        ("79000000051", None, "3|ACCEPTD", "5|REJECTD"),
        ("79000000061", None, "3|ACCEPTD", "6|REJECTD"),
        ("79000000071", None, "3|ACCEPTD", "7|EXPIRED"),
        ("79000000081", None, "3|ACCEPTD", "8|DELETED"),
        ("79000000091", None, "9|UNKNOWN", "4|DELIVRD"),
        ("79041764995", None, "3|ACCEPTD", "4|DELIVRD"),
    ],
)
async def test_magic_numbers(
    http: httpx.AsyncClient,
    sandbox: SandboxGateway,
    clock: FakeClock,
    msisdn: str,
    error: int | None,
    before: str | None,
    after: str | None,
) -> None:
    reply = await post(http, sandbox, MSISDN=msisdn, Message="m", SenderID="A")
    if error is not None:
        assert reply == f"{error}|{DOCUMENTED_ERROR_TEXTS[error]}"
        assert MAGIC_NUMBERS[msisdn].error == error
        assert sandbox.sent == []
        return
    match = SEND_REPLY.fullmatch(reply)
    assert match
    message_id = match.group(1)
    assert await post(http, sandbox, Action="query", BatchId=message_id) == f"0|Status|{before}"
    clock.advance(sandbox.delivery_delay)
    assert await post(http, sandbox, Action="query", BatchId=message_id) == f"0|Status|{after}"
    clock.advance(1000 * sandbox.delivery_delay)
    assert await post(http, sandbox, Action="query", BatchId=message_id) == f"0|Status|{after}"


# --------------------------------------------------------------------------- faults, records, waiting


async def test_injection_targets_an_action_and_counts_down(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    sandbox.inject(Fault.ERROR, action="query", times=2, code=42, body="Rate limited")
    assert (await post(http, sandbox, Action="balance")).startswith(" 0|")
    assert await post(http, sandbox, Action="query", BatchId="x") == "42|Rate limited"
    assert await post(http, sandbox, Action="query", BatchId="x") == "42|Rate limited"
    assert await post(http, sandbox, Action="query", BatchId=DOCUMENT_EXAMPLE_ID) == "0|Status|4|DELIVRD"
    assert [r.fault for r in sandbox.requests] == [None, Fault.ERROR, Fault.ERROR, None]
    sandbox.inject(Fault.EMPTY, times=None)
    for _ in range(3):
        assert await post(http, sandbox, Action="balance") == ""
    sandbox.clear_faults()
    assert (await post(http, sandbox, Action="balance")).startswith(" 0|")
    with pytest.raises(ValueError):
        sandbox.inject(Fault.DROP, action="sned")
    with pytest.raises(ValueError):
        sandbox.inject(Fault.DROP, times=0)


@pytest.mark.parametrize(
    ("fault", "status", "body"),
    [
        (Fault.HTTP_500, 500, re.compile(r"(?s)<!DOCTYPE html>.*500 Internal Server Error.*")),
        (Fault.HTML, 200, re.compile(r"(?s)<!DOCTYPE html>.*")),
        (Fault.EMPTY, 200, re.compile("")),
        (Fault.GARBAGE, 200, re.compile("Service temporarily overloaded")),
        (Fault.ERROR, 200, re.compile(re.escape("3|Sent Error"))),
    ],
)
async def test_reply_faults(
    http: httpx.AsyncClient, sandbox: SandboxGateway, fault: Fault, status: int, body: re.Pattern[str]
) -> None:
    sandbox.inject(fault)
    response = await http.post(sandbox.url, data={"APIKey": API_KEY, "APIPassword": PASSWORD, "Action": "balance"})
    assert response.status_code == status
    assert body.fullmatch(response.text), response.text


@pytest.mark.parametrize("fault", [Fault.DROP, Fault.DROP_AFTER_SEND])
async def test_drop_faults_close_without_a_reply(
    http: httpx.AsyncClient, sandbox: SandboxGateway, fault: Fault
) -> None:
    sandbox.inject(fault)
    form = {"APIKey": API_KEY, "APIPassword": PASSWORD, "MSISDN": "79041764995", "SenderID": "A", "Message": "m"}
    with pytest.raises(httpx.RemoteProtocolError):
        await http.post(sandbox.url, data=form)
    assert len(sandbox.sent) == (1 if fault is Fault.DROP_AFTER_SEND else 0)


async def test_slow_answers_after_its_delay(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    sandbox.inject(Fault.SLOW, delay=0.3)
    started = time.monotonic()
    reply = await post(http, sandbox, Action="balance")
    assert reply == " 0|Balance status|100"
    assert time.monotonic() - started >= 0.3


async def test_stop_is_not_held_up_by_hanging_or_slow_requests(http: httpx.AsyncClient) -> None:
    gw = SandboxGateway()
    await gw.start()
    gw.inject(Fault.HANG, action="balance")
    gw.inject(Fault.SLOW, action="query", delay=60)
    form = {"APIKey": "test", "APIPassword": "test"}
    hanging = asyncio.create_task(http.post(gw.url, data={**form, "Action": "balance"}, timeout=30))
    slow = asyncio.create_task(
        http.post(gw.url, data={**form, "Action": "query", "BatchId": DOCUMENT_EXAMPLE_ID}, timeout=30)
    )
    await gw.wait_requests(2, timeout=5)
    started = time.monotonic()
    await gw.stop()
    assert time.monotonic() - started < 1.0
    for task in (hanging, slow):
        with pytest.raises(httpx.TransportError):
            await asyncio.wait_for(task, 5)
    await gw.stop()  # a second stop is harmless


async def test_records_and_waiting(http: httpx.AsyncClient, sandbox: SandboxGateway) -> None:
    waiter = asyncio.create_task(sandbox.wait_requests(2, timeout=5, action="send"))
    await post(http, sandbox, Action="balance")
    await post(http, sandbox, MSISDN="79041764995", Message="привет", SenderID="A")
    assert not waiter.done()
    await post(http, sandbox, MSISDN="79000000031", Message="x" * 170, SenderID="B")
    received = await waiter
    assert [r.action for r in received] == ["send", "send"]
    assert all(r.authenticated and r.method == "POST" and r.query_keys == () for r in received)
    assert received[0].fields == {"APIKey": API_KEY, "MSISDN": "79041764995", "Message": "привет", "SenderID": "A"}
    assert received[0].content_type == "application/x-www-form-urlencoded"
    sent = await sandbox.wait_sent(2, timeout=1)
    assert [(s.msisdn, s.parts, s.cost) for s in sent] == [
        ("79041764995", 1, Decimal("1.5")),
        ("79000000031", 2, Decimal("3.0")),
    ]
    with pytest.raises(TimeoutError):
        await sandbox.wait_requests(10, timeout=0.05)


async def test_start_twice_is_an_error_and_url_needs_start() -> None:
    gw = SandboxGateway(api_password="Zq9-repr")
    with pytest.raises(RuntimeError):
        _ = gw.url
    await gw.start()
    try:
        with pytest.raises(RuntimeError):
            await gw.start()
        assert gw.url.startswith("http://127.0.0.1:") and gw.url.endswith("/api/httppost.php")
        assert "Zq9" not in repr(gw)
    finally:
        await gw.stop()


# --------------------------------------------------------------------------- serve_forever / the CLI's engine


async def test_serve_forever_in_process(http: httpx.AsyncClient) -> None:
    lines: list[str] = []
    stop = asyncio.Event()
    announced = asyncio.Event()

    def announce(line: str) -> None:
        lines.append(line)
        announced.set()

    server = asyncio.create_task(serve_forever("127.0.0.1", 0, "k", "Zq9-in-process", stop=stop, announce=announce))
    await asyncio.wait_for(announced.wait(), 5)
    url = lines[0].split()[-1]
    reply = await http.post(url, data={"APIKey": "k", "APIPassword": "Zq9-in-process", "Action": "balance"})
    assert reply.text == " 0|Balance status|1000"
    stop.set()
    await asyncio.wait_for(server, 5)
    assert any("79000000051" in line for line in lines)
    assert all("Zq9" not in line for line in lines)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serve_forever_process_stops_cleanly_on_signal(http: httpx.AsyncClient, signum: int) -> None:
    env = {**os.environ, "SMSKA_API_KEY": "envkey", "SMSKA_API_PASSWORD": "Zq9-env-secret", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    code = "import asyncio; from bot.devkit.sandbox import serve_forever; asyncio.run(serve_forever('127.0.0.1', 0))"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        url = first.split()[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/httppost.php")
        reply = await http.post(url, data={"APIKey": "envkey", "APIPassword": "Zq9-env-secret", "Action": "balance"})
        assert reply.text == " 0|Balance status|1000"
        proc.send_signal(signum)
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    text = first + out.decode() + err.decode()
    assert "stopped" in text
    assert "Traceback" not in text
    assert "Zq9" not in text
