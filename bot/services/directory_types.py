"""What the directory's reading and saving return: the problems a recipient phrase can have, what it resolved to,
the one-tap picks, and why a name or member was refused (re-exported by bot.services.directory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from bot.services.slots import (
    Ambiguous,
    NoMatch,
    Slot,
)
from bot.sms.names import (
    Entry,
    NameProblem,
    Unsure,
)
from bot.sms.phone import PhoneProblem
from bot.sms.recipients import Recipient
from bot.storage.directory import Contact

VIA_DUTY = "duty"  # Recipient.via: whoever is on duty ("duty:<group>": a member of the group on duty)
VIA_GROUP = "group:"  # Recipient.via: a member of the group named after it


# --- what can be wrong with a recipient phrase --------------------------------------------------------------
class TooMany(NamedTuple):
    found: int
    limit: int
    more: bool = False  # the list went on past `found`: it was not read further


class NobodyOnDuty(NamedTuple):
    pass


class EmptyGroup(NamedTuple):
    name: str


class BadNumber(NamedTuple):
    problem: PhoneProblem


Problem = NoMatch | Ambiguous | TooMany | NobodyOnDuty | EmptyGroup | BadNumber | Unsure


@dataclass
class Resolved:
    recipients: list[Recipient]
    text: str
    problem: Problem | None = None
    slots: list[Slot] = field(default_factory=list)  # with an Ambiguous problem: what to resume after the choice
    typed_number: bool = False  # one number as typed, nothing else named: the plain /send <number> path


def via_group(name: str) -> str:
    return VIA_GROUP + name


class Pick(NamedTuple):
    """A one-tap recipient at the guided number step: a contact ('c', its id) or a recent send ('s', its id)."""

    kind: Literal["c", "s"]
    id: int
    label: str  # a contact's name; empty for a number (the keyboard shows the number)
    msisdn: str


# --- saving ---------------------------------------------------------------------------------------------------
class Saved(NamedTuple):
    contact: Contact
    before: Contact | None  # None: a new contact; else the one whose number changed


class Refused(NamedTuple):
    """A name that cannot be used: why (a NameProblem, or 'group'/'contact': another kind has it; 'lookalike': it
    only looks like the saved name `name`, in other letters or with invisible ones)."""

    name: str
    why: NameProblem | Literal["group", "contact", "lookalike"]
    typed: str = ""  # 'lookalike': the name as typed


class Locked(NamedTuple):
    """Another's contact or group: only the one who added it (`added_by`) or an admin may change it."""

    name: str
    added_by: int


class MemberProblem(NamedTuple):
    phrase: str
    why: Literal["unknown", "ambiguous", "group", "duty"]
    choices: tuple[Entry, ...] = ()
