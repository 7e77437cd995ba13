"""Buttons that carry names (contacts, groups, templates, one-tap recipients), laid out so that a label is never
cut to look like its neighbour on a narrow phone: two labels share a row only when both show whole at half the
width; a longer one gets a row of its own; one too long even for that is cut in the middle, keeping its start
and its distinctive end ("Александр Констан…нопольский", not "Александр Ко…"). Telegram itself cuts a label
at its end, which is where two names of one family or two templates of one kind differ."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.utils.keyboard import InlineKeyboardBuilder

HALF = 14  # characters a half-width button of a narrow phone shows whole (emoji and spaces included)
FULL = 36  # characters a full-width button shows whole
HEAD = 2 / 5  # of a label cut in the middle, the share kept from its start (the rest: its distinctive end)


def fit(label: str, most: int = FULL) -> str:
    """`label` as it fits one full-width button: whole when it can, else its start, "…" and its end."""
    if len(label) <= most:
        return label
    head = max(1, int((most - 1) * HEAD))
    tail = most - 1 - head
    return label[:head].rstrip() + "…" + label[len(label) - tail :].lstrip()


def row_sizes(labels: Sequence[str], per_row: int = 2) -> list[int]:
    """Row sizes for `labels` in order: up to `per_row` short ones share a row; a long one has a row alone."""
    sizes: list[int] = []
    run = 0
    for label in labels:
        if len(label) > HALF or per_row < 2:
            if run:
                sizes.append(run)
                run = 0
            sizes.append(1)
            continue
        run += 1
        if run == per_row:
            sizes.append(run)
            run = 0
    if run:
        sizes.append(run)
    return sizes


def add(kb: InlineKeyboardBuilder, buttons: Sequence[tuple[str, CallbackData]], per_row: int = 2) -> list[int]:
    """Add the name buttons (labels fitted) to `kb`; returns their row sizes, for `kb.adjust(*sizes, ...)` together
    with the buttons that follow them (◀ ▶, Cancel)."""
    labels = [fit(label) for label, _ in buttons]
    for label, (_, data) in zip(labels, buttons, strict=True):
        kb.button(text=label, callback_data=data)
    return row_sizes(labels, per_row)
