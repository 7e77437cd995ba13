"""The bot's Telegram session sets what aiogram's own `AiohttpSession.__init__` sets (it skips that `__init__`, which
would read the CA bundle for a TLS context of its own): an aiogram upgrade that adds or renames one fails here."""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.middlewares.telegram import TelegramSession, tls_context


def test_the_session_has_aiograms_attributes_and_one_tls_context_per_process() -> None:
    ours, theirs = TelegramSession("http://127.0.0.1:8081"), AiohttpSession(api=TelegramAPIServer.from_base("x"))
    assert set(vars(ours)) - {"tls"} == set(vars(theirs))
    assert set(ours._connector_init) == set(theirs._connector_init)
    assert ours._connector_init["ssl"] is TelegramSession("https://api.telegram.org")._connector_init["ssl"]
    assert ours._connector_init["ssl"] is tls_context()
    assert ours.api.base == "http://127.0.0.1:8081/bot{token}/{method}"
    assert (ours.tls, TelegramSession("HTTPS://api.telegram.org").tls) == (False, True)
