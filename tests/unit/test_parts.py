import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sms.parts import Encoding, SmsParts, count_parts, split_parts

# --- an independent reference: GSM 03.38 as code tables, parts cut by real encoded size ---------------------

ESC = 0x1B
GSM_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10 (0x1B is ESC, not a character)
    " !\"#¤%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "¡ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50
    "¿abcdefghijklmno"  # 0x60
    "pqrstuvwxyzäöñüà"  # 0x70
)
GSM_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~", 0x3E: "]"}
GSM_EXTENSION |= {0x40: "|", 0x65: "€"}
assert len(GSM_TABLE) == 128


def gsm_septets(text: str) -> list[int] | None:
    """The septets of text in GSM-7, or None when it cannot be encoded."""
    out: list[int] = []
    reverse_ext = {ch: code for code, ch in GSM_EXTENSION.items()}
    for ch in text:
        if ch in reverse_ext:
            out += [ESC, reverse_ext[ch]]
        elif ch in GSM_TABLE and GSM_TABLE.index(ch) != ESC:
            out.append(GSM_TABLE.index(ch))
        else:
            return None
    return out


def reference(text: str) -> tuple[Encoding, int, list[str], int]:
    """(encoding, units, parts, capacity of a part) by cutting the longest prefix that encodes small enough."""
    encoding: Encoding
    if gsm_septets(text) is not None:
        encoding, single, multi = "GSM-7", 160, 153

        def size(s: str) -> int:
            septets = gsm_septets(s)
            assert septets is not None
            return len(septets)
    else:
        encoding, single, multi = "UCS-2", 70, 67

        def size(s: str) -> int:
            return len(s.encode("utf-16-le")) // 2

    units = size(text)
    if units <= single:
        return encoding, units, [text] if text else [], single
    parts, rest = [], text
    while rest:
        n = min(len(rest), multi)
        while size(rest[:n]) > multi:
            n -= 1
        parts.append(rest[:n])
        rest = rest[n:]
    return encoding, units, parts, multi


def assert_matches_reference(text: str) -> None:
    encoding, units, parts, capacity = reference(text)
    last = reference(parts[-1])[1] if parts else 0
    assert split_parts(text) == parts
    assert count_parts(text) == SmsParts(encoding, len(text), units, len(parts), capacity, capacity - last)


# --- properties ------------------------------------------------------------------------------------------------

GSM_CHARS = GSM_TABLE.replace("\x1b", "") + "".join(GSM_EXTENSION.values())
gsm_text = st.text(alphabet=GSM_CHARS, max_size=500)
escape_heavy = st.text(alphabet="a€{", max_size=500)
ucs_text = st.text(alphabet="aяЖ€\u0301😀👍🏽\U0001f1f7", max_size=300)


@given(st.one_of(gsm_text, escape_heavy, ucs_text, st.text(max_size=400)))
def test_agrees_with_reference(text: str) -> None:
    assert_matches_reference(text)


@given(st.one_of(gsm_text, ucs_text, st.text(max_size=400)))
def test_parts_rejoin_and_never_split_a_character(text: str) -> None:
    parts = split_parts(text)
    assert "".join(parts) == text
    info = count_parts(text)
    assert len(parts) == info.parts
    assert info.parts >= -(-info.units // info.per_part)  # never fewer than plain division
    assert 0 <= info.left <= info.per_part


# --- boundaries ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts", "per_part", "left"),
    [
        ("", "GSM-7", 0, 0, 160, 160),
        ("a", "GSM-7", 1, 1, 160, 159),
        ("a" * 160, "GSM-7", 160, 1, 160, 0),
        ("a" * 161, "GSM-7", 161, 2, 153, 145),
        ("a" * 306, "GSM-7", 306, 2, 153, 0),
        ("a" * 307, "GSM-7", 307, 3, 153, 152),
        ("€" * 80, "GSM-7", 160, 1, 160, 0),
        ("a" * 158 + "€", "GSM-7", 160, 1, 160, 0),
        ("a" * 159 + "€", "GSM-7", 161, 2, 153, 145),
        # the escape pair would straddle the 153 boundary: it moves whole, one more part than units/153
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3, 153, 152),
        ("я" * 70, "UCS-2", 70, 1, 70, 0),
        ("я" * 71, "UCS-2", 71, 2, 67, 63),
        ("я" * 134, "UCS-2", 134, 2, 67, 0),
        ("я" * 135, "UCS-2", 135, 3, 67, 66),
        ("я" * 68 + "😀", "UCS-2", 70, 1, 70, 0),
        ("я" * 69 + "😀", "UCS-2", 71, 2, 67, 63),
        # the emoji's surrogate pair would straddle the 67 boundary
        ("я" * 66 + "😀" + "я" * 66, "UCS-2", 134, 3, 67, 66),
        ("😀", "UCS-2", 2, 1, 70, 68),
        ("a" * 160 + "я", "UCS-2", 161, 3, 67, 40),  # one Cyrillic letter turns the whole text into UCS-2
    ],
)
def test_boundaries(text: str, encoding: Encoding, units: int, parts: int, per_part: int, left: int) -> None:
    assert count_parts(text) == SmsParts(encoding, len(text), units, parts, per_part, left)
    assert_matches_reference(text)


def test_straddling_escape_and_emoji_move_to_the_next_part() -> None:
    assert split_parts("a" * 152 + "€" + "a" * 152) == ["a" * 152, "€" + "a" * 151, "a"]
    assert split_parts("я" * 66 + "😀" + "я" * 66) == ["я" * 66, "😀" + "я" * 65, "я"]


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Hello, world! @£$¥ ΔΣΩ ÄÖÜ äöüà ¿¡ §", "GSM-7"),
        ("{[~]}|^\\€\f", "GSM-7"),
        ("line\r\nbreak", "GSM-7"),
        ("Привет", "UCS-2"),
        ("ç", "UCS-2"),  # only the capital Ç is in the default alphabet
        ("Ç", "GSM-7"),
        ("`", "UCS-2"),
        ("\x1b", "UCS-2"),  # ESC is not text
        ("a\tb", "UCS-2"),
    ],
)
def test_encoding_choice(text: str, encoding: str) -> None:
    assert count_parts(text).encoding == encoding


def test_extended_chars_count_two_septets_and_chars_are_code_points() -> None:
    info = count_parts("{}€")
    assert (info.chars, info.units) == (3, 6)
    info = count_parts("👍🏽")  # two code points, four UTF-16 units
    assert (info.chars, info.units) == (2, 4)
