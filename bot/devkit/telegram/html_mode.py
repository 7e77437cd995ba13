"""Telegram's HTML parse mode, as the Bot API server applies it: text + markup -> plain text + entities.

Used by the fake Bot API server (``bot.devkit.telegram``) to reject what Telegram rejects with
``400 Bad Request: can't parse entities: ...`` and to compute what a phone shows (``plain``).

Supported (https://core.telegram.org/bots/api#html-style): ``b strong i em u ins s strike del``,
``span class="tg-spoiler"``, ``tg-spoiler``, ``a href``, ``code`` (``class="language-x"`` inside ``pre``),
``pre``, ``blockquote`` (``expandable``), ``tg-emoji emoji-id``; the named entities ``&lt; &gt; &amp;
&quot;`` and numeric ones.

One deliberate difference: with ``strict=True`` (the default) a bare ``&`` that does not start an entity is
an error. Telegram itself keeps such an ``&`` literally, but a bare ``&`` in this project's output always
means some user or gateway text was not passed through ``html.escape``, which is the bug worth catching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

__all__ = ["HtmlParseError", "ParsedText", "parse_html", "trim_message", "utf16_len"]

_TAG_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SEMICOLON_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);")


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(err)`` is the part after "can't parse entities: "."""


@dataclass(frozen=True)
class ParsedText:
    plain: str
    entities: list[dict[str, Any]]


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    offset: int  # UTF-16 offset in the plain text where the entity starts
    byte_offset: int
    attrs: dict[str, str | None]


class _Parser(HTMLParser):
    def __init__(self, text: str, *, strict: bool) -> None:
        super().__init__(convert_charrefs=False)
        self._text = text
        self._strict = strict
        self._line_starts = [0]
        for match in re.finditer("\n", text):
            self._line_starts.append(match.end())
        self._out: list[str] = []
        self._u16 = 0
        self._stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    # -- positions -----------------------------------------------------------------------------------
    def _index(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def _byte_offset(self, index: int | None = None) -> int:
        idx = self._index() if index is None else index
        return len(self._text[:idx].encode("utf-8"))

    def _emit(self, chunk: str) -> None:
        self._out.append(chunk)
        self._u16 += utf16_len(chunk)

    @property
    def plain(self) -> str:
        return "".join(self._out)

    # -- handlers ------------------------------------------------------------------------------------
    def handle_data(self, data: str) -> None:
        start = self._index()
        for pos, char in enumerate(data):
            if char == "<":
                rest = self._text[start + pos + 1 :]
                name = re.match(r"[^\s>]*", rest)
                tag = name.group(0) if name else ""
                if tag and ">" not in rest:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte_offset(start + pos)}")
                raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset(start + pos)}')
            if char == "&" and self._strict:
                raise HtmlParseError(
                    f'Character "&" is reserved and must be escaped as "&amp;" at byte offset '
                    f"{self._byte_offset(start + pos)}"
                )
        self._emit(data)

    def _entity_needs_semicolon(self, ref: str) -> None:
        idx = self._index()
        if not _SEMICOLON_ENTITY.match(self._text, idx):
            raise HtmlParseError(f'Entity "&{ref}" must end with ";" at byte offset {self._byte_offset(idx)}')

    def handle_entityref(self, name: str) -> None:
        self._entity_needs_semicolon(name)
        char = _NAMED_ENTITIES.get(name)
        if char is None:
            if self._strict:
                raise HtmlParseError(
                    f'Unsupported HTML entity "&{name};" at byte offset {self._byte_offset()}'
                    " (only &lt; &gt; &amp; &quot; and numeric entities are supported)"
                )
            char = f"&{name};"
        self._emit(char)

    def handle_charref(self, name: str) -> None:
        self._entity_needs_semicolon("#" + name)
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            char = chr(code)
        except (ValueError, OverflowError):
            raise HtmlParseError(f'Invalid numeric entity "&#{name};" at byte offset {self._byte_offset()}') from None
        self._emit(char)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        offset = self._byte_offset()
        if tag not in _TAG_TYPES:
            raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {offset}')
        attributes = dict(attrs)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        if tag == "tg-emoji" and not attributes.get("emoji-id"):
            raise HtmlParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {offset}')
        self._stack.append(_Open(tag=tag, offset=self._u16, byte_offset=offset, attrs=attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise HtmlParseError(f'Unsupported start tag "{tag}/" at byte offset {self._byte_offset()}')

    def handle_endtag(self, tag: str) -> None:
        offset = self._byte_offset()
        if not self._stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {offset}")
        top = self._stack[-1]
        if top.tag != tag:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {offset}, expected "</{top.tag}>", found "</{tag}>"'
            )
        self._stack.pop()
        length = self._u16 - top.offset
        if length <= 0:
            return
        entity = self._entity(top, length)
        if entity is not None:
            self.entities.append(entity)

    def _entity(self, top: _Open, length: int) -> dict[str, Any] | None:
        kind = _TAG_TYPES[top.tag]
        entity: dict[str, Any] = {"type": kind, "offset": top.offset, "length": length}
        if top.tag == "a":
            href = top.attrs.get("href")
            if not href:
                return None
            entity["url"] = href
        elif top.tag == "tg-emoji":
            entity["custom_emoji_id"] = top.attrs["emoji-id"]
        elif top.tag == "blockquote" and "expandable" in top.attrs:
            entity["type"] = "expandable_blockquote"
        elif top.tag == "code":
            language = (top.attrs.get("class") or "").removeprefix("language-")
            parent = self._stack[-1] if self._stack else None
            if parent is not None and parent.tag == "pre":
                if language:
                    parent.attrs["language"] = language
                return None  # <pre><code class="language-x"> is one "pre" entity
        elif top.tag == "pre" and top.attrs.get("language"):
            entity["language"] = top.attrs["language"]
        return entity

    def _unsupported(self, what: str) -> None:
        raise HtmlParseError(f'Unsupported start tag "{what}" at byte offset {self._byte_offset()}')

    def handle_comment(self, data: str) -> None:
        self._unsupported("!--")

    def handle_decl(self, decl: str) -> None:
        self._unsupported("!" + decl.split(" ", 1)[0])

    def handle_pi(self, data: str) -> None:
        self._unsupported("?")

    def unknown_decl(self, data: str) -> None:
        self._unsupported("![")

    def finish(self) -> None:
        self.close()
        if self._stack:
            raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{self._stack[-1].tag}"')


def trim_message(plain: str, entities: list[dict[str, Any]]) -> ParsedText:
    """Telegram trims leading and trailing whitespace of a message; entities move with the text."""
    stripped = plain.strip()
    if stripped == plain:
        return ParsedText(plain, entities)
    shift = utf16_len(plain[: len(plain) - len(plain.lstrip())])
    limit = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, kept)


def parse_html(text: str, *, strict: bool = True) -> ParsedText:
    """Parse ``text`` like Telegram's HTML parse mode; raise :class:`HtmlParseError` when Telegram would.

    Entity offsets and lengths are in UTF-16 code units, ordered by offset (outer entities first).
    """
    parser = _Parser(text, strict=strict)
    parser.feed(text)
    parser.finish()
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return trim_message(parser.plain, entities)
