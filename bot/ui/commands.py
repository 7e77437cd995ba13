"""The bot's commands, once: the phone's menu (setMyCommands) and /help are both read from this table."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import BotCommand
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from babel.support import LazyProxy


@dataclass(frozen=True, slots=True)
class Usage:
    """One line of /help: `/<command> <args> — <does>`."""

    does: LazyProxy
    args: LazyProxy | None = None


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    menu: LazyProxy  # its description in the phone's menu
    usage: tuple[Usage, ...] = ()  # its lines in /help; none: in the menu only
    admin: bool = False  # admins only: their menu and /help add it


#: In the order both the menu and /help show them.
COMMANDS = (
    Command(
        "send",
        __("Send an SMS"),
        (
            Usage(__("send an SMS (step by step)")),
            Usage(__("send in one message"), __("<i>number text</i>")),
            Usage(__("to a contact, a group or whoever is on duty"), __("<i>name text</i>, duty <i>text</i>")),
            Usage(__("to several at once"), __("<i>name, number, group text</i>")),
            Usage(__("send a saved template"), __("<i>number</i> #<i>name</i>")),
        ),
    ),
    Command("contacts", __("The team's contacts"), (Usage(__("the team's contacts (send, add)")),)),
    Command(
        "contact",
        __("Save or show a contact"),
        (
            Usage(__("save a contact or change its number"), __("<i>name number</i>")),
            Usage(__("show one contact"), __("<i>name</i>")),
        ),
    ),
    Command("groups", __("Groups of recipients"), (Usage(__("groups of recipients")),)),
    Command(
        "group",
        __("Make or show a group"),
        (
            Usage(__("make or replace a group"), __("<i>name</i>: <i>member, member</i>")),
            Usage(__("show one group"), __("<i>name</i>")),
        ),
    ),
    Command(
        "duty",
        __("Who is on duty"),
        (Usage(__("who is on duty")), Usage(__("set who is on duty"), __("<i>name</i>"))),
    ),
    Command(
        "rotation",
        __("Duty rotation"),
        (
            Usage(__("who is on duty now and next")),
            Usage(__("set a rotation"), __("<i>name, name</i> weekly Mon 10:00")),
            Usage(__("turn it off"), __("off")),
        ),
    ),
    Command(
        "escalation",
        __("SMS by itself when nobody takes an alert"),
        (
            Usage(__("the escalation ladder")),
            Usage(__("set it (admins)"), __("5 duty, 15 <i>group</i>, 30 <i>number</i>")),
            Usage(__("turn it off (admins)"), __("off")),
        ),
    ),
    Command("templates", __("Saved SMS texts"), (Usage(__("the team's saved SMS texts")),)),
    Command(
        "template",
        __("Save or show a template"),
        (
            Usage(__("save or replace a template"), __("<i>name</i>: <i>text</i>")),
            Usage(__("show a template"), __("<i>name</i>")),
        ),
    ),
    Command("balance", __("Balance of the SMS account"), (Usage(__("money left on the SMS account")),)),
    Command("status", __("Delivery status of an SMS"), (Usage(__("delivery status of an SMS"), __("<i>id</i>")),)),
    Command("history", __("Latest SMS"), (Usage(__("your latest SMS")),)),
    Command("language", __("Русский / English"), (Usage(__("Русский / English")),)),
    Command("cancel", __("Stop what you are doing"), (Usage(__("stop what you are doing")),)),
    Command("help", __("What the bot can do")),
    Command("users", __("Who has access"), (Usage(__("who has access")),), admin=True),
    Command("allow", __("Give access: /allow id"), (Usage(__("give access"), __("<i>id</i>")),), admin=True),
    Command("deny", __("Take access away: /deny id"), (Usage(__("take access away"), __("<i>id</i>")),), admin=True),
)


def menu(is_admin: bool) -> list[BotCommand]:
    """The phone's command menu (in the current locale)."""
    return [BotCommand(command=c.name, description=str(c.menu)) for c in COMMANDS if is_admin or not c.admin]


def _lines(admin: bool) -> list[str]:
    return [
        f"/{c.name}" + (f" {u.args}" if u.args is not None else "") + f" — {u.does}"
        for c in COMMANDS
        if c.admin == admin
        for u in c.usage
    ]


_HELP: dict[tuple[str, str, bool], str] = {}  # (catalogs, locale, admin) -> /help


def help_text(is_admin: bool) -> str:
    """/help (in the current locale); admins also get theirs. Made once per catalog, language and kind of person: it
    is the same text every time, and its thirty translated lines cost more than the rest of a /help update."""
    i18n = get_i18n()
    key = (str(i18n.path), i18n.current_locale, is_admin)
    text = _HELP.get(key)
    if text is None:
        text = _HELP[key] = _help_text(is_admin)
    return text


def _help_text(is_admin: bool) -> str:
    text = "\n\n".join(
        [
            _("📨 I send SMS through the smska.net gateway and tell you when each one is delivered."),
            "\n".join(_lines(admin=False)),
            _(
                "Example: <code>/send +7 904 176-49-95 Server db1 is down</code>\n"
                "Nothing goes out until you press “Send” under the preview."
            ),
        ]
    )
    if is_admin:
        text += "\n\n" + "\n".join([_("Admin:"), *_lines(admin=True)])
    return text
