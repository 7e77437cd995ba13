"""Callback data of the questions about a recipient list (issue 23.1, 23.8): which name was meant, or "it is
the text". An index only: the question itself (the phrase, the names offered) is kept in the operator's FSM
data, and a press must match it."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from bot.ui.callbacks import Small


class NearCb(CallbackData, prefix="nnr"):
    """One of the names offered (or the second number: index 0)."""

    index: Small


class AsTextCb(CallbackData, prefix="ntx"):
    """The words asked about are the start of the text."""


class DutyPickCb(CallbackData, prefix="ndy"):
    """🧑‍🚒 The one on duty, at the guided number step (whoever is on duty at the press)."""
