"""The escalation ladder (issue 28) as people read it: /escalation's answers, the team feed's line of a change, the
auto-SMS lines under an alert ("📨 Auto-SMS to Olga (duty), 03:17 — delivered"), the admins' note on the cap."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot import times
from bot.services.escalation import Shown
from bot.services.escalation_ladder import MAX_MINUTES, MAX_STEPS, LadderProblem
from bot.sms.phone import format_phone
from bot.storage.escalation import Step
from bot.ui.speaking import Speaker
from bot.ui.via_texts import DUTY_GROUP, GROUP, VIA_DUTY


def example() -> str:
    command = _("/escalation 5 duty, 15 Admins, 30 +7 904 176-49-95")
    return _("Example: {example}").format(example=f"<code>{html.escape(command)}</code>")


def _steps(steps: Sequence[Step]) -> list[str]:
    return [
        _("{n}. after {minutes} min — {who}").format(n=n, minutes=s.minutes, who=html.escape(s.recipient))
        for n, s in enumerate(steps, 1)
    ]


def ladder(steps: Sequence[Step], severities: Sequence[str], is_admin: bool) -> str:
    """/escalation: the ladder, and which alerts escalate."""
    if not steps:
        lines = [_("🪜 Escalation is off: alerts send no SMS by themselves.")]
        if is_admin:
            lines += [_("Set the steps: minutes after the alert first fired, then whom to send an SMS."), example()]
        return "\n".join(lines)
    which = ", ".join(html.escape(s) for s in severities) or "—"
    lines = [
        _("🪜 <b>Escalation</b>: when an alert ({severities}) fires and nobody takes it, an SMS goes to").format(
            severities=which
        )
    ]
    lines += _steps(steps)
    lines.append(_("✋ Taking the alert or its resolution stops the steps not yet due."))
    if is_admin:
        lines.append(_("Change: /escalation <i>minutes recipient, …</i> · turn off: /escalation off"))
    return "\n".join(lines)


def ladder_set(steps: Sequence[Step]) -> str:
    return "\n".join([_("✅ Escalation set:"), *_steps(steps)])


def ladder_off() -> str:
    return _("✅ Escalation is off: alerts send no SMS by themselves.")


def admins_only() -> str:
    return _("Only an admin may change the escalation. /escalation shows it.")


def problem(found: LadderProblem) -> str:
    piece = html.escape(found.piece)
    if found.why == "too_many":
        head = _("❌ At most {count} steps.").format(count=MAX_STEPS)
    elif found.why == "minutes":
        head = _("❌ “{step}”: at most {minutes} minutes.").format(step=piece, minutes=MAX_MINUTES)
    elif found.why == "recipient":
        head = _("❌ “{who}” is not duty, a contact, a group or a phone number.").format(who=piece)
    elif piece:
        head = _("❌ “{step}”: each step is minutes, then a recipient.").format(step=piece)
    else:
        head = _("❌ Each step is minutes, then a recipient, steps separated by commas.")
    return head + "\n" + example()


def feed_set(who: str, steps: Sequence[Step]) -> str:
    shown = "; ".join(_("{minutes} min — {who}").format(minutes=s.minutes, who=html.escape(s.recipient)) for s in steps)
    return _("🪜 {who} set the escalation: {steps}.").format(who=html.escape(who), steps=shown)


def feed_off(who: str) -> str:
    return _("🪜 {who} turned the escalation off.").format(who=html.escape(who))


def sender() -> str:
    """Who sent an auto-SMS, in /history."""
    return _("escalation")


def _whom(shown: Shown) -> str:
    row = shown.auto.send
    who = html.escape(row.recipient_name) if row.recipient_name else format_phone(row.msisdn)
    via = row.recipient_via or ""
    if via == VIA_DUTY:
        return _("{who} (duty)").format(who=who)
    if via.startswith(DUTY_GROUP):
        return _("{who} (duty, 👥 {group})").format(who=who, group=html.escape(via[len(DUTY_GROUP) :]))
    if via.startswith(GROUP):
        return f"{who} (👥 {html.escape(via[len(GROUP) :])})"
    return who


def _result(kind: str) -> str:
    return {
        "delivered": _("delivered"),
        "rejected": _("not delivered"),
        "failed": _("not sent"),
        "unknown": _("unknown whether it went out"),
    }.get(kind, _("sent, waiting for delivery"))


def auto_line(shown: Shown, tz: ZoneInfo) -> str:
    row = shown.auto.send
    at = datetime.fromtimestamp(times.seconds(row.created_at), tz).strftime("%H:%M")
    return _("📨 Auto-SMS to {whom}, {time} — {result}").format(whom=_whom(shown), time=at, result=_result(shown.kind))


def cap_reached(cap: int) -> str:
    return _(
        "🪜 Escalation reached its limit of {cap} auto-SMS in an hour (ESCALATION_SMS_PER_HOUR): further steps "
        "are not sent until the hour passes. Take the alerts (✋) or page people yourself."
    ).format(cap=cap)


class EscalationTexts(Speaker):
    def lines(self, shown: Sequence[Shown], locale: str) -> list[str]:
        with self._speaking(locale):
            return [auto_line(s, self.settings.tz) for s in shown]

    def cap_reached(self, locale: str, cap: int) -> str:
        with self._speaking(locale):
            return cap_reached(cap)
