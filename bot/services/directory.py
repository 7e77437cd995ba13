"""Whom a send goes to: numbers, the team's contacts and groups, and whoever is on duty (issues 16 and 17).

`Directory.read` turns what a person typed after /send into recipients and the text (or says what is wrong:
no such name, several names to choose from, nobody on duty, too many recipients); everything else here keeps
the address book. It returns data; the handlers render it (bot/ui/contact_texts.py).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from bot.services.directory_types import (
    VIA_DUTY,
    VIA_GROUP,
    BadNumber,
    EmptyGroup,
    Locked,
    MemberProblem,
    NobodyOnDuty,
    Pick,
    Problem,
    Refused,
    Resolved,
    Saved,
    TooMany,
    via_group,
)
from bot.services.slots import (
    Ambiguous,
    NoMatch,
    Slot,
    slots_from_data,
    slots_to_data,
    unsure_from_data,
    unsure_to_data,
)
from bot.sms.names import (
    Book,
    Entry,
    Item,
    Reading,
    Unsure,
    clean_contact_name,
    first_unknown,
    looks_like,
    name_key,
    name_problem,
    read_one,
    read_recipients,
    went_on,
)
from bot.sms.recipients import Recipient
from bot.storage.db import Database
from bot.storage.directory import Contact, Duty, Group, Member, NameTaken, NotYours

if TYPE_CHECKING:
    from bot.services.schedule import DutySchedule

RECENT = 3  # the guided number step offers this operator's latest recipients…
MOST_USED = 3  # …and up to this many more of the team's most used contacts
LIST_MARGIN = 10  # a recipient list is read up to MAX_RECIPIENTS + this many phrases (duplicates count), no further


__all__ = ["Ambiguous", "NoMatch", "Slot", "Unsure", "slots_from_data", "slots_to_data"]
__all__ += ["unsure_from_data", "unsure_to_data"]
__all__ += [
    "VIA_DUTY",
    "VIA_GROUP",
    "BadNumber",
    "EmptyGroup",
    "Locked",
    "MemberProblem",
    "NobodyOnDuty",
    "Pick",
    "Problem",
    "Refused",
    "Resolved",
    "Saved",
    "TooMany",
    "via_group",
]


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
        one_number = len(reading.items) == 1 and reading.items[0].msisdn is not None
        if not (one_number and not reading.comma and reading.unsure is None):
            most = self.max_recipients + LIST_MARGIN
            book = await self.repo.book()
            reading = read_recipients(args, book, most=most)
            if went_on(reading, most):
                return Resolved([], "", TooMany(most, self.max_recipients, more=True))
        if not reading.items:
            if reading.problem is not None:
                return Resolved([], reading.text, BadNumber(reading.problem), typed_number=True)
            miss = first_unknown(args, await self.repo.book())  # did you mean: the closest names, if any
            return Resolved([], miss.rest, NoMatch(miss.phrase, miss.choices, miss.rest, miss.comma))
        resolved = await self._resolved(reading, [])
        one_number = len(reading.items) == 1 and reading.items[0].msisdn is not None
        resolved.typed_number = one_number and reading.unsure is None
        return resolved

    async def _resolved(self, reading: Reading, before: list[Slot]) -> Resolved:
        """The items read after `before`; a recipient the text seems to start with is asked about first."""
        slots = list(before)
        for item in reading.items:
            slot = await self._slot(item)
            if isinstance(slot, NobodyOnDuty | EmptyGroup | NoMatch):
                return Resolved([], reading.text, slot)
            slots.append(slot)
        if reading.unsure is not None and not any(isinstance(s, Ambiguous) for s in slots):
            return Resolved([], reading.text, reading.unsure, slots)
        return self.finish(slots, reading.text)

    async def settle(self, slots: list[Slot], unsure: Unsure, index: int | None, text: str) -> Resolved | None:
        """The answer to an Unsure question (or a did-you-mean): `index` None: it is the text; else the choice (the
        number, for a second number). None when there is no such choice."""
        if index is None:
            return self.finish(slots, text)
        if unsure.kind == "number" and index == 0 and unsure.msisdn is not None:
            slot: Slot | NobodyOnDuty | EmptyGroup | NoMatch = [Recipient(unsure.msisdn)]
        elif unsure.kind == "name" and 0 <= index < len(unsure.choices):
            slot = await self._slot(Item(unsure.phrase, entries=(unsure.choices[index],)))
        else:
            return None
        if isinstance(slot, NobodyOnDuty | EmptyGroup | NoMatch):
            return Resolved([], text, slot)
        if not unsure.comma:  # the list ended with it: what follows is the text
            return self.finish([*slots, slot], unsure.rest)
        tail = read_recipients(unsure.rest, await self.repo.book(), after_comma=True)
        return await self._resolved(tail, [*slots, slot])

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
        return [Recipient(m.msisdn, m.name, via_group(entry.name)) for m in members]

    async def recipients_of_contact(self, contact_id: int) -> list[Recipient]:
        contact = await self.repo.contact(contact_id)
        return [] if contact is None else [Recipient(contact.msisdn, contact.name)]

    async def recipients_of_group(self, group_id: int) -> list[Recipient]:
        group = await self.repo.group(group_id)
        via = None if group is None else via_group(group.name)
        return [Recipient(m.msisdn, m.name, via) for m in await self.repo.members(group_id)]

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
                if isinstance(found, EmptyGroup):
                    return []
                via = VIA_DUTY + (":" + on_duty.entry.name if on_duty.entry.kind == "group" else "")
                return [Recipient(r.msisdn, r.name, via) for r in found]
            return [Recipient(on_duty.msisdn, None, VIA_DUTY)] if on_duty.msisdn else []
        duty = await self.repo.duty()
        if duty is None:
            return []
        if duty.contact is not None:
            return [Recipient(duty.contact.msisdn, duty.contact.name, VIA_DUTY)]
        if duty.group is not None:
            via = VIA_DUTY + ":" + duty.group.name
            return [Recipient(m.msisdn, m.name, via) for m in await self.repo.members(duty.group.id)]
        return [Recipient(duty.msisdn, None, VIA_DUTY)] if duty.msisdn else []

    async def starts_with_name(self, text: str) -> bool:
        """A plain message (no command) that starts with a contact's or group's whole name, or with `duty`, is
        meant as /send (issue 23.13), as one that starts with a number is. A mere prefix is not: "Ok" is no
        call to Oksana."""
        reading = read_recipients(text, await self.repo.book())
        if not reading.items or reading.items[0].msisdn is not None:
            return False
        first = reading.items[0]
        return first.duty or (len(first.entries) == 1 and name_key(first.phrase) == name_key(first.entries[0].name))

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
        problem = name_problem(name) or await self._lookalike(name)
        if isinstance(problem, Refused):
            return problem
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

    async def near_contacts(self, phrase: str) -> list[Contact]:
        """`/contact <name>` that names nobody: the contacts closest to it (a typo, or a word of their name)."""
        near = [e for _, e in (await self.repo.book()).closest(phrase) if e.kind == "contact"]
        found = [await self.repo.contact(e.id) for e in near]
        return [c for c in found if c is not None]

    async def _lookalike(self, name: str) -> Refused | None:
        """A new name that only looks like a saved one ("Oлег" with a Latin O beside «Олег») is refused, naming it:
        saved, it would be a second name nobody can tell from the first."""
        entry = (await self.repo.book()).exact(name)
        if entry is not None and looks_like(name, entry.name):
            return Refused(entry.name, "lookalike", typed=name)
        return None

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
        problem = name_problem(name) or await self._lookalike(name)
        if isinstance(problem, Refused):
            return problem
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
