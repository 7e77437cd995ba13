"""Alerts from Alertmanager/Grafana as operators and the team feed read them, the SMS to duty they offer, the
answers of the "📨 SMS to duty" button, and a storm's digest."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot import times
from bot.config import Settings
from bot.sms.parts import fit
from bot.storage.alerts import AlertRow
from bot.times import Epoch
from bot.ui.alert_keyboards import alert_keyboard
from bot.ui.speaking import Speaker
from bot.ui.texts import first_words, when

SMS_PARTS = 2  # the SMS to duty is cut to this many parts
DIGEST_NAMES = 25  # alert names a digest lists before "… and N more"
DIGEST_CHARS = 1500  # and at most this many characters of them (a message holds 4,096)


def sms_to_duty(alertname: str, summary: str, max_parts: int = SMS_PARTS) -> str:
    """`[FIRING] <alertname>: <summary>`, cut (at a word when it can) to `max_parts` SMS parts."""
    text = f"[FIRING] {alertname or 'alert'}: {summary}".strip().rstrip(":")
    return fit(text, max_parts)


def alert_message(
    group: AlertRow,
    settings: Settings,
    actor: str | None = None,
    taker: str | None = None,
    extra: Sequence[str] = (),
) -> str:
    """An alert group for operators and the team feed: status, name, severity, summary, how many alerts, who is
    on it (✋ `taker`: their name, and since when), who sent its SMS to duty (`actor`: their name) and when, then
    `extra` lines as given (HTML, already worded: the escalation's auto-SMS lines go here)."""
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
    if taker is not None and group.taken_at is not None and group.status == "firing":
        lines.append(_("✋ {who}, {time}").format(who=html.escape(taker), time=clock(group.taken_at, settings)))
    if actor is not None and group.acted_at is not None:
        lines.append(
            _("📨 SMS to duty already sent · {who}, {time}").format(
                who=html.escape(actor), time=when(group.acted_at, settings.tz)
            )
        )
    lines.extend(extra)
    return "\n".join(lines)


def clock(at: int | str, settings: Settings) -> str:
    """A stored moment as the hour and minute in TZ ("03:12")."""
    return times.moment(at).astimezone(settings.tz).strftime("%H:%M")


def digest(groups: Sequence[AlertRow], started_at: Epoch, settings: Settings) -> str:
    """A storm's digest: how many of its groups still fire, their names (bounded), how many resolved since."""
    firing = [g for g in groups if g.status == "firing"]
    resolved = len(groups) - len(firing)
    since = when(started_at, settings.tz)
    if not firing:
        return _("✅ <b>Resolved: every alert group of the burst ({total})</b> · since {time}").format(
            total=len(groups), time=since
        )
    lines = [_("🔥 <b>{count} more alert groups firing</b> · since {time}").format(count=len(firing), time=since)]
    names = Counter(g.alertname or "—" for g in firing)
    shown: list[str] = []
    size = 0
    for name, count in names.most_common():
        item = html.escape(name[:60]) + (f" ×{count}" if count > 1 else "")
        if len(shown) >= DIGEST_NAMES or size + len(item) > DIGEST_CHARS:
            break
        shown.append(item)
        size += len(item) + 2
    line = ", ".join(shown)
    left = len(names) - len(shown)
    if left:
        line += " " + _("… and {count} more").format(count=left)
    lines.append(line)
    if resolved:
        lines.append(_("✅ Resolved since: {count}").format(count=resolved))
    lines.append(_("<i>Too many at once to post one by one: this message keeps itself current.</i>"))
    return "\n".join(lines)


def closed_preview(group: AlertRow, text: str, settings: Settings) -> str:
    """A preview opened from an alert that resolved before its Send press: it can no longer send."""
    head = _("✅ The alert {name} resolved at {time}. This SMS was not sent.").format(
        name=html.escape(group.alertname or "—"), time=when(group.resolved_at or group.received_at, settings.tz)
    )
    return head + f"\n<s>{first_words(text)}</s>"


def resolved_press(group: AlertRow, settings: Settings) -> str:
    """📨 on the message of a group that has resolved (plain text: shown in an alert)."""
    return _("✅ This alert resolved at {time}: there is nothing to send.").format(
        time=when(group.resolved_at or group.received_at, settings.tz)
    )


def sms_to_duty_button(acted: bool = False) -> str:
    return _("📨 Another SMS to duty") if acted else _("📨 SMS to duty")


def take_button(mine: bool) -> str:
    """✋ beside 📨; the one who took the group sees ↩️ instead."""
    return _("↩️ Let go") if mine else _("✋ I'm on it")


def take_answer(kind: str, group: AlertRow | None, holder: str | None, settings: Settings) -> str:
    """The answer to a ✋ or ↩️ press (plain text, short: a toast)."""
    if kind == "taken":
        return _("✋ You're on it: everyone sees it.")
    if kind == "mine":
        return _("✋ You're already on it.")
    if kind == "released":
        return _("↩️ You let it go: anyone can take it now.")
    if kind == "free":
        return _("Nobody is on it now.")
    if kind == "other" and group is not None and group.taken_at is not None:
        return _("✋ {who} is already on it, since {time}.").format(
            who=holder or "—", time=clock(group.taken_at, settings)
        )
    if kind == "resolved" and group is not None:
        return resolved_taken(group, settings)
    return alert_gone()


def resolved_taken(group: AlertRow, settings: Settings) -> str:
    """✋ or ↩️ on the message of a group that has resolved (plain text)."""
    return _("✅ This alert resolved at {time}: there is nothing to take.").format(
        time=when(group.resolved_at or group.received_at, settings.tz)
    )


def nobody_on_duty(can_pick: bool) -> str:
    """The recipient step 📨 opens when nobody is on duty (the alert's text is kept)."""
    if can_pick:
        return _(
            "🧑‍🚒 Nobody is on duty. Tap a contact: they become on duty and the SMS preview opens.\n"
            "Or type a number or a name: the SMS goes to them, and nobody is made on duty."
        )
    return _("🧑‍🚒 Nobody is on duty. Type a number or a contact's name to send it to.")


def text_kept(text: str) -> str:
    """The SMS to duty, in full (it is at most 2 parts), under the recipient step."""
    return _("✏️ The text: “{text}”").format(text=html.escape(text))


def made_on_duty(name: str) -> str:
    """The toast of a pick (plain text)."""
    return _("On duty now: {name}").format(name=name)


def already_on_duty(names: str) -> str:
    """A pick pressed after someone else set duty (plain text): nothing changed, the SMS goes to them."""
    return _("Already on duty: {names}").format(names=names)


def now_on_duty(name: str) -> str:
    """The picks' question once one was tapped."""
    return _("🧑‍🚒 On duty now: {name}.").format(name=html.escape(name))


def alert_gone() -> str:
    return _("This alert is no longer known.")


def preparing() -> str:
    return _("Preparing the SMS to duty…")


class AlertTexts(Speaker):
    """The alerts' renderer in a given language (built once, handed to the alert service)."""

    def message(
        self,
        group: AlertRow,
        locale: str,
        actor: str | None = None,
        taker: str | None = None,
        extra: Sequence[str] = (),
    ) -> str:
        with self._speaking(locale):
            return alert_message(group, self.settings, actor, taker, extra)

    def markup(self, group: AlertRow, locale: str, mine: bool = False) -> InlineKeyboardMarkup:
        """📨 and ✋ (↩️ for `mine`: the reader took the group)."""
        with self._speaking(locale):
            label = sms_to_duty_button(acted=group.acted_at is not None)
            return alert_keyboard(group.id, label, take_button(mine), mine)

    def digest(self, groups: Sequence[AlertRow], started_at: Epoch, locale: str) -> str:
        with self._speaking(locale):
            return digest(groups, started_at, self.settings)

    def closed_preview(self, group: AlertRow, text: str, locale: str) -> str:
        with self._speaking(locale):
            return closed_preview(group, text, self.settings)
