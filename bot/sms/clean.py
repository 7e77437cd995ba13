"""Control characters out of what people type: pure, no I/O.

A NUL byte or another C0/C1 control in an SMS text is sent to the gateway as is, and a right-to-left override
(U+202E) in a Telegram name turns "Eve\u202egnp.exe" into "Eveexe.png" on an admin's screen. SMS texts keep
their line breaks and tabs; shown names keep nothing of the kind (one line).
"""

from __future__ import annotations

import re

# Bidirectional embeddings, overrides and isolates, and the invisible direction marks.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_TEXT_CONTROLS = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")
_NAME_CONTROLS = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")


def clean_sms_text(text: str) -> str:
    """The text without control characters; `\\r\\n` and `\\r` become `\\n`, tabs and line breaks stay."""
    return _TEXT_CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_name(name: str) -> str:
    """A person's name as shown: no control characters or line breaks (each becomes nothing), trimmed."""
    return " ".join(_NAME_CONTROLS.sub("", name).split())
