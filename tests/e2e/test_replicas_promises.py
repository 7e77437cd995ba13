"""Every promise across replicas (issue 27, points 1 and 4): two or three `python -m bot` processes in webhook
mode on one PostgreSQL database, updates spread over them by a round-robin proxy (`behind_proxy` of
tests/support/replicas.py).
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from pathlib import Path

from bot.devkit.sandbox import SandboxGateway
from bot.devkit.telegram import FakeTelegram
from tests.support.deploy_fixtures import ADMIN, eventually, gateway, preview, telegram
from tests.support.replicas import behind_proxy, pg_rows, pg_url

__all__ = ["gateway", "pg_url", "telegram"]  # fixtures

OPERATOR = 2002
NUMBER = "79041764995"


async def settled(telegram: FakeTelegram) -> None:
    """Every update Telegram holds was delivered with a 200."""
    await eventually(lambda: _none_pending(telegram), timeout=20, what="every update delivered")


async def _none_pending(telegram: FakeTelegram) -> bool | None:
    return True if not telegram._pending else None


async def test_an_update_whose_200_was_lost_is_handled_once_though_the_retry_reaches_another_replica(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with behind_proxy(tmp_path, telegram, gateway, pg_url) as pair:
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        pair.proxy.lose_answers(1)
        await admin.send(f"/send {NUMBER} Pump 3 pressure low")
        await settled(telegram)
        [update_id] = {u for u, _, _ in pair.proxy.delivered}
        assert {i for _, i, _ in pair.proxy.delivered} == {0, 1}, "a retry went to the other replica"
        await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=15)  # answered after its 200
        previews = [m for m in admin.messages if "Check before sending" in m.plain]
        assert len(previews) == 1, [m.plain for m in admin.messages]
        [seen] = await pg_rows(pg_url, "SELECT COUNT(*) AS n FROM seen_updates WHERE update_id = $1", update_id)
        assert seen["n"] == 1


async def test_a_stopping_replica_leaves_the_webhook_and_the_other_serves(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with behind_proxy(tmp_path, telegram, gateway, pg_url) as pair:
        url = telegram.webhook_url
        pair.bots[1].signal(signal.SIGTERM)
        assert await pair.bots[1].wait(30) == 0
        assert telegram.calls_to("deleteWebhook") == []
        assert telegram.webhook_url == url
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        for text in ("first", "second"):  # one of the two reaches the stopped replica first, then the live one
            await preview(admin, f"/send {NUMBER} Pump 3 {text}")


async def test_concurrent_presses_of_one_preview_on_two_replicas_send_once(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    trials = 12
    async with behind_proxy(tmp_path, telegram, gateway, pg_url) as pair:
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        for trial in range(trials):
            pair.proxy.concurrent = False
            shown = await preview(admin, f"/send 7904176{trial:04d} Trial {trial}")
            pair.proxy.concurrent = True
            first = len(pair.proxy.delivered)
            await admin.press(shown, "✅ Send")
            await admin.press(shown, "✅ Send")
            await eventually(
                lambda start=first: _count_at_least(pair.proxy.delivered[start:], 2),  # type: ignore[misc]
                timeout=20,
                what="both presses handled",
            )
            assert {i for _, i, _ in pair.proxy.delivered[first:]} == {0, 1}, "the presses went to both replicas"
        await settled(telegram)
        await presses_done(pg_url, 0)
        numbers = [r.fields.get("MSISDN") for r in gateway.requests if r.action == "send"]
        assert sorted(numbers) == [f"7904176{t:04d}" for t in range(trials)]  # one SMS per preview, none lost
        rows = await pg_rows(pg_url, "SELECT COUNT(*) AS n FROM sends WHERE state = 'accepted'")
        assert rows[0]["n"] == trials


async def _count_at_least(items: Sequence[object], n: int) -> bool | None:
    return True if len(items) >= n else None


async def presses_done(url: str, drafts_left: int) -> None:
    """Every press handled to its end: no send in flight, and only `drafts_left` previews still unpressed."""

    async def probe() -> bool | None:
        [row] = await pg_rows(
            url,
            "SELECT COUNT(*) FILTER (WHERE state = 'sending') AS flying,"
            " COUNT(*) FILTER (WHERE state = 'draft') AS drafts FROM sends",
        )
        return True if row["flying"] == 0 and row["drafts"] == drafts_left else None

    await eventually(probe, timeout=30, what="every press handled")


async def test_presses_of_different_previews_on_different_replicas_stay_within_the_limit(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with behind_proxy(tmp_path, telegram, gateway, pg_url, OPERATOR_PARTS_PER_HOUR="3") as pair:
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        shown = [await preview(admin, f"/send 7904176{n:04d} Over the limit {n}") for n in range(8)]
        pair.proxy.concurrent = True
        first = len(pair.proxy.delivered)
        for message in shown:
            await admin.press(message, "✅ Send")
        await eventually(lambda: _count_at_least(pair.proxy.delivered[first:], 8), timeout=30, what="every press")
        await settled(telegram)
        await presses_done(pg_url, 5)  # the five over the limit stay previews, told why
        assert {i for _, i, _ in pair.proxy.delivered[first:]} == {0, 1}
        sent = [r for r in gateway.requests if r.action == "send"]
        assert len(sent) == 3  # the hour's limit, though the presses landed on two replicas at once


async def test_deny_on_one_replica_refuses_the_next_update_on_every_other(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with behind_proxy(tmp_path, telegram, gateway, pg_url, count=3) as pair:
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        operator = telegram.user(OPERATOR, "Olga", language_code="en")
        await admin.send(f"/allow {OPERATOR}")
        await admin.wait_for(lambda m: "can now use the bot" in m.plain, timeout=15)
        for _ in range(3):  # every replica has seen the operator (and would remember them)
            await preview(operator, f"/send {NUMBER} Before")
        await admin.send(f"/deny {OPERATOR}")
        await admin.wait_for(lambda m: "no longer has access" in m.plain, timeout=15)
        for n in range(3):  # the next update on each replica
            await operator.send(f"/send {NUMBER} After {n}")
            await operator.wait_for(lambda m: "taken away your access" in m.plain, timeout=15)
        await settled(telegram)
        assert not [m for m in operator.messages if "After" in m.plain and "Check before sending" in m.plain]
        assert {i for _, i, _ in pair.proxy.delivered[-3:]} == {0, 1, 2}


async def test_a_guided_step_goes_on_whichever_replica_the_next_message_lands_on(
    tmp_path: Path, telegram: FakeTelegram, gateway: SandboxGateway, pg_url: str
) -> None:
    async with behind_proxy(tmp_path, telegram, gateway, pg_url) as pair:
        admin = telegram.user(ADMIN, "Alice", language_code="en")
        for round_ in range(2):  # the second round starts where each replica has a step of the first remembered
            await admin.send("/send")
            await admin.wait_for(lambda m: "Who gets the SMS" in m.plain, timeout=15)
            await admin.send("8 (904) 176 49 95")
            await admin.wait_for(lambda m: "To +7" in m.plain, timeout=15)
            await admin.send(f"Pump 3 pressure low {round_}")
            shown = await admin.wait_for(lambda m: "Check before sending" in m.plain, timeout=15)
            assert f"Pump 3 pressure low {round_}" in shown.plain
        delivered = [i for _, i, _ in pair.proxy.delivered]
        assert set(delivered) == {0, 1}
