"""Sentences used in more than one place: gateway errors and statuses in words, times, numbers.

Everything here is called inside an i18n context (a handler, or `i18n.use_locale` for notices).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.gateway.errors import (
    ArgumentValidationFailed,
    AuthenticationFailed,
    GatewayError,
    GatewayUnavailable,
    InsufficientCredits,
    InvalidMsisdn,
    InvalidSenderId,
    SendFailed,
    SendOutcomeUnknown,
)
from bot.sms.status import DeliveryStatus, StatusKind

SUPPORT_PHONE = "8 800 100-60-03"


def money(value: Decimal | str | None) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    text = f"{amount:,.2f}".replace(",", " ")
    return text[:-3] if text.endswith(".00") else text


def when(iso_utc: str | None, tz: ZoneInfo) -> str:
    if not iso_utc:
        return "—"
    return datetime.fromisoformat(iso_utc).astimezone(tz).strftime("%d.%m %H:%M")


def status_words(status: DeliveryStatus) -> str:
    kind = status.kind
    if kind is StatusKind.ACCEPTED:
        return _("sent to the network, not delivered yet")
    if kind is StatusKind.DELIVERED:
        return _("delivered")
    if kind is StatusKind.REJECTED:
        return _("rejected by the network")
    if kind is StatusKind.EXPIRED:
        return _("expired: the phone was unreachable")
    if kind is StatusKind.DELETED:
        return _("deleted by the network")
    return _("unrecognised status {code} {name}").format(code=status.code, name=status.name)


def status_icon(status: DeliveryStatus) -> str:
    return {
        StatusKind.ACCEPTED: "⏳",
        StatusKind.DELIVERED: "✅",
        StatusKind.REJECTED: "❌",
        StatusKind.EXPIRED: "⌛",
        StatusKind.DELETED: "❌",
    }.get(status.kind, "❔")


def gateway_error(exc: GatewayError) -> str:
    """What happened and what to do, in one or two short lines. Never the raw gateway text alone."""
    if isinstance(exc, SendOutcomeUnknown):
        return _(
            "⚠️ The gateway did not answer in time: the SMS may or may not have gone out. "
            "It will not be resent automatically. Check /status or the provider before sending again."
        )
    if isinstance(exc, GatewayUnavailable):
        return _("⚠️ The SMS gateway cannot be reached right now. Try again in a minute.")
    if isinstance(exc, AuthenticationFailed):
        return _(
            "⛔ The gateway refused the login or password, or the account is locked. "
            "An admin should check SMSKA_API_KEY and SMSKA_API_PASSWORD, or call the provider: {phone}."
        ).format(phone=SUPPORT_PHONE)
    if isinstance(exc, InsufficientCredits):
        return _("💸 Not enough money on the SMS account. Ask an admin to top it up.")
    if isinstance(exc, InvalidMsisdn):
        return _("❌ The gateway does not accept this number. Check the number.")
    if isinstance(exc, InvalidSenderId):
        return _("❌ The gateway does not allow this sender name. Choose another sender.")
    if isinstance(exc, ArgumentValidationFailed):
        return _("❌ The gateway rejected the request as invalid.")
    if isinstance(exc, SendFailed):
        return _("❌ The gateway could not send the SMS. Try again later.")
    return _("❌ The gateway answered with error {code}.").format(code=exc.code)
