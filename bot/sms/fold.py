"""How two names are compared (issue 23.4): case, spacing, ё/е, Unicode forms, invisible characters and letters
that look alike in Latin, Cyrillic and Greek do not count. Pure; re-exported by bot.sms.names."""

from __future__ import annotations

import functools
import unicodedata

# Letters a reader cannot tell apart (after casefolding), mapped to one of them: Cyrillic and Greek to Latin.
# Uppercase lookalikes count too (В/B, Н/H, М/M, Т/T, К/K), since case never counts.
_LOOKALIKE = str.maketrans(
    {
        **dict(zip("авекмнорстухіјѕԁӏһԛԝүё", "abekmhopctyxijsdlhqwye", strict=True)),
        **dict(zip("αβεικνορτυχ", "abeikvoptux", strict=True)),
        "ë": "e",
    }
)
# What shows as nothing (besides the format characters, Unicode category Cf): fillers, variation selectors.
_BLANK = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0") | frozenset(map(chr, range(0xFE00, 0xFE10)))


def visible(text: str) -> str:
    return "".join(ch for ch in text if ch not in _BLANK and unicodedata.category(ch) != "Cf")


@functools.lru_cache(maxsize=8192)  # the same names are folded on every lookup (a Book is built per request)
def name_key(name: str) -> str:
    """What two names must share to be the same name: case, spacing, ё/е, Unicode forms, invisible characters
    and letters that look alike do not count. Stored (contacts, groups, templates): a change of this fold needs a
    migration that folds the stored keys again (see migration 10, `name_fold` in bot.storage.db)."""
    folded = unicodedata.normalize("NFKC", visible(unicodedata.normalize("NFKC", name)).casefold())
    return " ".join(folded.replace("ё", "е").translate(_LOOKALIKE).split())


def plain_key(name: str) -> str:
    """The fold people mean by "the same name" (case, spacing, ё/е): two names with one `name_key` but not one
    `plain_key` only look alike."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold().replace("ё", "е")


def looks_like(typed: str, saved: str) -> bool:
    """`typed` is not `saved`'s name written another way (case, ё) but only looks the same (Latin "O" in "Oлег")."""
    return name_key(typed) == name_key(saved) and plain_key(typed) != plain_key(saved)
