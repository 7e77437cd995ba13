"""How many SMS parts a text takes (GSM 03.38 / UCS-2), for the preview before sending.

Decisions:

* GSM-7 when every character is in the GSM 03.38 default alphabet or its basic extension table (the latter
  cost two septets: ESC + char); otherwise UCS-2. The ESC code itself is not text and forces UCS-2.
* GSM-7: 160 septets in a single part, 153 per part when concatenated. UCS-2: 70 / 67 UTF-16 code units.
* Parts are packed greedily, and a part never ends between an escape and its character, or between the two
  halves of a surrogate pair (emoji): such a character moves whole to the next part. So the count can exceed
  ``ceil(units / per_part)``.
* ``chars`` counts Python code points (an emoji is 1, a flag is 2); empty text is 0 parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet in code order, without 0x1B (ESC).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("\f^{}\\[~]|€")

_LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True, slots=True)
class SmsParts:
    encoding: Encoding
    chars: int  # code points
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int
    per_part: int  # capacity of a part: single (160/70) while the text fits one part, else 153/67
    left: int  # units that still fit in the last part before another part is needed


def count_parts(text: str) -> SmsParts:
    encoding, weights = _measure(text)
    single, multi = _LIMITS[encoding]
    units = sum(weights)
    if units <= single:
        return SmsParts(encoding, len(text), units, 1 if text else 0, single, single - units)
    spans = _pack(weights, multi)
    last_units = sum(weights[spans[-1][0] : spans[-1][1]])
    return SmsParts(encoding, len(text), units, len(spans), multi, multi - last_units)


def split_parts(text: str) -> list[str]:
    """The text of each part, as it would be cut for a concatenated SMS."""
    encoding, weights = _measure(text)
    single, multi = _LIMITS[encoding]
    if sum(weights) <= single:
        return [text] if text else []
    return [text[start:end] for start, end in _pack(weights, multi)]


def _measure(text: str) -> tuple[Encoding, list[int]]:
    """Encoding and the units each character takes."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        return "GSM-7", [2 if ch in _GSM_EXTENDED else 1 for ch in text]
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(weights: list[int], capacity: int) -> list[tuple[int, int]]:
    """Greedy: fill each part while the next character fits whole; returns (start, end) index spans."""
    spans: list[tuple[int, int]] = []
    start = used = 0
    for i, weight in enumerate(weights):
        if used + weight > capacity:
            spans.append((start, i))
            start, used = i, 0
        used += weight
    spans.append((start, len(weights)))
    return spans


def fit(text: str, max_parts: int) -> str:
    """`text`, cut (at a word when it can) with "..." to fit `max_parts` parts."""
    text = " ".join(text.split())
    if count_parts(text).parts <= max_parts:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if count_parts(text[:middle].rstrip() + "...").parts <= max_parts:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if " " in cut[len(cut) * 3 // 4 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + "..."
