"""The words of a send to several recipients: its preview, its progress, its summary, its one ringing notice and
what a restart did to it (HTML, in the current locale; `BatchNotices` opens the operator's for the background)."""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.services.batch_view import BatchView, Fate
from bot.services.limits import LimitHit
from bot.sms.phone import format_phone
from bot.storage.batches import REPLACED, BatchRow, Member
from bot.ui import batch_keyboards
from bot.ui.result_texts import duration
from bot.ui.texts import first_words, over_limit, plain_note, send_again_if_urgent

SHOWN_NAMES = 10  # recipients named in a list; the rest are counted ("and 5 more")


def label(member: Member) -> str:
    """A recipient as a person knows them: the contact's name when it was picked by name, else the number."""
    if not member.msisdn:
        return _("number erased")  # RETENTION_DAYS
    return html.escape(member.name) if member.name else format_phone(member.msisdn)


def with_id(member: Member) -> str:
    """A recipient and the gateway's id of its SMS, when there is one (for /status)."""
    if not member.gateway_id:
        return label(member)
    return _("{who} (id <code>{id}</code>)").format(who=label(member), id=html.escape(member.gateway_id))


def names(members: Sequence[Member], most: int = SHOWN_NAMES) -> str:
    shown = ", ".join(label(m) for m in members[:most])
    if len(members) > most:
        shown += " " + _("and {count} more").format(count=len(members) - most)
    return shown


def preview(view: BatchView, hit: LimitHit | None = None) -> str:
    batch = view.batch
    chars = len(batch.text)
    lines = [
        _("📨 <b>Check before sending: {count} recipients</b>").format(count=len(view.members)),
        _("To: {names}").format(names=names(view.members)),
        _("Sender: {sender}").format(sender=html.escape(batch.sender)),
        _("Text: {chars} characters, {parts} SMS each; {total} SMS in all").format(
            chars=chars, parts=batch.parts, total=view.total_parts
        ),
        *plain_note(batch.text),
        "",
        f"<blockquote>{html.escape(batch.text)}</blockquote>",
    ]
    if hit is not None:
        lines += ["", over_limit(hit)]
    return "\n".join(lines)


def closed(batch: BatchRow) -> str:
    """A batch preview closed by its Cancel button, by /cancel, or by a newer preview of the same SMS."""
    if batch.cancel_reason == REPLACED:
        head = _("🔁 Replaced by the newer preview below. Nothing was sent.")
    elif batch.cancel_reason:
        head = _("✖️ Cancelled with /cancel. Nothing was sent.")
    else:
        head = _("✖️ Cancelled. Nothing was sent.")
    return head + f"\n<s>{html.escape(first_words(batch.text))}</s>"


def press_refused(batch: BatchRow) -> str:
    """For a press that did not send (plain text: shown in an alert)."""
    if batch.state == "cancelled" and batch.cancel_reason == REPLACED:
        return _("This preview was replaced by a newer one. Nothing was sent.")
    if batch.state == "cancelled":
        return _("This send was cancelled. Nothing was sent.")
    return _("This send has already gone out: each recipient gets one SMS. See the summary.")


def expired(hours: float) -> str:
    return _("⌛ Expired: this preview is older than {hours} h. Nothing was sent. Send it again with /send.").format(
        hours=f"{hours:g}"
    )


def _head(view: BatchView) -> str:
    return _("📨 SMS to {count} recipients: “{text}”").format(
        count=len(view.members), text=html.escape(first_words(view.batch.text))
    )


def progress(view: BatchView) -> str:
    done = len(view.members) - view.count(Fate.QUEUED, Fate.SENDING)
    return "\n".join(
        [
            _head(view),
            _("📤 <b>Sending {done}/{count}</b>…").format(done=done, count=len(view.members)),
        ]
    )


def summary_lines(view: BatchView) -> list[str]:
    groups: dict[Fate, list[Member]] = {}
    for member, kind in view.fates():
        groups.setdefault(kind, []).append(member)

    def line(kind: Fate, words: str, with_names: bool = True) -> list[str]:
        members = groups.get(kind, [])
        if not members:
            return []
        text = words.format(count=len(members))
        return [text + (" — " + names(members) if with_names else "")]

    def unknown() -> list[str]:
        """Named with their ids where there are ids; then the next step, said plainly (their own button)."""
        members = groups.get(Fate.UNKNOWN, [])
        if not members:
            return []
        shown = ", ".join(with_id(m) for m in members[:SHOWN_NAMES])
        if len(members) > SHOWN_NAMES:
            shown += " " + _("and {count} more").format(count=len(members) - SHOWN_NAMES)
        head = _("❔ Unknown, may have gone out: {count}").format(count=len(members))
        return [head + " — " + shown, send_again_if_urgent()]

    return [
        *line(Fate.DELIVERED, _("✅ Delivered: {count}"), with_names=False),
        *line(Fate.PENDING, _("📤 Not final yet: {count}")),
        *line(Fate.REJECTED, _("❌ Rejected, expired or deleted: {count}")),
        *line(Fate.FAILED, _("⛔ Failed to send: {count}")),
        *unknown(),
        *line(Fate.QUEUED, _("⏳ Not sent yet: {count}")),
        *line(Fate.SENDING, _("⏳ Being sent: {count}")),
    ]


def summary(view: BatchView) -> str:
    foot = _("All final.") if view.all_final else _("Updated as results come in.")
    sender = _("Sender: {sender}").format(sender=html.escape(view.batch.sender))
    return "\n".join([_head(view), sender, "", *summary_lines(view), "", f"<i>{foot}</i>"])


def ringing(view: BatchView, minutes: float) -> str:
    if view.batch.notice_kind == "watchdog":
        head = _("🔔 <b>Not every SMS is final {duration} after sending.</b>").format(duration=duration(minutes))
    elif view.count(Fate.DELIVERED) == len(view.members):
        head = _("🔔 <b>Delivered to everyone.</b>")
    else:
        head = _("🔔 <b>Every SMS is final; not everyone got it.</b>")
    return head + "\n" + _head(view) + "\n\n" + "\n".join(summary_lines(view))


def restarted(view: BatchView, in_flight: Sequence[Member], queued: int) -> str:
    lines = [_("🔄 The bot restarted while sending.") + " " + _head(view)]
    if queued:
        lines.append(_("Not sent yet before the restart: {count}; they are being sent now.").format(count=queued))
    if in_flight:
        lines.append(
            _("Being sent at the restart, may or may not have gone out, not resent: {names}.").format(
                names=names(in_flight)
            )
            + " "
            + send_again_if_urgent()
        )
    return "\n".join(lines)


def summary_markup(view: BatchView) -> InlineKeyboardMarkup | None:
    return batch_keyboards.summary(view.batch, len(view.to_resend()), len(view.unknown()))


class BatchNotices:
    """The batch's words for what the bot says on its own, in the operator's language."""

    def __init__(self, i18n: I18n, alert_minutes: float) -> None:
        self.i18n = i18n
        self.alert_minutes = alert_minutes

    @contextmanager
    def _speaking(self, locale: str) -> Iterator[None]:
        with self.i18n.context(), self.i18n.use_locale(locale):
            yield

    def board(self, locale: str, view: BatchView) -> tuple[str, InlineKeyboardMarkup | None]:
        """The batch's message: progress while it sends, then the summary (with Resend when some failed)."""
        with self._speaking(locale):
            if view.sending:
                return progress(view), None
            return summary(view), summary_markup(view)

    def ringing(self, locale: str, view: BatchView) -> tuple[str, InlineKeyboardMarkup | None]:
        with self._speaking(locale):
            return ringing(view, self.alert_minutes), summary_markup(view)

    def restarted(self, locale: str, view: BatchView, in_flight: Sequence[Member], queued: int) -> str:
        with self._speaking(locale):
            return restarted(view, in_flight, queued)
