"""What a person reads when a recipient list is unclear (issue 23.1) or a name is not found (23.8): the
question, with buttons for the closest names and "It is the text" (HTML, in the current locale)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.utils.i18n import gettext as _

from bot.services.directory import NoMatch
from bot.sms.names import Unsure
from bot.sms.phone import format_phone
from bot.sms.recipients import Recipient
from bot.storage.directory import Duty
from bot.ui import contact_texts
from bot.ui.contact_texts import example_contact, recipients, typed
from bot.ui.texts import phone_problem


def unsure(question: Unsure, so_far: Sequence[Recipient]) -> str:
    """A recipient the text seems to start with: a typo, a number that is not one, or a second number."""
    phrase = typed(question.phrase)
    if question.kind == "number":
        head = _("🤔 Is “{phrase}” another recipient, or the start of the text?").format(phrase=phrase)
    elif question.kind == "bad_number":
        head = _("🤔 “{phrase}” is not a phone number: a typo, or the start of the text?").format(phrase=phrase)
        if question.problem is not None:
            head += "\n" + phone_problem(question.problem)
        head += "\n" + _("A typo: send the command again with the right number.")
    elif question.choices:
        head = _("🤔 “{phrase}” is not a contact: a typo, or the start of the text?").format(phrase=phrase)
    else:
        head = _("🤔 “{phrase}” is neither a contact nor a number: a recipient, or the start of the text?").format(
            phrase=phrase
        )
    lines = [head]
    if so_far:
        lines.append(_("On the list so far: {recipients}").format(recipients=recipients(so_far)))
    return "\n".join(lines)


def did_you_mean(found: NoMatch) -> str:
    """A name not found, with the closest names as buttons."""
    return "\n".join(
        [
            _("🤷 No contact or group named “{phrase}”. Did you mean one of these?").format(phrase=typed(found.phrase)),
            _("Or add it: {example}").format(example=example_contact(found.phrase)),
        ]
    )


def number_label(msisdn: str) -> str:
    return "👤 " + format_phone(msisdn)


def no_contact(phrase: str, digits: str | None, near: bool) -> str:
    """`/contact <name>` that names nobody: trailing digits that are not a number said so (`/contact Вася 123`),
    the closest names offered as buttons (`near`), else how to save one."""
    if digits is not None:
        lines = [
            _("🤷 “{digits}” is not a phone number, and no contact is named “{phrase}”.").format(
                digits=typed(digits), phrase=typed(phrase)
            )
        ]
        lines.append(_("Save a contact: {example}").format(example=example_contact(phrase[: -len(digits)].strip())))
    elif not near:
        return contact_texts.no_contact(phrase)
    else:
        lines = [_("🤷 No contact named “{phrase}”.").format(phrase=typed(phrase))]
    if near:
        lines.append(_("Did you mean one of these?"))
    return "\n".join(lines)


def duty_button(duty: Duty) -> str:
    """The guided number step's first button: whoever is on duty, by name (plain text: a button)."""
    if duty.group is not None:
        return _("🧑‍🚒 On duty: 👥 {group}").format(group=duty.group.name)
    who = duty.contact.name if duty.contact is not None else format_phone(duty.msisdn or "")
    return _("🧑‍🚒 On duty: {who}").format(who=who)


def nobody_on_duty() -> str:
    """A toast (plain text): 🧑‍🚒 pressed when nobody is on duty any more."""
    return _("🤷 Nobody is on duty now. Set who is: /duty")
