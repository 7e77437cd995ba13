"""What the bot says on its own — delivery results, restarts, low balance, access requests and decisions — in
the language of whoever it says it to. Built once (bot.app) and handed to the services that speak on their own,
so that they deal in data and never in words or buttons."""

from __future__ import annotations

import html
from decimal import Decimal

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.services.limits import LimitHit
from bot.services.notices import Notice
from bot.sms.clean import clean_name
from bot.sms.phone import format_phone
from bot.sms.status import DeliveryStatus
from bot.storage.models import AccessRequest, SendRow
from bot.times import Epoch
from bot.ui import keyboards, result_keyboards, result_texts
from bot.ui.access_texts import access_digest, access_withdrawn_draft, declined
from bot.ui.speaking import Speaker
from bot.ui.texts import (
    draft_state,
    first_words,
    limit_reached,
    money,
    send_again_if_urgent,
    status_icon,
    status_words,
    when,
    whom,
)

DIGEST_LINES = 30  # requests named in one digest; the rest are counted


def display_name(name: str, username: str | None, user_id: int) -> str:
    label = html.escape(clean_name(name) or str(user_id))
    if username:
        label += f" (@{html.escape(username)})"
    return label


class Notices(Speaker):
    # --- sending and tracking -----------------------------------------------------------------------------
    def delivery(self, locale: str, send: SendRow, status: DeliveryStatus | None, at: Epoch) -> str:
        """The final status of an SMS (None: none came within DELIVERY_TRACK_HOURS), as of `at` (epoch seconds)."""
        with self._speaking(locale):
            number = whom(send)
            gid = html.escape(send.gateway_id or "—")
            if status is None:
                hours = f"{self.settings.delivery_track_hours:g}"
                head = _("❔ No final status for the SMS to {number} after {hours} h: unknown.").format(
                    number=number, hours=hours
                )
            else:
                head = _("{icon} SMS to {number}: {status}.").format(
                    icon=status_icon(status), number=number, status=status_words(status)
                )
            # Which SMS: three notices in a row must not differ by their id alone.
            which = _("“{text}”, sent {time}").format(
                text=first_words(send.text), time=when(send.sent_at or send.created_at, self.settings.tz)
            )
            sent, stamp = when(send.sent_at or send.created_at, self.settings.tz), when(at, self.settings.tz)
            # the time of the status only when it says more than the time sent just above it
            last = (
                _("id <code>{id}</code>").format(id=gid)
                if stamp == sent
                else _("status as of {time} · id <code>{id}</code>").format(time=stamp, id=gid)
            )
            lines = [head, which, last]
            if status is None:  # unknown: the next step, said plainly (📨 Send again is below)
                lines.append(send_again_if_urgent())
            return "\n".join(lines)

    def delivery_actions(
        self, locale: str, send: SendRow, status: DeliveryStatus | None
    ) -> InlineKeyboardMarkup | None:
        """The buttons under a delivery notice (issue 17): what the operator can do next."""
        with self._speaking(locale):
            return result_keyboards.for_delivery(send, status)

    def outcome_actions(self, locale: str, row: SendRow) -> InlineKeyboardMarkup | None:
        """The buttons under an outcome told on its own (after a restart), as the send log has it."""
        with self._speaking(locale):
            return result_keyboards.for_row(row)

    def watchdog(self, locale: str, send: SendRow) -> Notice:
        """An accepted SMS still not final DELIVERY_ALERT_MINUTES after it was accepted, with its buttons."""
        with self._speaking(locale):
            text = result_texts.watchdog(send, self.settings.delivery_alert_minutes, self.settings.tz)
            return Notice(text, result_keyboards.watchdog(send))

    def interrupted(self, locale: str, row: SendRow) -> str:
        """A send a restart cut short: it may or may not have left."""
        with self._speaking(locale):
            return (
                _(
                    "⚠️ The bot restarted while sending the SMS to {number}: it may or may not have gone out. "
                    "It is not resent by itself."
                ).format(number=format_phone(row.msisdn))
                + "\n"
                + send_again_if_urgent()
            )

    def owed_outcome(self, locale: str, row: SendRow) -> str:
        """The outcome of a send its operator did not see before a restart."""
        with self._speaking(locale):
            return draft_state(row)

    def low_balance(self, locale: str, balance: Decimal, threshold: Decimal) -> str:
        with self._speaking(locale):
            return _("💸 Low balance on the SMS account: {amount} (below {threshold}). Top it up soon.").format(
                amount=money(balance), threshold=money(threshold)
            )

    def limit_reached(self, locale: str, user_id: int, name: str, username: str | None, hit: LimitHit) -> str:
        """To the admins: an operator reached a spend limit (once per operator and window)."""
        with self._speaking(locale):
            return limit_reached(display_name(name, username, user_id), user_id, hit)

    # --- access -------------------------------------------------------------------------------------------
    def access_request(self, locale: str, request: AccessRequest) -> Notice:
        """To an admin: who asks, with Approve / Deny."""
        with self._speaking(locale):
            text = _("🔔 Access request from {who}, id <code>{id}</code>.").format(
                who=display_name(request.name, request.username, request.user_id), id=request.user_id
            )
            return Notice(text, keyboards.access_request(request))

    def access_digest(self, locale: str, requests: list[AccessRequest]) -> str:
        """To an admin: the requests that came in while they were being told of another (a flood)."""
        with self._speaking(locale):
            return access_digest(
                [(display_name(r.name, r.username, r.user_id), r.user_id) for r in requests], DIGEST_LINES
            )

    def access_decided(self, locale: str, request: AccessRequest, *, approved: bool, admin: str) -> str:
        """An admin's copy of a request once decided: the outcome and who decided (`admin`: their name)."""
        with self._speaking(locale):
            if approved:
                text = _("✅ {who} (id <code>{id}</code>) was given access by {admin}.")
            else:
                text = _("🚫 {who} (id <code>{id}</code>) was refused access by {admin}.")
            who = display_name(request.name, request.username, request.user_id)
            return text.format(who=who, id=request.user_id, admin=html.escape(admin))

    def draft_withdrawn(self, locale: str) -> str:
        """A revoked person's open preview."""
        with self._speaking(locale):
            return access_withdrawn_draft()

    def access_granted(self, locale: str) -> str:
        """To the person let in."""
        with self._speaking(locale):
            return _("✅ You now have access. Send /help to see what the bot can do.")

    def access_declined(self, locale: str) -> str:
        """To the person whose request an admin declined."""
        with self._speaking(locale):
            return declined()
