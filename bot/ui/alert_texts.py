"""Alerts from Alertmanager/Grafana as operators and the team feed read them, the SMS to duty they offer, and
the answers of the "📨 SMS to duty" button."""

from __future__ import annotations

import html

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.sms.parts import count_parts
from bot.storage.alerts import AlertRow
from bot.ui.alert_keyboards import alert_keyboard
from bot.ui.speaking import Speaker
from bot.ui.texts import when

SMS_PARTS = 2  # the SMS to duty is cut to this many parts


def sms_to_duty(alertname: str, summary: str, max_parts: int = SMS_PARTS) -> str:
    """`[FIRING] <alertname>: <summary>`, cut (at a word when it can) to `max_parts` SMS parts."""
    text = f"[FIRING] {alertname or 'alert'}: {summary}".strip().rstrip(":")
    text = " ".join(text.split())
    if count_parts(text).parts <= max_parts:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with "..." after it
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


def alert_message(group: AlertRow, settings: Settings) -> str:
    """An alert group for operators and the team feed: status, name, severity, summary, how many alerts."""
    name = html.escape(group.alertname or "—")
    severity = html.escape(group.severity) if group.severity else ""
    if group.status == "firing":
        head = _("🔥 <b>FIRING</b> · {name}").format(name=name)
    else:
        head = _("✅ <b>RESOLVED</b> · {name}").format(name=name)
    lines = [head]
    if severity:
        lines.append(_("Severity: {severity}").format(severity=severity))
    if group.summary:
        lines.append(html.escape(group.summary))
    if group.status == "firing":
        lines.append(
            _("Alerts firing: {firing} of {total} · {time}").format(
                firing=group.firing, total=group.total, time=when(group.received_at, settings.tz)
            )
        )
    else:
        lines.append(_("Resolved {time}").format(time=when(group.resolved_at or group.received_at, settings.tz)))
    return "\n".join(lines)


def sms_to_duty_button() -> str:
    return _("📨 SMS to duty")


def nobody_on_duty() -> str:
    return _(
        "Nobody is on duty, so there is no one to send it to. Set who is on duty with /duty <contact or group>, "
        "e.g. /duty Ivan."
    )


def alert_gone() -> str:
    return _("This alert is no longer known.")


def preparing() -> str:
    return _("Preparing the SMS to duty…")


class AlertTexts(Speaker):
    """The alerts' renderer in a given language (built once, handed to the alert service)."""

    def message(self, group: AlertRow, locale: str) -> str:
        with self._speaking(locale):
            return alert_message(group, self.settings)

    def button(self, locale: str) -> str:
        with self._speaking(locale):
            return sms_to_duty_button()

    def keyboard(self, group_id: int, locale: str) -> InlineKeyboardMarkup:
        """📨 SMS to duty, under the message of alert group `group_id`."""
        return alert_keyboard(group_id, self.button(locale))
