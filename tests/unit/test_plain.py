"""Typographic characters that alone make a text UCS-2, and the one-tap plain version: pure."""

from __future__ import annotations

from bot.sms.plain import plainer


def test_an_em_dash_in_a_latin_text() -> None:
    text = "Server db1 is down — failover to db2 started, the replica is catching up, ETA 10 min"  # 84 chars
    found = plainer(text)
    assert found is not None
    assert found.chars == ("—",) and found.was == 2 and found.parts == 1
    assert found.text == text.replace("—", "-")


def test_quotes_and_ellipsis_named_once_each() -> None:
    found = plainer("«db1» down… «db2» up " + "x" * 60)
    assert found is not None and found.chars == ("«", "»", "…")
    assert found.text.startswith('"db1" down... "db2" up')


def test_nothing_to_offer() -> None:
    assert plainer("Server db1 is down") is None  # GSM-7 already
    assert plainer("Сервер упал — срочно") is None  # Cyrillic: UCS-2 whatever the dash
    assert plainer("Short — one part either way") is None  # 1 part before and after
