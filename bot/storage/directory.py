"""The team's address book: contacts, groups and who is on duty. Every change is written to the audit log.

A name is unique across contacts and groups, ignoring case (`names.name_key`, computed by
`bot.sms.names.name_key`: Python's casefold, because SQLite's NOCASE folds ASCII only).
"""

from __future__ import annotations

from bot.sms.names import Book, Entry, name_key
from bot.storage.directory_deletes import Deletes
from bot.storage.directory_rows import Contact, Duty, Group, Member, NameTaken, NotYours, _audit, _contact, _group
from bot.storage.store import Store, utcnow

__all__ = ["Contact", "DirectoryRepository", "Duty", "Group", "Member", "NameTaken", "NotYours"]


class DirectoryRepository(Deletes):
    def __init__(self, store: Store) -> None:
        self._store = store

    # --- the book ----------------------------------------------------------------------------------------
    async def book(self) -> Book:
        rows = await self._store.rows(
            "SELECT 'contact' AS kind, id, name FROM contacts UNION ALL SELECT 'group', id, name FROM recipient_groups"
        )
        return Book(Entry(r["kind"], r["id"], r["name"]) for r in rows)

    # --- contacts ----------------------------------------------------------------------------------------
    async def save_contact(
        self, name: str, msisdn: str, by: int, *, is_admin: bool = False
    ) -> tuple[Contact, Contact | None]:
        """Add a contact, or update the number of the one with that name (any case). Returns it and what it was
        before (None: new). Raises NameTaken when a group has the name, NotYours when the contact is another's
        and `by` is no admin."""
        key, now = name_key(name), utcnow()
        async with self._store.transaction() as db:
            kind = await db.scalar("SELECT kind FROM names WHERE name_key = ?", (key,))
            if kind == "group":
                raise NameTaken("group")
            before = _contact(await db.row("SELECT * FROM contacts WHERE name_key = ?", (key,)))
            if before is not None and before.added_by != by and not is_admin:
                raise NotYours(before.added_by)
            if before is None:
                await db.rows("INSERT INTO names (name_key, kind) VALUES (?, 'contact')", (key,))
                row = await db.row(
                    """INSERT INTO contacts (name, name_key, msisdn, added_by, added_at, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?) RETURNING *""",
                    (name, key, msisdn, by, now, now),
                )
                action = "contact_add"
            else:
                row = await db.row(
                    "UPDATE contacts SET msisdn = ?, updated_at = ? WHERE id = ? RETURNING *", (msisdn, now, before.id)
                )
                action = "contact_update"
            contact = _contact(row)
            assert contact is not None
            await _audit(db, by, action, contact.id, name=contact.name, msisdn=msisdn)
        return contact, before

    async def contact(self, contact_id: int) -> Contact | None:
        return _contact(await self._store.row("SELECT * FROM contacts WHERE id = ?", (contact_id,)))

    async def contacts(self, limit: int, offset: int = 0) -> list[Contact]:
        rows = await self._store.rows("SELECT * FROM contacts ORDER BY name_key, id LIMIT ? OFFSET ?", (limit, offset))
        return [Contact(**dict(r)) for r in rows]

    async def contact_count(self) -> int:
        return int(await self._store.scalar("SELECT COUNT(*) FROM contacts"))

    async def by_msisdn(self, msisdns: list[str]) -> dict[str, Contact]:
        """The contact of each number that is one (the first by name when several share it)."""
        if not msisdns:
            return {}
        marks = ",".join("?" * len(msisdns))
        rows = await self._store.rows(
            f"SELECT * FROM contacts WHERE msisdn IN ({marks}) ORDER BY name_key DESC",  # noqa: S608 - marks only
            tuple(msisdns),
        )
        return {r["msisdn"]: Contact(**dict(r)) for r in rows}

    # --- groups ------------------------------------------------------------------------------------------
    async def save_group(
        self, name: str, members: list[Member], by: int, *, is_admin: bool = False
    ) -> tuple[Group, Group | None]:
        """Create a group, or replace the members of the one with that name. Raises NameTaken for a contact's,
        NotYours for another's group when `by` is no admin."""
        key, now = name_key(name), utcnow()
        async with self._store.transaction() as db:
            kind = await db.scalar("SELECT kind FROM names WHERE name_key = ?", (key,))
            if kind == "contact":
                raise NameTaken("contact")
            before = _group(await db.row("SELECT * FROM recipient_groups WHERE name_key = ?", (key,)))
            if before is not None and before.added_by != by and not is_admin:
                raise NotYours(before.added_by)
            if before is None:
                await db.rows("INSERT INTO names (name_key, kind) VALUES (?, 'group')", (key,))
                row = await db.row(
                    """INSERT INTO recipient_groups (name, name_key, added_by, added_at, updated_at)
                       VALUES (?, ?, ?, ?, ?) RETURNING *""",
                    (name, key, by, now, now),
                )
            else:
                row = await db.row(
                    "UPDATE recipient_groups SET updated_at = ? WHERE id = ? RETURNING *", (now, before.id)
                )
            group = _group(row)
            assert group is not None
            await db.rows("DELETE FROM group_members WHERE group_id = ?", (group.id,))
            for position, member in enumerate(members):
                await db.rows(
                    "INSERT INTO group_members (group_id, position, contact_id, msisdn) VALUES (?, ?, ?, ?)",
                    (group.id, position, member.contact_id, None if member.contact_id else member.msisdn),
                )
            listed = [m.name or m.msisdn for m in members]
            await _audit(db, by, "group_replace" if before else "group_add", group.id, name=name, members=listed)
        return group, before

    async def group(self, group_id: int) -> Group | None:
        return _group(await self._store.row("SELECT * FROM recipient_groups WHERE id = ?", (group_id,)))

    async def groups(self, limit: int, offset: int = 0) -> list[tuple[Group, int]]:
        """A page of groups by name, each with its number of members."""
        rows = await self._store.rows(
            """SELECT g.*, (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) AS members
                 FROM recipient_groups g ORDER BY g.name_key, g.id LIMIT ? OFFSET ?""",
            (limit, offset),
        )
        out: list[tuple[Group, int]] = []
        for r in rows:
            values = dict(r)
            members = int(values.pop("members"))
            out.append((Group(**values), members))
        return out

    async def group_count(self) -> int:
        return int(await self._store.scalar("SELECT COUNT(*) FROM recipient_groups"))

    async def members(self, group_id: int) -> list[Member]:
        rows = await self._store.rows(
            """SELECT COALESCE(c.msisdn, m.msisdn) AS msisdn, m.contact_id, c.name
                 FROM group_members m LEFT JOIN contacts c ON c.id = m.contact_id
                WHERE m.group_id = ? ORDER BY m.position""",
            (group_id,),
        )
        return [Member(r["msisdn"], r["contact_id"], r["name"]) for r in rows]

    # --- duty --------------------------------------------------------------------------------------------
    async def set_duty(
        self, by: int, *, contact_id: int | None = None, group_id: int | None = None, msisdn: str | None = None
    ) -> None:
        async with self._store.transaction() as db:
            await db.rows(
                """INSERT INTO duty (id, contact_id, group_id, msisdn, set_by, set_at) VALUES (1, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET contact_id = excluded.contact_id, group_id = excluded.group_id,
                     msisdn = excluded.msisdn, set_by = excluded.set_by, set_at = excluded.set_at""",
                (contact_id, group_id, msisdn, by, utcnow()),
            )
            await _audit(
                db, by, "duty_set", contact_id or group_id, contact_id=contact_id, group_id=group_id, msisdn=msisdn
            )

    async def duty(self) -> Duty | None:
        row = await self._store.row("SELECT * FROM duty WHERE id = 1")
        if row is None or (row["contact_id"] is None and row["group_id"] is None and row["msisdn"] is None):
            return None
        contact = await self.contact(row["contact_id"]) if row["contact_id"] is not None else None
        group = await self.group(row["group_id"]) if row["group_id"] is not None else None
        return Duty(contact, group, row["msisdn"], row["set_by"], row["set_at"])

    # --- what the guided /send offers --------------------------------------------------------------------
    async def recent_recipients(self, user_id: int, limit: int) -> list[tuple[int, str]]:
        """This operator's latest distinct numbers sent to (after a Send press): (the latest send's id, number)."""
        rows = await self._store.rows(
            """SELECT MAX(id) AS id, msisdn FROM sends
                WHERE user_id = ? AND claimed_at IS NOT NULL AND erased_at IS NULL AND msisdn != ''
                GROUP BY msisdn ORDER BY MAX(id) DESC LIMIT ?""",
            (user_id, limit),
        )
        return [(r["id"], r["msisdn"]) for r in rows]

    async def most_used_contacts(self, limit: int, skip: list[str]) -> list[Contact]:
        """The team's contacts by how many SMS went to their number (then by name), without the numbers in `skip`."""
        marks = ",".join("?" * len(skip)) or "''"
        rows = await self._store.rows(
            f"""SELECT c.* FROM contacts c WHERE c.msisdn NOT IN ({marks})
                 ORDER BY (SELECT COUNT(*) FROM sends s WHERE s.msisdn = c.msisdn AND s.claimed_at IS NOT NULL) DESC,
                          c.name_key
                 LIMIT ?""",  # noqa: S608 - marks only
            (*skip, limit),
        )
        return [Contact(**dict(r)) for r in rows]
