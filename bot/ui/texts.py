"""Renderers: data in, the words a person reads out (HTML, in the current locale).

Everything here is called inside an i18n context: a handler's (set by the locale middleware), or one that
`bot.ui.notices.Notices` opens for a message the bot sends on its own.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
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
from bot.services.limits import HOUR, LimitHit
from bot.services.sending import Outcome
from bot.sms.clean import clean_name
from bot.sms.parts import count_parts
from bot.sms.phone import PhoneProblem, format_phone
from bot.sms.plain import plainer
from bot.sms.recipients import LoneDigit, phone_like_start
from bot.sms.status import DeliveryStatus, StatusKind
from bot.storage.models import Operator, SendRow
from bot.storage.sends import REPLACED
from bot.times import Epoch, moment
from bot.ui import via_texts

SUPPORT_PHONE = "8 800 100-60-03"
EXAMPLE_NUMBER = format_phone("79041764995")  # no-break, as every number the bot shows
SNIPPET = 40  # characters of an SMS text shown in /history
FIRST_WORDS = 30  # characters of an SMS text that name it in a delivery notice


def money(value: Decimal | str | None) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    text = f"{amount:,.2f}".replace(",", "\u00a0")  # no-break: an amount never breaks across lines
    return text[:-3] if text.endswith(".00") else text


def when(at: Epoch | str | None, tz: ZoneInfo) -> str:
    """A stored moment (bot.times) as the team's local day and time."""
    if at is None or at == "":
        return "—"
    return moment(at).astimezone(tz).strftime("%d.%m %H:%M")


def recipient(row: SendRow) -> str:
    """The number an SMS went to, or that it was erased (RETENTION_DAYS)."""
    return format_phone(row.msisdn) if row.erased_at is None else _("number erased")


def whom(row: SendRow) -> str:
    """Whom an SMS went to, as its preview named them: "Ivan Petrov (+7 904 176-49-95)", or the number alone; with
    how it was chosen (issue 23.11): "duty — Ivan Petrov (…)" — in notices and the team feed alike."""
    if row.recipient_name and row.erased_at is None:
        who = f"{html.escape(row.recipient_name)} ({format_phone(row.msisdn)})"
    else:
        who = recipient(row)
    return via_texts.labelled(row.recipient_via, 1, who) if row.erased_at is None else who


def status_words(status: DeliveryStatus) -> str:
    kind = status.kind
    if kind is StatusKind.ACCEPTED:
        return _("with the carrier, not delivered yet")
    if kind is StatusKind.DELIVERED:
        return _("delivered")
    if kind is StatusKind.REJECTED:
        return _("rejected by the carrier")
    if kind is StatusKind.EXPIRED:
        return _("expired: the phone was unreachable")
    if kind is StatusKind.DELETED:
        return _("deleted by the carrier")
    return _("unrecognised status {code} {name}").format(code=status.code, name=html.escape(status.name))


def status_icon(status: DeliveryStatus) -> str:
    return {
        StatusKind.ACCEPTED: "📤",
        StatusKind.DELIVERED: "✅",
        StatusKind.REJECTED: "❌",
        StatusKind.EXPIRED: "⌛",
        StatusKind.DELETED: "❌",
    }.get(status.kind, "❔")


def send_again_if_urgent() -> str:
    """Under every unknown outcome: the next step, said plainly."""
    return _("If it is urgent, send again: at worst they get it twice.")


def gateway_error(exc: GatewayError) -> str:
    """What happened and what to do, in one or two short lines. Never the raw gateway text alone."""
    if isinstance(exc, SendOutcomeUnknown):
        return (
            _(
                "⚠️ The gateway did not answer in time: the SMS may or may not have gone out. It is not resent by "
                "itself; /status shows what becomes known."
            )
            + "\n"
            + send_again_if_urgent()
        )
    if isinstance(exc, GatewayUnavailable):
        return _("⚠️ The SMS gateway cannot be reached right now. Try again in a minute.")
    if isinstance(exc, AuthenticationFailed):
        return _(
            "⛔ The gateway refused the login or password, or the account is locked. "
            "An admin should check SMSKA_API_KEY and SMSKA_API_PASSWORD, or call the provider: {phone}."
        ).format(phone=SUPPORT_PHONE)
    if isinstance(exc, InsufficientCredits):
        return _("💸 Not enough money on the SMS account. Trying again will not help until an admin tops it up.")
    if isinstance(exc, InvalidMsisdn):
        return _("❌ The gateway does not accept this number. Check it, or choose another recipient.")
    if isinstance(exc, InvalidSenderId):
        return _("❌ The gateway does not allow this sender name. Choose another sender.")
    if isinstance(exc, ArgumentValidationFailed):
        return _("❌ The gateway rejected the request as invalid.")
    if isinstance(exc, SendFailed):
        return _("❌ The gateway could not send the SMS. Try again later.")
    return _("❌ The gateway answered with error {code}.").format(code=exc.code)


# --- composing and the preview ------------------------------------------------------------------------------
def phone_problem(problem: PhoneProblem) -> str:
    reasons = {
        PhoneProblem.EMPTY: _("No number given."),
        PhoneProblem.NOT_A_NUMBER: _("That does not look like a phone number."),
        PhoneProblem.TOO_SHORT: _("Too few digits for a phone number."),
        PhoneProblem.TOO_LONG: _("Too many digits for a phone number."),
        PhoneProblem.INTERNATIONAL_PREFIX: _("Start the number with +7 or 8 (not 810 or 00)."),
        PhoneProblem.NOT_RUSSIAN: _("Only Russian mobile numbers can be used."),
        PhoneProblem.NOT_MOBILE: _("This is not a mobile number, and SMS can only go to mobile numbers."),
        PhoneProblem.INVALID: _("This number does not exist in the Russian numbering plan."),
    }
    return (
        "❌ "
        + reasons.get(problem, reasons[PhoneProblem.INVALID])
        + "\n"
        + _("Example: <code>{example}</code>").format(example=EXAMPLE_NUMBER)
    )


def ask_number() -> str:
    return _(
        "📱 Who gets the SMS? Send a number (e.g. <code>{example}</code>) or a contact's name, or share a contact."
    ).format(example=EXAMPLE_NUMBER)


def ask_text(msisdn: str) -> str:
    return _("✏️ To {number}. Now send the text of the SMS.").format(number=format_phone(msisdn))


def text_kept(text: str) -> str:
    """Under a refused number: the text is not lost, only the number is asked again."""
    return _("✏️ I kept the text “{text}”. Send the right number and I will show the preview.").format(
        text=first_words(text)
    )


def lone_digit(found: LoneDigit) -> str:
    """The number is whole only with a lone digit that may be the start of the text: which is it?"""
    return "\n".join(
        [
            _(
                "❓ The number <code>{typed}</code> is one digit short, unless the “{digit}” after it is its last digit."
            ).format(typed=html.escape(found.typed), digit=found.digit),
            _("Is the {digit} part of the number or the start of the text?").format(digit=found.digit),
            "",
            _("📱 to {number}, text “{text}”").format(number=format_phone(found.msisdn), text=first_words(found.text)),
            _("✏️ text “{text}”, and you send the number again").format(text=first_words(found.text_with)),
        ]
    )


def too_long(parts: int, max_parts: int) -> str:
    return _("❌ The text is too long: {parts} SMS. At most {max} are allowed; shorten it and send again.").format(
        parts=parts, max=max_parts
    )


def preview(row: SendRow) -> str:
    parts = count_parts(row.text)
    return "\n".join(
        [
            _("📨 <b>Check before sending</b>"),
            to_line(row),
            _("Sender: {sender}").format(sender=html.escape(row.sender)),
            _("Text: {chars} characters, {parts} SMS").format(chars=parts.chars, parts=parts.parts),
            *plain_note(row.text),
            *via_texts.phone_like_note(phone_like_start(row.text)),
            "",
            f"<blockquote>{html.escape(row.text)}</blockquote>",
        ]
    )


def to_line(row: SendRow) -> str:
    """Whom the preview's SMS goes to: the number, and the contact's name when it was addressed by one."""
    if row.recipient_via:  # a group's member, or whoever is on duty (issue 23.11)
        who = format_phone(row.msisdn)
        if row.recipient_name:
            who = f"{html.escape(row.recipient_name)} ({who})"
        return _("To: {names}").format(names=via_texts.labelled(row.recipient_via, 1, who))
    if row.recipient_name:
        return _("To: {name} ({number})").format(name=html.escape(row.recipient_name), number=format_phone(row.msisdn))
    return _("To: {number}").format(number=format_phone(row.msisdn))


def plain_note(text: str) -> list[str]:
    """Under the length: which characters make the text cost more parts, when plain ones would not."""
    found = plainer(text)
    if found is None:
        return []
    names = ", ".join(_("no-break space") if ch.isspace() else f"<code>{html.escape(ch)}</code>" for ch in found.chars)
    return [
        _("⚠️ Because of {chars}, it costs {was} SMS; with plain characters, {parts}.").format(
            chars=names, was=found.was, parts=found.parts
        )
    ]


def over_limit(hit: LimitHit) -> str:
    """Under a preview that cannot be sent, and as the press's alert (plain text)."""
    if hit.window == HOUR:
        text = _("⛔ Over your limit: {used} of {limit} SMS parts in the last hour are used, this SMS needs {parts}.")
    else:
        text = _(
            "⛔ Over your limit: {used} of {limit} SMS parts in the last 24 hours are used, this SMS needs {parts}."
        )
    return (
        text.format(used=hit.used, limit=hit.limit, parts=hit.parts)
        + " "
        + _("It cannot be sent now; the admins have been told.")
    )


def limit_reached(who: str, user_id: int, hit: LimitHit) -> str:
    """To the admins (`who` is HTML already)."""
    if hit.window == HOUR:
        text = _("⚠️ {who} (id <code>{id}</code>) reached the limit of {limit} SMS parts an hour; their sends are held.")
    else:
        text = _("⚠️ {who} (id <code>{id}</code>) reached the limit of {limit} SMS parts a day; their sends are held.")
    return text.format(who=who, id=user_id, limit=hit.limit)


def outcome(result: Outcome) -> str:
    """The text that replaces the preview once a press was handled."""
    row = result.row
    number = whom(row)
    if result.error is not None:
        if isinstance(result.error, SendOutcomeUnknown):
            return gateway_error(result.error) + "\n" + _("To {number}").format(number=number)
        return "\n".join([gateway_error(result.error), _("Nothing was sent to {number}.").format(number=number)])
    if row.state == "accepted":
        return _(
            "📤 Sent to {number}.\nid <code>{id}</code> · balance left: {balance}\n"
            "I will report the delivery result here."
        ).format(number=number, id=html.escape(row.gateway_id or "—"), balance=money(row.balance_after))
    return draft_state(row)


def closed_preview(row: SendRow) -> str:
    """A preview closed by /cancel or replaced by a newer draft: what it was, and that it can no longer send."""
    number = whom(row)
    if row.error_text == REPLACED:
        head = _("🔁 Replaced by the newer preview below. Nothing was sent to {number}.").format(number=number)
    else:
        head = _("✖️ Cancelled with /cancel. Nothing was sent to {number}.").format(number=number)
    return head + f"\n<s>{snippet(row.text)}</s>"


def draft_state(row: SendRow) -> str:
    """For a press that did not send: what already happened to this draft (plain text: shown in an alert)."""
    number = recipient(row)
    if row.state == "cancelled" and row.error_text == REPLACED:
        return _("This preview was replaced by a newer one. Nothing was sent to {number}.").format(number=number)
    if row.state == "cancelled":
        return _("This SMS to {number} was cancelled. Nothing was sent.").format(number=number)
    if row.state == "sending":
        return _("This SMS to {number} is being sent right now.").format(number=number)
    if row.state == "accepted":
        return _("This SMS to {number} was already sent (id {id}).").format(number=number, id=row.gateway_id)
    if row.state == "failed":
        return _("This SMS to {number} was not sent: the gateway refused it.").format(number=number)
    if row.state == "unknown":
        return (
            _("⚠️ The SMS to {number} may or may not have gone out.").format(number=number)
            + " "
            + send_again_if_urgent()
        )
    return _("This SMS to {number} has not been sent yet.").format(number=number)


def balance_line(amount: Decimal | None) -> str:
    """Under a 'not enough money' outcome; None when the balance could not be read."""
    if amount is None:
        return _("The balance could not be read right now.")
    return _("Balance: {amount}").format(amount=money(amount))


# --- /balance, /status, /history, /users --------------------------------------------------------------------
def balance(amount: Decimal, at: datetime) -> str:
    return _("💰 Balance: <b>{amount}</b> (at {time})").format(amount=money(amount), time=at.strftime("%H:%M"))


def row_state(row: SendRow) -> str:
    if row.state == "accepted" and row.status_code is not None:
        status = DeliveryStatus(row.status_code, row.status_name or "")
        if not row.final and row.final_at is not None:
            return "❔ " + _("no final status (unknown)")
        return f"{status_icon(status)} {status_words(status)}"
    if row.state == "failed":
        return "❌ " + _("not sent (gateway error {code})").format(code=row.error_code if row.error_code else "—")
    if row.state == "unknown":
        return "⚠️ " + _("unknown: may or may not have gone out")
    return "⏳ " + _("sending")


def snippet(text: str) -> str:
    flat = " ".join(text.split())
    return html.escape(flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…")


def first_words(text: str, limit: int = FIRST_WORDS) -> str:
    """The start of an SMS text, cut at a word boundary (escaped): enough to tell one SMS from another."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return html.escape(flat)
    cut = flat[: limit + 1].rsplit(" ", 1)[0] if " " in flat[: limit + 1] else flat[:limit]
    return html.escape(cut.rstrip(",.;:—-") + "…")


def no_history() -> str:
    return _("No SMS sent yet. /send to send one.")


def history_page(
    rows: Iterable[SendRow], page: int, pages: int, tz: ZoneInfo, names: Mapping[int, str] | None = None
) -> str:
    """One page of /history; with `names` (admins), who sent each SMS."""
    lines = [_("📜 SMS sent, newest first (page {page} of {pages}):").format(page=page + 1, pages=pages)]
    for row in rows:
        head = f"<b>{when(row.sent_at or row.created_at, tz)}</b> · {recipient(row)}"
        if names is not None:
            head += " · " + html.escape(clean_name(names.get(row.user_id) or "") or str(row.user_id))
        lines.append("")
        lines.append(head)
        lines.append(f"{row_state(row)}" + (f" · <code>{html.escape(row.gateway_id)}</code>" if row.gateway_id else ""))
        shown = snippet(row.text) if row.erased_at is None else _("text erased")
        lines.append(f"<i>{shown}</i>")
    return "\n".join(lines)


def users(operators: Iterable[Operator], names: Mapping[int, str] | None = None) -> str:
    """/users; `names`: the names people wrote with, for those whose access row has none (admins from
    ADMIN_IDS, `/allow <id>` of someone the bot had not met)."""
    lines = [_("People with access:")]
    for op in operators:
        role = _("admin") if op.is_admin else _("operator")
        known = op.name or (names or {}).get(op.user_id, "")
        name = html.escape(clean_name(known)) if known else _("(name not known yet)")
        lines.append(f"• <code>{op.user_id}</code> {name} — {role}")
    return "\n".join(lines)


# --- the error router ---------------------------------------------------------------------------------------
def storage_not_answering() -> str:
    return _(  # at most 200 characters in any language: it may be a button's alert
        "⚠️ The bot's database is not answering; try again in a minute. "
        "If you were sending an SMS, check /history before trying again."
    )


def storage_unavailable() -> str:
    return _(  # at most 200 characters in any language: it may be a button's alert
        "⚠️ My database is not available right now (read-only, locked or full). Tell an admin. "
        "If you were sending an SMS, check /history before trying again."
    )


def something_went_wrong() -> str:
    return _("⚠️ Something went wrong on my side. If you were sending an SMS, check /history before trying again.")
