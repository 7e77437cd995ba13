"""Duty by schedule (issue 29), in words: `/rotation`, `/duty` with where duty comes from, the team feed's
handoff line and the admins' word when the calendar cannot be read."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime

from bot.services.schedule import OnDuty, RotationProblem, RotationView
from bot.sms.names import Entry
from bot.sms.phone import format_phone
from bot.sms.recipients import Recipient
from bot.sms.rotation import When
from bot.ui.contact_texts import name, recipients, typed
from bot.ui.speaking import Speaker


def _locale() -> str:
    try:
        return get_i18n().current_locale
    except LookupError:
        return "en"


def moment(ts: float | None, tz: ZoneInfo) -> str:
    """`Mon 10:00`, with the date when it is not within the next six days: `Mon 14.12 10:00`."""
    if ts is None:
        return "—"
    local = datetime.fromtimestamp(ts, UTC).astimezone(tz)
    now = datetime.now(tz)
    pattern = "EEE HH:mm" if 0 <= (local - now).total_seconds() < 6 * 86400 else "EEE dd.MM HH:mm"
    return format_datetime(local, pattern, locale=_locale())


def entry(found: Entry | None, msisdn: str | None = None) -> str:
    if found is None:
        return format_phone(msisdn) if msisdn else "—"
    return ("👥 " if found.kind == "group" else "👤 ") + name(found.name)


def when_words(when: When) -> str:
    at = f"{when.minute // 60:02d}:{when.minute % 60:02d}"
    if when.kind == "weekly":
        day = format_datetime(datetime(2024, 1, 1 + when.weekday), "EEEE", locale=_locale())
        return _("every week, {day} at {time}").format(day=day, time=at)
    if when.kind == "daily":
        return _("every day at {time}").format(time=at)
    return _("every {hours} h from {time}").format(hours=when.hours, time=at)


def source_words(source: str) -> str:
    return {
        "override": _("override until the next handoff"),
        "calendar": _("from the team's calendar"),
        "rotation": _("from the rotation"),
        "hand": _("set by hand"),
    }[source]


def on_duty(now: OnDuty | None, found: Sequence[Recipient], set_by: str, tz: ZoneInfo) -> str:
    """`/duty`: who, since, until, who next, and where it comes from."""
    if now is None or not found:
        return "\n".join([_("🤷 Nobody is on duty."), _("Set it: <code>/duty name</code> or <code>/rotation</code>")])
    who = entry(now.entry, now.msisdn)
    if now.entry is not None and now.entry.kind == "group":
        who += ": " + recipients(found)
    lines = [_("🧑‍🚒 On duty: {who}").format(who=who), "· " + source_words(now.source)]
    if now.source in ("hand", "override") and set_by:
        lines[-1] += " — " + html.escape(set_by)
    lines.append(_("Since {since}").format(since=moment(now.since, tz)))
    if now.until is not None:
        lines[-1] += " · " + _("until {until}").format(until=moment(now.until, tz))
    if now.next is not None:
        lines.append(_("Next: {who}").format(who=entry(now.next)))
    lines.append(_("SMS to them: <code>/send duty text</code>"))
    return "\n".join(lines)


def override_set(found: Sequence[Recipient], who: Entry | None, until: float, tz: ZoneInfo) -> str:
    shown = entry(who) + (": " + recipients(found) if who is not None and who.kind == "group" else "")
    if who is None:
        shown = recipients(found)
    return _("✅ On duty until the next handoff ({until}): {who}. Then the schedule takes over again.").format(
        until=moment(until, tz), who=shown
    )


def rotation_view(view: RotationView | None, tz: ZoneInfo) -> str:
    if view is None:
        return "\n".join(
            [
                _("🔄 No rotation is set."),
                _("Example: {example}").format(
                    example="<code>" + _("/rotation Ivan, Olga weekly Mon 10:00") + "</code>"
                ),
            ]
        )
    lines = [
        _("🔄 Rotation {when}: {members}").format(
            when=when_words(view.when), members=", ".join(name(m.name) for m in view.members) or "—"
        )
    ]
    now = view.now
    if now is not None:
        lines.append(
            _("Now: {who}, until {until}").format(who=entry(now.entry, now.msisdn), until=moment(now.until, tz))
        )
        if now.source != "rotation":
            lines[-1] += " (" + source_words(now.source) + ")"
        if now.next is not None:
            lines.append(_("Next: {who}").format(who=entry(now.next)))
    lines.append(_("Turn it off: <code>/rotation off</code>"))
    return "\n".join(lines)


def rotation_problem(problem: RotationProblem) -> str:
    if problem.why == "unknown":
        head = _("🤷 No contact or group named “{phrase}”. Add it first: <code>/contact name number</code>").format(
            phrase=typed(problem.phrase)
        )
    elif problem.why == "members":
        head = _("❌ Name who takes turns: contacts or groups, separated by commas.")
    elif problem.why == "hours":
        head = _("❌ A turn lasts from 1 to 168 hours.")
    elif problem.why == "day":
        head = _("❌ Name the day as Mon, Tue … Sun.")
    else:
        head = _("❌ Say when duty passes on: weekly Mon 10:00, daily 09:00 or every 12h from 08:00.")
    example = _("/rotation Ivan, Olga weekly Mon 10:00")
    return head + "\n" + _("Example: {example}").format(example=f"<code>{example}</code>")


def rotation_off(was: bool) -> str:
    if was:
        return _("✅ Rotation turned off. Who is on duty now: /duty")
    return _("There was no rotation.")


class ScheduleNotices(Speaker):
    """What the schedule says on its own: the handoff line in the team feed, a word to the admins."""

    def handoff(self, now: OnDuty) -> str:
        with self._speaking(self.settings.default_locale):
            text = _("🔄 On duty now: {who}").format(who=entry(now.entry, now.msisdn))
            if now.until is not None:
                text += ", " + _("until {until}").format(until=moment(now.until, self.settings.tz))
            if now.source == "override":
                text += " (" + source_words(now.source) + ")"
            return text

    def calendar(self, locale: str, failing: str | None) -> str:
        with self._speaking(locale):
            if failing is None:
                return _("📅 The duty calendar is read again: duty follows it.")
            return _(
                "📅 The duty calendar cannot be read ({why}). Duty stays as it was last read; I will say when it "
                "works again."
            ).format(why=html.escape(failing))
