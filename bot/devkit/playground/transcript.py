"""The playground's texts: the bot's messages, edits and deletes as transcript lines (numbered buttons,
``(was: ...)`` after an edit), the help lines and the table of the sandbox's magic numbers."""

from __future__ import annotations

from bot.devkit.sandbox import MAGIC_NUMBERS, MagicNumber
from bot.devkit.telegram.models import BotEvent, MessageVersion, reply_keyboard_rows

from .constants import DELIVERY_DELAY, FINAL_WORDS, INDENT, STRANGER_NAME


def describe_magic(magic: MagicNumber) -> str:
    """One short line: what the sandbox does with a magic recipient number."""
    if magic.error is not None or not magic.statuses:
        return magic.description
    first = magic.statuses[0]
    last = magic.statuses[-1]
    start = "accepted" if first[1] == 3 else f"status {first[1]}|{first[2]}"
    if len(magic.statuses) == 1:
        return f"{start} ({first[1]}|{first[2]}), never final"
    words = FINAL_WORDS.get(last[1], "final")
    return f"{start}, then {words} ({last[1]}|{last[2]}) ~{DELIVERY_DELAY * last[0]:g} s later"


def magic_lines() -> list[str]:
    lines = [f"Sandbox recipients: any other number is delivered ~{DELIVERY_DELAY:g} s after the send; these are not:"]
    lines.extend(f"  {magic.msisdn}  {describe_magic(magic)}" for magic in MAGIC_NUMBERS.values())
    return lines


def hint_lines() -> list[str]:
    return [
        "Type a message or /command (try /start, /balance, /send +7 904 176-49-95 Hello, /send, /history);",
        "  a number (1, 2 ...) presses that button of the last message with buttons;",
        "  :contact +79041764995 shares a contact (the number, when /send asks for it);",
        "  the address book starts empty: /contact Ivan +7 904 176-49-95, /contacts, /duty Ivan, /groups;",
        f"  :stranger switches to {STRANGER_NAME}, a second person who has no access (you, the admin, get the access",
        "  request); :me switches back; :say TEXT sends TEXT as is (:say 1);",
        "  :alert [SEVERITY] [NAME] posts a sample firing alert from Alertmanager (:alert critical; :resolve [NAME]",
        "  resolves it): ✋ I'm on it takes it, ↩️ lets it go; the team feed's chat shows up as «team bot: ...»;",
        "  /escalation 3 duty, 6 +7 916 123-45-67 sets a ladder whose minutes are seconds here: after :alert,",
        "  watch the auto-SMS go out (:wait 10), or ✋ to stop the next step;",
        "  :wait waits for the delivery notices, :wait 20 for 20 seconds (the watchdog speaks up after 15 s);",
        "  :help shows this again; :quit (or Ctrl-D) leaves.",
    ]


def _first_line(text: str, limit: int = 60) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _changed_line(old: str, new: str) -> str:
    """The first line of ``old`` that ``new`` does not have in its place (what an edit changed first)."""
    new_lines = [line.strip() for line in new.splitlines() if line.strip()]
    for index, line in enumerate(part.strip() for part in old.splitlines() if part.strip()):
        if index >= len(new_lines) or new_lines[index] != line:
            return _first_line(line)
    return _first_line(old)


def _block(head: str, text: str) -> list[str]:
    """``head`` + the first line of ``text``, the other lines indented under it (blank lines stay blank)."""
    lines = text.splitlines() or [""]
    return [head + lines[0], *[INDENT + line if line.strip() else "" for line in lines[1:]]]


def _button_lines(version: MessageVersion) -> list[str]:
    lines: list[str] = []
    number = 0
    markup = version.reply_markup or {}
    for row in markup.get("inline_keyboard", []):
        cells = []
        for button in row:
            number += 1
            label = f"[{number}] {button.get('text', '')}"
            if "url" in button:
                label += f" <{button['url']}>"
            cells.append(label)
        lines.append(INDENT + "  ".join(cells))
    for row in reply_keyboard_rows(version.reply_markup) or []:
        cells = []
        for text in row:
            number += 1
            cells.append(f"[{number}] «{text}»")
        lines.append(INDENT + "⌨ " + "  ".join(cells))
    return lines


def render_event(event: BotEvent) -> list[str]:
    """A bot event as transcript lines: a new message, an edit (with what it said before) or a delete."""
    version = event.version
    if event.kind == "delete":
        return [f"bot: 🗑 deleted: {_first_line(version.plain)}"]
    if event.kind == "message":
        return [*_block("bot: ", version.plain), *_button_lines(version)]
    lines = _block("bot: ✏️ edited: ", version.plain)
    versions = event.message.versions
    index = next((i for i, v in enumerate(versions) if v is version), -1)
    if index > 0 and versions[index - 1].plain != version.plain:
        lines.append(f"{INDENT}(was: {_changed_line(versions[index - 1].plain, version.plain)})")
    return [*lines, *_button_lines(version)]
