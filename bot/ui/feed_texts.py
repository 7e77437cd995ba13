"""The team feed's lines (TEAM_CHAT_ID): who sent, to whom, how many parts, and what became of it — one line
per send, edited as results come. The team chat has no language of its own: DEFAULT_LOCALE."""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.sms.clean import clean_name
from bot.sms.status import DeliveryStatus
from bot.storage.models import SendRow
from bot.ui import via_texts
from bot.ui.texts import snippet, status_icon, status_words, when, whom


def result_words(row: SendRow) -> str:
    """What became of one send, in a few words with an icon."""
    if row.state == "accepted":
        if row.final and row.status_code is not None:
            status = DeliveryStatus(row.status_code, row.status_name or "")
            return f"{status_icon(status)} {status_words(status)}"
        if row.final_at is not None:
            return _("❔ no final status: unknown")
        return _("📤 sent, not delivered yet")
    if row.state == "failed":
        return _("⚠️ not sent: the gateway refused it")
    if row.state == "unknown":
        return _("❔ may or may not have gone out")
    if row.state == "sending":
        return _("⏳ sending")
    return _("✖️ not sent")


def send_line(row: SendRow, who: str, settings: Settings) -> str:
    """`📤 Olga → +7 904 176-49-95 · 1 SMS · 02.12 14:05 — delivered` (and the text when TEAM_FEED_TEXT)."""
    line = _("{who} → {number} · {parts} SMS · {time} — {result}").format(
        who=html.escape(clean_name(who)) or "—",
        number=whom(row),
        parts=row.parts,
        time=when(row.sent_at or row.claimed_at or row.created_at, settings.tz),
        result=result_words(row),
    )
    if settings.team_feed_text and row.erased_at is None:
        line += "\n" + _("“{text}”").format(text=snippet(row.text))
    return line


def batch_line(
    who: str, total: int, tally: Mapping[str, int], settings: Settings, text: str | None = None, via: str | None = None
) -> str:
    """One line for a send to several recipients (issue 17), with its tally: `tally` maps a result — delivered,
    rejected, pending, failed, unknown — to how many recipients it is."""
    words = {
        "delivered": _("✅ {n} delivered"),
        "rejected": _("❌ {n} rejected"),
        "pending": _("📤 {n} not final yet"),
        "failed": _("⚠️ {n} not sent"),
        "unknown": _("❔ {n} unknown"),
    }
    parts = [words[k].format(n=n) for k, n in tally.items() if n and k in words]
    label = via_texts.group_label(via, total)  # every recipient from one group (or the group on duty)
    if label is not None:
        line = _("{who} → {group} — {tally}").format(
            who=html.escape(clean_name(who)) or "—", group=label, tally=", ".join(parts) or "…"
        )
    else:
        line = _("{who} → {total} recipients — {tally}").format(
            who=html.escape(clean_name(who)) or "—", total=total, tally=", ".join(parts) or "…"
        )
    if settings.team_feed_text and text:
        line += "\n" + _("“{text}”").format(text=snippet(text))
    return line


class FeedTexts:
    """The feed's renderer in the team chat's language (built once, handed to the feed service)."""

    def __init__(self, i18n: I18n, settings: Settings) -> None:
        self.i18n = i18n
        self.settings = settings

    @contextmanager
    def _speaking(self) -> Iterator[None]:
        with self.i18n.context(), self.i18n.use_locale(self.settings.default_locale):
            yield

    def send_line(self, row: SendRow, who: str) -> str:
        with self._speaking():
            return send_line(row, who, self.settings)

    def batch_line(
        self, who: str, total: int, tally: Mapping[str, int], text: str | None = None, via: str | None = None
    ) -> str:
        with self._speaking():
            return batch_line(who, total, tally, self.settings, text, via)
