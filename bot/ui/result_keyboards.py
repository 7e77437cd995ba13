"""The buttons on a single send's notices: what an operator can do next with this result (issue 17).

Each opens a new preview or asks something; nothing is sent from here. Called in an i18n context.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.gateway.errors import GatewayError
from bot.sms.status import DeliveryStatus, StatusKind
from bot.storage.models import SendRow
from bot.ui.result_callbacks import ResultAction, ResultCb

#: Final statuses after which the SMS can be sent again or to someone else.
NOT_DELIVERED = (StatusKind.REJECTED, StatusKind.EXPIRED, StatusKind.DELETED)


def _labels(check_now: bool = False) -> dict[ResultAction, str]:
    return {
        "retry": _("🔁 Try again"),
        "again": _("📨 Send again"),
        "other": _("👤 Other recipient"),
        "check": _("🔍 Check now") if check_now else _("🔍 Check status"),
    }


def _buttons(row: SendRow, *actions: ResultAction, check_now: bool = False) -> InlineKeyboardMarkup:
    labels = _labels(check_now)
    kb = InlineKeyboardBuilder()
    for action in actions:
        kb.button(text=labels[action], callback_data=ResultCb(action=action, send_id=row.id))
    kb.adjust(1)  # one a row: the labels stay whole on a narrow phone, in both languages
    return kb.as_markup()


#: Gateway codes after which trying the same again cannot help: 5, no money on the account (until it is topped
#: up); 6, the gateway does not take this number (another recipient may help).
NO_CREDITS, INVALID_NUMBER = 5, 6


def _failed_actions(row: SendRow) -> tuple[ResultAction, ...]:
    if row.error_code == NO_CREDITS:
        return ()
    if row.error_code == INVALID_NUMBER:
        return ("other", "retry")
    return ("retry",)


def failed(row: SendRow) -> InlineKeyboardMarkup | None:
    """A gateway error: the SMS certainly did not go out. No money: nothing to press until the account is topped
    up; a number the gateway does not take: 👤 Other recipient first."""
    actions = _failed_actions(row)
    return _buttons(row, *actions) if actions else None


def unknown(row: SendRow) -> InlineKeyboardMarkup:
    """No answer to the send, or no final status within DELIVERY_TRACK_HOURS: it may have gone out."""
    return _buttons(row, "check", "again")


def for_status(row: SendRow) -> list[tuple[str, ResultCb]]:
    """/status of this operator's SMS: what can be done next besides 🔄 Refresh (which checks): 📨 Send again when
    its outcome is unknown, the failure's or the rejection's own buttons when it did not reach the phone."""
    actions: tuple[ResultAction, ...] = ()
    if row.state == "unknown" or (row.state == "accepted" and row.final_at is not None and not row.final):
        actions = ("again",)
    elif row.state == "failed":
        actions = _failed_actions(row)
    elif row.state == "accepted" and row.final and DeliveryStatus(row.status_code or 0, "").kind in NOT_DELIVERED:
        actions = ("again", "other")
    labels = _labels()
    return [(labels[a], ResultCb(action=a, send_id=row.id)) for a in actions]


def not_delivered(row: SendRow) -> InlineKeyboardMarkup:
    """Rejected, expired or deleted."""
    return _buttons(row, "again", "other")


def watchdog(row: SendRow) -> InlineKeyboardMarkup:
    """Still not final DELIVERY_ALERT_MINUTES after it was accepted."""
    return _buttons(row, "check", "again", check_now=True)


def for_delivery(row: SendRow, status: DeliveryStatus | None) -> InlineKeyboardMarkup | None:
    """Under a delivery notice: `status` final, or None when none came within DELIVERY_TRACK_HOURS."""
    if status is None:
        return unknown(row)
    if status.final and status.kind in NOT_DELIVERED:
        return not_delivered(row)
    return None


def for_row(row: SendRow) -> InlineKeyboardMarkup | None:
    """Under an outcome as the send log has it (the press's answer, an outcome told after a restart)."""
    if row.state == "failed":
        return failed(row)
    if row.state == "unknown":
        return unknown(row)
    if row.state == "accepted" and row.final_at is not None:
        final = row.final == 1 and row.status_code is not None
        return for_delivery(row, DeliveryStatus(row.status_code or 0, row.status_name or "") if final else None)
    return None


def for_check(row: SendRow, result: DeliveryStatus | GatewayError | None) -> InlineKeyboardMarkup | None:
    """Under the answer of 🔍 Check status (`result` None: no id is known to ask about)."""
    if result is None:
        return _buttons(row, "again")
    if isinstance(result, DeliveryStatus) and result.final:
        return for_delivery(row, result)
    return unknown(row)
