"""The words of acting on a result (issue 17): the notes of a new preview (the duplicate guard, the first SMS
of 📨 Send again), 👤 Other recipient's question, 🔍 Check status's answer and the watchdog's notice.

Called in an i18n context (a handler's, or one `bot.ui.notices.Notices` opens).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.gateway.errors import GatewayError
from bot.services.results import First
from bot.sms.clean import clean_name
from bot.sms.status import DeliveryStatus
from bot.storage.models import SendRow
from bot.storage.results import SentTo
from bot.times import moment
from bot.ui.status_texts import status_report
from bot.ui.texts import SUPPORT_PHONE, first_words, send_again_if_urgent, status_words, when, whom


def no_longer_valid() -> str:
    """A press on a button that is not this operator's to use (forged, or another's send): plain text."""
    return _("This button is no longer valid.")


def erased() -> str:
    return _("The text and number of this SMS were erased (RETENTION_DAYS): start a new one with /send.")


def new_preview() -> str:
    """The toast of a press that opens a new preview."""
    return _("A new preview is below: nothing is sent until you press Send.")


def unknown_again() -> str:
    """The alert of a batch summary's button for its unknown recipients (plain text: at most 200 characters)."""
    return _(
        "A new preview of those whose SMS may have gone out is below. If it is urgent, send: at worst they get it twice."
    )


def nobody_unknown() -> str:
    return _("Nobody to send again to: every SMS of this send has a known outcome.")


def checking() -> str:
    return _("Asking the gateway…")


# --- the new preview's notes --------------------------------------------------------------------------------
def first_note(first: First) -> str:
    if first is First.MAY_HAVE_GONE:
        return _(
            "⚠️ The first SMS may have gone out: its outcome is unknown. Send this one only if you are sure "
            "the first did not arrive."
        )
    if first is First.NOT_FINAL:
        return _("⚠️ The first SMS is not delivered yet but may still arrive: they may get it twice.")
    return _("ℹ️ The first SMS was delivered.")


def ago(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return _("just now")
    if minutes < 60:
        return _("{minutes} min ago").format(minutes=minutes)
    return _("{hours} h {minutes} min ago").format(hours=minutes // 60, minutes=minutes % 60)


def sent_state(row: SendRow) -> str:
    """What became of an SMS that was sent, in words (no icon: the line has its own)."""
    if row.state == "sending":
        return _("being sent right now")
    if row.state == "unknown":
        return _("unknown: may or may not have gone out")
    if row.final_at is not None and not row.final:
        return _("no final status (unknown)")
    return status_words(DeliveryStatus(row.status_code or 3, row.status_name or "ACCEPTD"))


def duplicate(hit: SentTo, viewer_id: int, window_minutes: float, now: datetime | None = None) -> str:
    """The duplicate guard's line: who sent an SMS to this number, how long ago, and its status."""
    row = hit.row
    at = moment(row.sent_at or row.claimed_at or row.created_at)
    since = ago(((now or datetime.now(UTC)) - at).total_seconds())
    state = sent_state(row)
    if row.user_id == viewer_id:
        line = _("⚠️ You sent an SMS to this number {ago} — {status}").format(ago=since, status=state)
    elif hit.who:
        line = _("⚠️ {who} sent an SMS to this number {ago} — {status}").format(
            who=html.escape(clean_name(hit.who)), ago=since, status=state
        )
    else:
        line = _("⚠️ Someone on the team sent an SMS to this number {ago} — {status}").format(ago=since, status=state)
    if hit.count > 1:
        line += "\n" + _("{count} SMS to this number in the last {minutes} min.").format(
            count=hit.count, minutes=f"{window_minutes:g}"
        )
    return line


def duplicates_in_batch(shown: Sequence[str], window_minutes: float) -> str:
    """A preview to several recipients: those the team already sent an SMS to in the window (names or numbers, as
    stored: escaped here, since a name may hold `<` or `&`)."""
    return _("⚠️ In the last {minutes} min the team already sent SMS to: {who}.").format(
        minutes=f"{window_minutes:g}", who=", ".join(html.escape(name) for name in shown)
    )


def preview_notes(hit: SentTo | None, viewer_id: int, window_minutes: float, first: First | None = None) -> str:
    """What goes under a preview's text: the duplicate guard and the note on the first SMS ('' when none)."""
    notes = [duplicate(hit, viewer_id, window_minutes)] if hit is not None else []
    if first is not None:
        notes.append(first_note(first))
    return "".join("\n\n" + note for note in notes)


# --- 👤 Other recipient, 🔍 Check status ----------------------------------------------------------------------
def ask_other(text: str) -> str:
    """Above the guided number step (with its one-tap recipients): which text is kept."""
    return _("👤 Another recipient for “{text}”.").format(text=first_words(text))


def check_report(row: SendRow, result: DeliveryStatus | GatewayError | None, tz: ZoneInfo) -> str:
    """🔍 Check status: the gateway's answer about this SMS; when the gateway never answered the send (no id to
    ask it about), what is known and what helps: send again if it is urgent, or ask the provider."""
    if result is None:
        return "\n".join(
            [
                _("🔍 The SMS to {number} may or may not have gone out: the gateway never answered it.").format(
                    number=whom(row)
                ),
                _("“{text}”, sent {time}").format(
                    text=first_words(row.text), time=when(row.claimed_at or row.created_at, tz)
                ),
                send_again_if_urgent(),
                _("To know for sure, ask the provider: {phone}.").format(phone=SUPPORT_PHONE),
            ]
        )
    return "🔍 " + status_report(row.gateway_id, row, result, tz)


# --- the watchdog -------------------------------------------------------------------------------------------
def duration(minutes: float) -> str:
    """DELIVERY_ALERT_MINUTES as a person says it: "10 min", "1.5 min"; under a minute, "15 s"."""
    if minutes >= 1:
        return _("{minutes} min").format(minutes=f"{minutes:g}")
    return _("{seconds} s").format(seconds=f"{minutes * 60:.3g}")


def watchdog(send: SendRow, minutes: float, tz: ZoneInfo) -> str:
    """To the operator, once: an accepted SMS still not final DELIVERY_ALERT_MINUTES after it was accepted."""
    return "\n".join(
        [
            _("⏰ Not delivered after {duration}: the SMS to {number}").format(
                duration=duration(minutes), number=whom(send)
            ),
            _("“{text}”, sent {time}").format(text=first_words(send.text), time=when(send.sent_at, tz)),
            _("It is still with the carrier. I keep tracking it and will tell you when it is final."),
        ]
    )
