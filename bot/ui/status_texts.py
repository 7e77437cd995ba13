"""/status: the words of one SMS's delivery status (split from texts.py, which is long enough)."""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.gateway.errors import GatewayError
from bot.sms.phone import format_phone
from bot.sms.status import DeliveryStatus
from bot.storage.models import SendRow
from bot.ui.texts import first_words, gateway_error, row_state, send_again_if_urgent, status_icon, status_words, when


def describe_status(status: DeliveryStatus) -> str:
    tail = _("final") if status.final else _("not final yet")
    return f"{status_icon(status)} {status_words(status)} ({tail})"


def status_usage() -> str:
    return _("Send the SMS id after the command, for example:\n<code>/status ah1acugxz98a27t9z</code>")


def no_sms_yet() -> str:
    return _("You have not sent any SMS yet. /send to send one.")


def unknown_id(message_id: str) -> str:
    """An id neither the send log nor the gateway knows: a typo, not a gateway fault."""
    text = _("❔ No SMS with id <code>{id}</code> is known. Check the id, or send /status alone for your latest SMS.")
    if message_id != message_id.lower():
        text += "\n" + _("Ids are in lower case: <code>{lower}</code>.").format(lower=html.escape(message_id.lower()))
    return text.format(id=html.escape(message_id))


def status_report(
    message_id: str | None, row: SendRow | None, result: DeliveryStatus | GatewayError | None, tz: ZoneInfo
) -> str:
    """/status: the id, what the send log knows (when it is this operator's), and the status or why it is unknown
    (`result` None: the send log's own state, for a send the gateway has no id of)."""
    lines = [_("SMS <code>{id}</code>").format(id=html.escape(message_id))] if message_id else []
    if row is not None:
        sent = when(row.sent_at or row.created_at, tz)
        lines.append(_("To {number}, sent {time}").format(number=format_phone(row.msisdn), time=sent))
        lines.append(_("“{text}”").format(text=first_words(row.text)))
    if result is None:
        if row is not None:
            lines.append(row_state(row))
            if row.state == "unknown":
                lines.append(send_again_if_urgent())
    elif isinstance(result, DeliveryStatus):
        lines.append(describe_status(result))
    else:
        lines.append(gateway_error(result))
    return "\n".join(lines)


def other_label(row: SendRow, tz: ZoneInfo) -> str:
    """A button for an earlier SMS: when and to whom."""
    return f"{when(row.sent_at or row.created_at, tz)} · {format_phone(row.msisdn)}"
