"""Whom a send goes to: numbers, the team's contacts and groups, and whoever is on duty (issues 16 and 17).

`Directory.read` turns what a person typed after /send into recipients and the text (or says what is wrong:
no such name, several names to choose from, nobody on duty, too many recipients); everything else here keeps
the address book. It returns data; the handlers render it (bot/ui/contact_texts.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from bot.sms.names import (
    Book,
    Entry,
    Item,
    NameProblem,
    clean_contact_name,
    name_key,
    name_problem,
    read_one,
    read_recipients,
    went_on,
)
from bot.sms.phone import PhoneProblem
from bot.sms.recipients import Recipient
from bot.storage.db import Database
from bot.storage.directory import Contact, Duty, Group, Member, NameTaken, NotYours

if TYPE_CHECKING:
    from bot.services.schedule import DutySchedule

RECENT = 3  # the guided number step offers this operator's latest recipients…
MOST_USED = 3  # …and up to this many more of the team's most used contacts
LIST_MARGIN = 10  # a recipient list is read up to MAX_RECIPIENTS + this many phrases (duplicates count), no further
CHOICES_KEPT = 20  # of the names a phrase could mean, those kept for the choice (the keyboard shows as many)


# --- what can be wrong with a recipient phrase --------------------------------------------------------------
class NoMatch(NamedTuple):
    phrase: str


class Ambiguous(NamedTuple):
    phrase: str
    choices: tuple[Entry, ...]


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


Problem = NoMatch | Ambiguous | TooMany | NobodyOnDuty | EmptyGroup | BadNumber
#: One recipient phrase once read: its recipients, or the choice still to make.
Slot = list[Recipient] | Ambiguous


@dataclass
class Resolved:
    recipients: list[Recipient]
    text: str
    problem: Problem | None = None
    slots: list[Slot] = field(default_factory=list)  # with an Ambiguous problem: what to resume after the choice
    typed_number: bool = False  # one number as typed, nothing else named: the plain /send <number> path


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
    """A name that cannot be used: why (a NameProblem, or 'group'/'contact': another kind has it)."""

    name: str
    why: NameProblem | Literal["group", "contact"]


class Locked(NamedTuple):
    """Another's contact or group: only the one who added it (`added_by`) or an admin may change it."""

    name: str
    added_by: int


class MemberProblem(NamedTuple):
    phrase: str
    why: Literal["unknown", "ambiguous", "group", "duty"]
    choices: tuple[Entry, ...] = ()


def slots_to_data(slots: list[Slot]) -> list[Any]:
    """Slots as JSON for the FSM (a choice survives a restart)."""
    out: list[Any] = []
    for slot in slots:
        if isinstance(slot, Ambiguous):
            kept = slot.choices[:CHOICES_KEPT]  # the FSM row stays small however many names match
            out.append({"phrase": slot.phrase, "choices": [[e.kind, e.id, e.name] for e in kept]})
        else:
            out.append([[r.msisdn, r.name] for r in slot])
    return out


def slots_from_data(data: Any) -> list[Slot] | None:
    """None when `data` is not what `slots_to_data` wrote (an old or foreign state)."""
    if not isinstance(data, list):
        return None
    slots: list[Slot] = []
    try:
        for raw in data:
            if isinstance(raw, dict):
                choices = tuple(Entry(str(k), int(i), str(n)) for k, i, n in raw["choices"])  # type: ignore[arg-type]
                slots.append(Ambiguous(str(raw["phrase"]), choices))
            else:
                slots.append([Recipient(str(m), None if n is None else str(n)) for m, n in raw])
    except (KeyError, TypeError, ValueError):
        return None
    return slots


class Directory:
    def __init__(self, db: Database, max_recipients: int, schedule: DutySchedule | None = None) -> None:
        self.db = db
        self.repo = db.directory
        self.max_recipients = max_recipients
        self.schedule = schedule  # duty by rotation or calendar (issue 29); None: duty as set by hand

    # --- reading a recipient phrase ----------------------------------------------------------------------
    async def read(self, args: str) -> Resolved:
        """`/send <r1>, <r2>, ... <text>` (or what the guided number step got)."""
        reading = read_recipients(args, Book([]))  # a plain number (the common case) needs no address book
        if not (len(reading.items) == 1 and reading.items[0].msisdn is not None and not reading.comma):
            most = self.max_recipients + LIST_MARGIN
            reading = read_recipients(args, await self.repo.book(), most=most)
            if went_on(reading, most):
                return Resolved([], "", TooMany(most, self.max_recipients, more=True))
        if not reading.items:
            if reading.problem is not None:
                return Resolved([], reading.text, BadNumber(reading.problem), typed_number=True)
            first = args.split()[0] if args.split() else ""
            rest = args.strip()[len(first) :].strip()  # the text as typed, line breaks kept
            return Resolved([], rest, NoMatch(first))
        slots: list[Slot] = []
        for item in reading.items:
            slot = await self._slot(item)
            if isinstance(slot, NobodyOnDuty | EmptyGroup | NoMatch):
                return Resolved([], reading.text, slot)
            slots.append(slot)
        typed = len(reading.items) == 1 and reading.items[0].msisdn is not None
        resolved = self.finish(slots, reading.text)
        resolved.typed_number = typed
        return resolved

    def finish(self, slots: list[Slot], text: str) -> Resolved:
        """Recipients once every slot is known (else the first choice to make); duplicates once; the cap."""
        for slot in slots:
            if isinstance(slot, Ambiguous):
                return Resolved([], text, slot, slots)
        seen: set[str] = set()
        recipients: list[Recipient] = []
        for slot in slots:
            assert not isinstance(slot, Ambiguous)
            for r in slot:
                if r.msisdn not in seen:
                    seen.add(r.msisdn)
                    recipients.append(r)
        if len(recipients) > self.max_recipients:
            return Resolved([], text, TooMany(len(recipients), self.max_recipients))
        return Resolved(recipients, text)

    async def choose(self, slots: list[Slot], index: int, text: str) -> Resolved | None:
        """The person picked choice `index` of the first open choice; None when there is no such choice."""
        for n, slot in enumerate(slots):
            if isinstance(slot, Ambiguous):
                if not 0 <= index < len(slot.choices):
                    return None
                expanded = await self._slot(Item(slot.phrase, entries=(slot.choices[index],)))
                if isinstance(expanded, NobodyOnDuty | EmptyGroup | NoMatch):
                    return Resolved([], text, expanded)
                if isinstance(expanded, Ambiguous):  # pragma: no cover - one entry is never ambiguous
                    return None
                return self.finish([*slots[:n], expanded, *slots[n + 1 :]], text)
        return None

    async def _slot(self, item: Item) -> Slot | NobodyOnDuty | EmptyGroup | NoMatch:
        if item.msisdn is not None:
            return [Recipient(item.msisdn)]
        if item.duty:
            on_duty = await self.duty_recipients()
            return on_duty if on_duty else NobodyOnDuty()
        if len(item.entries) > 1:
            return Ambiguous(item.phrase, item.entries)
        found = await self.expand(item.entries[0])
        return NoMatch(item.phrase) if found == [] else found  # deleted meanwhile

    async def expand(self, entry: Entry) -> list[Recipient] | EmptyGroup:
        if entry.kind == "contact":
            contact = await self.repo.contact(entry.id)
            return [] if contact is None else [Recipient(contact.msisdn, contact.name)]
        members = await self.repo.members(entry.id)
        if not members:
            return EmptyGroup(entry.name)
        return [Recipient(m.msisdn, m.name) for m in members]

    async def recipients_of_contact(self, contact_id: int) -> list[Recipient]:
        contact = await self.repo.contact(contact_id)
        return [] if contact is None else [Recipient(contact.msisdn, contact.name)]

    async def recipients_of_group(self, group_id: int) -> list[Recipient]:
        return [Recipient(m.msisdn, m.name) for m in await self.repo.members(group_id)]

    # --- duty --------------------------------------------------------------------------------------------
    async def duty(self) -> Duty | None:
        return await self.repo.duty()

    async def duty_recipients(self) -> list[Recipient]:
        """Whoever is on duty now (a group: its members); empty when nobody is."""
        if self.schedule is not None:
            on_duty = await self.schedule.now()
            if on_duty is None:
                return []
            if on_duty.entry is not None:
                found = await self.expand(on_duty.entry)
                return [] if isinstance(found, EmptyGroup) else found
            return [Recipient(on_duty.msisdn)] if on_duty.msisdn else []
        duty = await self.repo.duty()
        if duty is None:
            return []
        if duty.contact is not None:
            return [Recipient(duty.contact.msisdn, duty.contact.name)]
        if duty.group is not None:
            return await self.recipients_of_group(duty.group.id)
        return [Recipient(duty.msisdn)] if duty.msisdn else []

    async def duty_item(self, phrase: str) -> Item | MemberProblem:
        """What `/duty <recipient>` names: one contact, group or number."""
        item = read_one(phrase, await self.repo.book())
        if item is None:
            return MemberProblem(phrase, "unknown")
        if item.duty:
            return MemberProblem(phrase, "duty")
        if len(item.entries) > 1:
            return MemberProblem(phrase, "ambiguous", item.entries)
        return item

    async def set_duty(self, phrase: str, by: int) -> Item | MemberProblem:
        """`/duty <recipient>`: one contact, group or number."""
        item = await self.duty_item(phrase)
        if isinstance(item, MemberProblem):
            return item
        if item.msisdn is not None:
            await self.repo.set_duty(by, msisdn=item.msisdn)
        elif item.entries[0].kind == "contact":
            await self.repo.set_duty(by, contact_id=item.entries[0].id)
        else:
            await self.repo.set_duty(by, group_id=item.entries[0].id)
        return item

    # --- contacts ----------------------------------------------------------------------------------------
    async def save_contact(
        self, raw_name: str, msisdn: str, by: int, is_admin: bool = False
    ) -> Saved | Refused | Locked:
        name = clean_contact_name(raw_name)
        problem = name_problem(name)
        if problem is not None:
            return Refused(name, problem)
        try:
            contact, before = await self.repo.save_contact(name, msisdn, by, is_admin=is_admin)
        except NotYours as locked:
            return Locked(await self._shown_name(name), locked.added_by)
        except NameTaken as taken:
            return Refused(await self._shown_name(name), "group" if taken.kind == "group" else "contact")
        return Saved(contact, before)

    async def find_contacts(self, phrase: str) -> list[Contact]:
        """`/contact <name>`: the contact of that name (any case), else those whose names start with it."""
        book = await self.repo.book()
        exact = book.exact(phrase)
        if exact is not None and exact.kind == "contact":
            found = await self.repo.contact(exact.id)
            return [found] if found else []
        contacts = [await self.repo.contact(e.id) for e in book.prefixed(phrase) if e.kind == "contact"]
        return [c for c in contacts if c is not None]

    async def _shown_name(self, name: str) -> str:
        """The name as saved (`name` in another case finds it)."""
        entry = (await self.repo.book()).exact(name)
        return entry.name if entry is not None else name

    async def name_taken(self, phrase: str) -> bool:
        return (await self.repo.book()).exact(phrase) is not None

    async def group_named(self, phrase: str) -> Group | None:
        entry = (await self.repo.book()).exact(phrase)
        return await self.repo.group(entry.id) if entry is not None and entry.kind == "group" else None

    async def may_change(self, contact: Contact | Group, user_id: int, is_admin: bool) -> bool:
        return is_admin or contact.added_by == user_id

    async def may_delete(self, contact: Contact | Group, user_id: int, is_admin: bool) -> bool:
        return is_admin or contact.added_by == user_id

    # --- groups ------------------------------------------------------------------------------------------
    async def save_group(
        self, raw_name: str, phrases: list[str], by: int, is_admin: bool = False
    ) -> tuple[Group, Group | None, list[Member]] | Refused | MemberProblem | TooMany | Locked:
        name = clean_contact_name(raw_name)
        problem = name_problem(name)
        if problem is not None:
            return Refused(name, problem)
        book = await self.repo.book()
        members: list[Member] = []
        seen: set[str] = set()
        for phrase in phrases:
            item = read_one(phrase, book)
            if item is None:
                return MemberProblem(phrase, "unknown")
            if item.duty:
                return MemberProblem(phrase, "duty")
            if len(item.entries) > 1:
                return MemberProblem(phrase, "ambiguous", item.entries)
            if item.entries and (item.entries[0].kind == "group" or name_key(item.entries[0].name) == name_key(name)):
                return MemberProblem(phrase, "group")
            if item.msisdn is not None:
                member = Member(item.msisdn)
            else:
                contact = await self.repo.contact(item.entries[0].id)
                if contact is None:  # pragma: no cover - deleted between the two reads
                    return MemberProblem(phrase, "unknown")
                member = Member(contact.msisdn, contact.id, contact.name)
            if member.msisdn not in seen:
                seen.add(member.msisdn)
                members.append(member)
        if len(members) > self.max_recipients:
            return TooMany(len(members), self.max_recipients)
        try:
            group, before = await self.repo.save_group(name, members, by, is_admin=is_admin)
        except NotYours as locked:
            return Locked(await self._shown_name(name), locked.added_by)
        except NameTaken:
            return Refused(await self._shown_name(name), "contact")
        return group, before, members

    # --- the guided number step's buttons --------------------------------------------------------------
    async def quick_picks(self, user_id: int, exclude: Collection[str] = ()) -> list[Pick]:
        """One-tap recipients: this operator's latest, then the team's most used contacts; without `exclude` (the
        numbers that just failed, when 👤 Other recipient asks)."""
        return await self._quick_picks(user_id, set(exclude))

    async def _quick_picks(self, user_id: int, exclude: set[str]) -> list[Pick]:
        # Left out before counting, so that excluded numbers leave room for others.
        recent = [r for r in await self.repo.recent_recipients(user_id, RECENT + len(exclude)) if r[1] not in exclude]
        recent = recent[:RECENT]
        named = await self.repo.by_msisdn([m for _, m in recent])
        picks: list[Pick] = []
        for send_id, msisdn in recent:
            contact = named.get(msisdn)
            if contact is not None:
                picks.append(Pick("c", contact.id, contact.name, msisdn))
            else:
                picks.append(Pick("s", send_id, "", msisdn))
        for contact in await self.repo.most_used_contacts(MOST_USED, [m for _, m in recent] + sorted(exclude)):
            picks.append(Pick("c", contact.id, contact.name, contact.msisdn))
        return picks

    async def book(self) -> Book:
        return await self.repo.book()
