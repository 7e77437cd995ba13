"""What a person reads about contacts, recipients by name and duty (HTML, in the current locale).

Names are the team's own words: always escaped, so `<b>` in a name is shown as typed, never parsed.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.services.directory import (
    Ambiguous,
    EmptyGroup,
    MemberProblem,
    NobodyOnDuty,
    NoMatch,
    Problem,
    Refused,
    Saved,
    TooMany,
)
from bot.sms.clean import clean_name
from bot.sms.names import MAX_NAME, Entry, NameProblem, name_problem
from bot.sms.phone import format_phone
from bot.sms.recipients import Recipient
from bot.storage.directory import Contact, Duty
from bot.ui.texts import EXAMPLE_NUMBER, first_words, phone_problem, text_kept, when

SHOWN = 10  # recipients named in full; the rest as "and N more"


def typed(phrase: str) -> str:
    """What a person typed, echoed: one line, no control characters, at most a name's length (escaped)."""
    flat = clean_name(phrase)
    return html.escape(flat if len(flat) <= MAX_NAME else flat[: MAX_NAME - 1] + "…")


def name(text: str) -> str:
    return "<b>" + html.escape(text) + "</b>"


def number(msisdn: str) -> str:
    return format_phone(msisdn)


def contact_line(contact: Contact) -> str:
    return f"{name(contact.name)} — {number(contact.msisdn)}"


def recipient(r: Recipient) -> str:
    return f"{name(r.name)} ({number(r.msisdn)})" if r.name else number(r.msisdn)


def recipients(found: Sequence[Recipient]) -> str:
    shown = ", ".join(recipient(r) for r in found[:SHOWN])
    if len(found) > SHOWN:
        shown += " " + _("and {count} more").format(count=len(found) - SHOWN)
    return shown


def example_name() -> str:
    """The example name in the current locale (a Russian reader sees a Russian name)."""
    return _("Ivan Petrov")


def example_contact(phrase: str | None = None) -> str:
    phrase = clean_name(example_name() if phrase is None else phrase)
    shown = phrase if name_problem(phrase) is None else example_name()
    return "<code>/contact " + html.escape(shown) + " " + EXAMPLE_NUMBER + "</code>"


def contact_usage() -> str:
    return "\n".join(
        [
            _("📒 Save a contact: the name, then the number."),
            _("Example: {example}").format(example=example_contact()),
            _("/contact <i>name</i> shows one; /contacts lists them all."),
        ]
    )


def name_refused(refused: Refused) -> str:
    why = refused.why
    if why is NameProblem.EMPTY:
        head = _("❌ The name is empty.")
    elif why is NameProblem.TOO_LONG:
        head = _("❌ The name is too long: {chars} characters, at most {max}.").format(
            chars=len(refused.name), max=MAX_NAME
        )
    elif why is NameProblem.NUMBER:
        head = _("❌ A name cannot be a phone number: write the name first, then the number.")
    elif why is NameProblem.RESERVED:
        head = _("❌ “{name}” means whoever is on duty (/duty): choose another name.").format(name=typed(refused.name))
    elif why is NameProblem.PUNCTUATION:
        head = _("❌ A name cannot contain a comma or a colon, or start with # or /.")
    elif why == "group":
        head = _("❌ There is already a group named {name} (/group {plain}): choose another name.").format(
            name=name(refused.name), plain=html.escape(refused.name)
        )
    else:
        head = _("❌ There is already a contact named {name} (/contact {plain}): choose another name.").format(
            name=name(refused.name), plain=html.escape(refused.name)
        )
    return head + "\n" + _("Example: {example}").format(example=example_contact())


def saved(result: Saved, typed: str) -> str:
    contact, before = result.contact, result.before
    if before is None:
        return _("✅ Saved: {contact}. Send an SMS: <code>/send {plain} text</code>").format(
            contact=contact_line(contact), plain=html.escape(contact.name)
        )
    text = _("✅ Updated: {name} — {number} (was {old}).").format(
        name=name(contact.name), number=number(contact.msisdn), old=number(before.msisdn)
    )
    if typed != contact.name:
        text = _("{name} already exists (names ignore case): its number is updated.").format(name=name(contact.name))
        text += "\n" + _("✅ Updated: {name} — {number} (was {old}).").format(
            name=name(contact.name), number=number(contact.msisdn), old=number(before.msisdn)
        )
    return text


def card(contact: Contact, added_by: str, tz: ZoneInfo) -> str:
    return "\n".join(
        [
            "👤 " + contact_line(contact),
            _("Added by {who}, {when}").format(who=html.escape(added_by), when=when(contact.added_at, tz)),
        ]
    )


def contacts_page(contacts: Sequence[Contact], page: int, pages: int) -> str:
    head = _("📒 Contacts (page {page} of {pages}):").format(page=page + 1, pages=pages)
    return "\n".join([head, *("• " + contact_line(c) for c in contacts)])


def no_contacts() -> str:
    return _("📒 No contacts yet. Add one with ➕ Add or in one message: {example}").format(example=example_contact())


def several_contacts(phrase: str) -> str:
    return _("🔎 Several contacts start with “{phrase}”: which one?").format(phrase=typed(phrase))


def ask_name(taken: str | None = None) -> str:
    ask = _("👤 The contact's name? For example: <code>{example}</code>").format(example=example_name())
    if taken is None:
        return ask
    return _("“{name}” cannot be used as it is (it is taken or not a name).").format(name=typed(taken)) + "\n" + ask


def ask_contact_number(contact_name: str, existing: Contact | None) -> str:
    if existing is not None:
        return _("{name} is already saved ({number}). Send a new number to update it, or /cancel.").format(
            name=name(existing.name), number=number(existing.msisdn)
        )
    return _("📱 The number of {name}? Type it (e.g. <code>{example}</code>) or share a contact.").format(
        name=name(contact_name), example=EXAMPLE_NUMBER
    )


def add_hint() -> str:
    return _("I need the contact's name as a plain message. /cancel to stop.")


def locked(shown: str, added_by: str) -> str:
    """Another's contact or group: nothing changed."""
    return _("🔒 Only {who}, who added {name}, or an admin can change it. Nothing was changed.").format(
        who=html.escape(added_by), name=name(shown)
    )


def not_yours(added_by: str) -> str:
    """Plain text: an alert."""
    return _("Only {who}, who added it, or an admin can delete it.").format(who=added_by)


def shared(contact_name: str, msisdn: str) -> str:
    who = name(contact_name) + " — " if contact_name else ""
    return _("📇 {who}{number}: send an SMS or save the contact?").format(who=who, number=number(msisdn))


# --- recipients by name --------------------------------------------------------------------------------------
def ask_number_or_pick() -> str:
    return _("Or tap one below.")


def ask_text_for(found: Sequence[Recipient]) -> str:
    return _("✏️ To {recipients}. Now send the text of the SMS.").format(recipients=recipients(found))


def choose(problem: Ambiguous) -> str:
    return _("🔎 Several names start with “{phrase}”: which one?").format(phrase=typed(problem.phrase))


def choice_label(entry: Entry) -> str:
    return ("👥 " if entry.kind == "group" else "👤 ") + entry.name


def no_match(phrase: str) -> str:
    return "\n".join(
        [
            _("🤷 No contact or group named “{phrase}”, and it is not a phone number.").format(phrase=typed(phrase)),
            _("Add it: {example}, or send the number.").format(example=example_contact(phrase)),
        ]
    )


def no_contact(phrase: str) -> str:
    """/contact <name> that names nobody."""
    return _("🤷 No contact named “{phrase}”. Save one: {example}").format(
        phrase=typed(phrase), example=example_contact(phrase)
    )


def too_many(problem: TooMany) -> str:
    if problem.more:
        return _(
            "❌ The list goes on past {count} recipients: at most {limit} in one send. I stopped reading there. "
            "Nothing was sent; split the list."
        ).format(count=problem.found, limit=problem.limit)
    return _("❌ That is {count} recipients: at most {limit} in one send. Nothing was sent; split the list.").format(
        count=problem.found, limit=problem.limit
    )


def kept_under(found: Problem, text: str) -> str:
    """Under a recipient problem: the text is kept; what to send next (a shorter list, when it was too long)."""
    if isinstance(found, TooMany):
        return _(
            "✏️ I kept the text “{text}”. Send a shorter list (at most {limit}) and I will show the preview."
        ).format(text=first_words(text), limit=found.limit)
    return text_kept(text)


def nobody_on_duty() -> str:
    return _("🤷 Nobody is on duty. Set who is: <code>/duty {example}</code>").format(example=example_name())


def nobody_on_duty_plain() -> str:
    """Plain text: an alert."""
    return _("🤷 Nobody is on duty now. Set who is: /duty name")


def empty_group(group_name: str) -> str:
    return _("🤷 The group {name} has no members. Set them: <code>/group {plain}: Ivan, Olga</code>").format(
        name=name(group_name), plain=html.escape(group_name)
    )


def problem(found: Problem) -> str:
    """Why a recipient phrase gave no recipients (not Ambiguous: that one gets buttons)."""
    if isinstance(found, NoMatch):
        return no_match(found.phrase)
    if isinstance(found, TooMany):
        return too_many(found)
    if isinstance(found, NobodyOnDuty):
        return nobody_on_duty()
    if isinstance(found, EmptyGroup):
        return empty_group(found.name)
    if isinstance(found, Ambiguous):
        return choose(found)
    return phone_problem(found.problem)


def member_problem(found: MemberProblem, command: str) -> str:
    """A recipient in /group or /duty that cannot be used; `command`: the example's command."""
    phrase = typed(found.phrase)
    if found.why == "ambiguous":
        names = ", ".join(name(e.name) for e in found.choices[:SHOWN])
        head = _("🔎 “{phrase}” could be {names}: write the whole name.").format(phrase=phrase, names=names)
    elif found.why == "group":
        head = _("❌ “{phrase}” is a group: a group's members are contacts and numbers.").format(phrase=phrase)
    elif found.why == "duty":
        head = _("❌ “{phrase}” means whoever is on duty: name a contact, a group or a number.").format(phrase=phrase)
    else:
        head = _("🤷 No contact named “{phrase}”, and it is not a phone number.").format(phrase=phrase)
    return head + "\n" + _("Example: {example}").format(example=f"<code>{command}</code>")


# --- duty ------------------------------------------------------------------------------------------------------
def duty_now(duty: Duty | None, found: Sequence[Recipient], set_by: str, tz: ZoneInfo) -> str:
    if duty is None or not found:
        return nobody_on_duty()
    if duty.group is not None:
        who = "👥 " + name(duty.group.name) + ": " + recipients(found)
    else:
        who = "👤 " + recipients(found)
    return "\n".join(
        [
            _("🧑‍🚒 On duty: {who}").format(who=who),
            _("Set by {who}, {when}").format(who=html.escape(set_by), when=when(duty.set_at, tz)),
            _("SMS to them: <code>/send duty text</code> · change: <code>/duty name</code>"),
        ]
    )


def duty_set(found: Sequence[Recipient], group_name: str | None) -> str:
    who = ("👥 " + name(group_name) + ": " if group_name else "") + recipients(found)
    return _("✅ On duty now: {who}. <code>/send duty text</code> reaches them.").format(who=who)
