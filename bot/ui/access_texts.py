"""What the access gate and the admins' access requests say: refusals, revocation, decisions, digests."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.services.access import Refusal


# --- the gate ---------------------------------------------------------------------------------------------
def no_longer_valid() -> str:
    """A press that cannot be acted on (plain text: an alert)."""
    return _("This button is no longer valid.")


def private_only() -> str:
    return _("This bot works in private chats only.")


def no_access(user_id: int) -> str:
    """A stranger's button press (a toast: plain text)."""
    return _("⛔ No access. Your Telegram id: {id}").format(id=user_id)


def revoked(user_id: int, *, plain: bool = False) -> str:
    """To someone whose access an admin took away (`plain`: for an alert, no markup)."""
    text = _("⛔ An admin has taken away your access to this bot. Ask them if you need it back.")
    mark = "{id}" if plain else "<code>{id}</code>"
    return text + "\n" + _("Your Telegram id: {id}").format(id=mark.format(id=user_id))


def declined() -> str:
    """To a stranger, once an admin declined their request."""
    return _("⛔ An admin declined your request for access to this bot.")


def access_withdrawn_draft() -> str:
    return _("✖️ Cancelled: an admin has taken away your access. Nothing was sent.")


def refusal(kind: Refusal, user_id: int) -> str:
    """A stranger's message: who may use the bot, their id, and whether the admins were asked."""
    if kind is Refusal.DECLINED:
        return _(
            "⛔ This bot is only for authorised on-call staff. An admin declined your request.\n"
            "Your Telegram id: <code>{id}</code>"
        ).format(id=user_id)
    return _(
        "⛔ This bot is only for authorised on-call staff.\n"
        "Your Telegram id: <code>{id}</code>\n"
        "The admins have been asked to let you in; you will get a message when they decide."
    ).format(id=user_id)


def already_decided(approved: bool, admin: str) -> str:
    """A press on a request someone decided first (a toast: plain text)."""
    if approved:
        return _("Already decided by {admin}: allowed.").format(admin=admin)
    return _("Already decided by {admin}: denied.").format(admin=admin)


def access_digest(people: list[tuple[str, int]], most: int) -> str:
    """Access requests in one message (`people`: HTML-ready name, id); decided by command."""
    lines = [_("🔔 {count} more access requests:").format(count=len(people))]
    lines += [f"• {who}, id <code>{user_id}</code>" for who, user_id in people[:most]]
    if len(people) > most:
        lines.append(_("… and {count} more.").format(count=len(people) - most))
    lines.append(_("Let someone in with <code>/allow id</code>, refuse with <code>/deny id</code>."))
    return "\n".join(lines)
