"""Deleting from the address book, and ↩️ Undo (issue 23 point 3): what others rely on is read before a delete,
and the delete's audit row keeps what it took (the row, a contact's group memberships, duty), so that Undo puts
it back with the same id (ids are never reused: migration 10)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.sms.names import name_key
from bot.storage.directory_rows import Contact, Group, NameTaken, _audit, _contact, _group
from bot.storage.store import Statements, Store


@dataclass(frozen=True, slots=True)
class Reliance:
    """Who relies on a contact or a group: duty, and (a contact) the groups it is a member of."""

    on_duty: bool
    groups: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return self.on_duty or bool(self.groups)


@dataclass(frozen=True, slots=True)
class Restored:
    row: Contact | Group
    groups: int  # group memberships put back (a contact)
    duty: bool  # back on duty (only when nobody was set since)


async def _on_duty(db: Statements, column: str, row_id: int) -> bool:
    found = await db.scalar(f"SELECT 1 FROM duty WHERE id = 1 AND {column} = ?", (row_id,))  # noqa: S608 - fixed
    return found is not None


async def _deleted(db: Statements, action: str, row_id: int) -> dict[str, Any] | None:
    """What the latest delete of this row kept, and who made it; None when it was restored since."""
    row = await db.row(
        """SELECT actor_id, action, details FROM audit_log WHERE target_id = ? AND action IN (?, ?)
            ORDER BY id DESC LIMIT 1""",
        (row_id, action + "_delete", action + "_restore"),
    )
    if row is None or row["action"] != action + "_delete":
        return None
    details = json.loads(row["details"] or "{}")
    return {**details, "deleted_by": row["actor_id"]} if isinstance(details, dict) and "row" in details else None


class Deletes:
    _store: Store

    async def reliance(self, kind: str, row_id: int) -> Reliance:
        async with self._store.locked() as db:
            if kind == "group":
                return Reliance(await _on_duty(db, "group_id", row_id))
            rows = await db.rows(
                """SELECT g.name FROM group_members m JOIN recipient_groups g ON g.id = m.group_id
                    WHERE m.contact_id = ? ORDER BY g.name_key""",
                (row_id,),
            )
            return Reliance(await _on_duty(db, "contact_id", row_id), tuple(r["name"] for r in rows))

    async def delete_contact(self, contact_id: int, by: int) -> Contact | None:
        async with self._store.transaction() as db:
            memberships = await db.rows(
                "SELECT group_id, position FROM group_members WHERE contact_id = ?", (contact_id,)
            )
            on_duty = await _on_duty(db, "contact_id", contact_id)
            contact = _contact(await db.row("DELETE FROM contacts WHERE id = ? RETURNING *", (contact_id,)))
            if contact is None:
                return None
            await db.rows("DELETE FROM names WHERE name_key = ?", (contact.name_key,))
            kept = {
                "row": [contact.name, contact.msisdn, contact.added_by, contact.added_at, contact.updated_at],
                "groups": [[m["group_id"], m["position"]] for m in memberships],
                "on_duty": on_duty,
            }
            await _audit(db, by, "contact_delete", contact.id, name=contact.name, msisdn=contact.msisdn, **kept)
        return contact

    async def delete_group(self, group_id: int, by: int) -> Group | None:
        async with self._store.transaction() as db:
            members = await db.rows(
                "SELECT position, contact_id, msisdn FROM group_members WHERE group_id = ? ORDER BY position",
                (group_id,),
            )
            on_duty = await _on_duty(db, "group_id", group_id)
            group = _group(await db.row("DELETE FROM recipient_groups WHERE id = ? RETURNING *", (group_id,)))
            if group is None:
                return None
            await db.rows("DELETE FROM names WHERE name_key = ?", (group.name_key,))
            kept = {
                "row": [group.name, group.added_by, group.added_at, group.updated_at],
                "members_kept": [[m["position"], m["contact_id"], m["msisdn"]] for m in members],
                "on_duty": on_duty,
            }
            await _audit(db, by, "group_delete", group.id, name=group.name, **kept)
        return group

    async def deleted_by(self, kind: str, row_id: int) -> int | None:
        """Who deleted this contact or group (None: not deleted, or put back since)."""
        async with self._store.locked() as db:
            kept = await _deleted(db, kind, row_id)
        return None if kept is None else int(kept["deleted_by"])

    async def deleted_name(self, kind: str, row_id: int) -> str:
        async with self._store.locked() as db:
            kept = await _deleted(db, kind, row_id)
        return "" if kept is None else str(kept["row"][0])

    async def restore(self, kind: str, row_id: int, by: int) -> Restored | None:
        """↩️ Undo: the row back with its id, a contact's memberships of groups that still exist, and duty when
        nobody was set on duty since. None when there is nothing to restore (restored already). Raises NameTaken
        when its name was given to another meanwhile."""
        table = "contacts" if kind == "contact" else "recipient_groups"
        async with self._store.transaction() as db:
            kept = await _deleted(db, kind, row_id)
            exists = await db.scalar(f"SELECT 1 FROM {table} WHERE id = ?", (row_id,))  # noqa: S608 - fixed names
            if kept is None or exists is not None:
                return None
            name = str(kept["row"][0])
            key = name_key(name)
            if await db.scalar("SELECT kind FROM names WHERE name_key = ?", (key,)) is not None:
                raise NameTaken("contact" if kind == "contact" else "group")
            await db.rows("INSERT INTO names (name_key, kind) VALUES (?, ?)", (key, kind))
            groups = 0
            if kind == "contact":
                _, msisdn, added_by, added_at, updated_at = kept["row"]
                restored: Contact | Group | None = _contact(
                    await db.row(
                        """INSERT INTO contacts (id, name, name_key, msisdn, added_by, added_at, updated_at)
                           VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *""",
                        (row_id, name, key, msisdn, added_by, added_at, updated_at),
                    )
                )
                for group_id, position in kept.get("groups", []):
                    if await db.scalar("SELECT 1 FROM recipient_groups WHERE id = ?", (group_id,)) is None:
                        continue
                    free = await db.scalar(
                        "SELECT 1 FROM group_members WHERE group_id = ? AND position = ?", (group_id, position)
                    )
                    if free is not None:  # the group changed since: at its end
                        position = await db.scalar(
                            "SELECT COALESCE(MAX(position), -1) + 1 FROM group_members WHERE group_id = ?", (group_id,)
                        )
                    await db.rows(
                        "INSERT INTO group_members (group_id, position, contact_id) VALUES (?, ?, ?)",
                        (group_id, position, row_id),
                    )
                    groups += 1
            else:
                _, added_by, added_at, updated_at = kept["row"]
                restored = _group(
                    await db.row(
                        """INSERT INTO recipient_groups (id, name, name_key, added_by, added_at, updated_at)
                           VALUES (?, ?, ?, ?, ?, ?) RETURNING *""",
                        (row_id, name, key, added_by, added_at, updated_at),
                    )
                )
                for position, contact_id, msisdn in kept.get("members_kept", []):
                    if contact_id is not None and (
                        await db.scalar("SELECT 1 FROM contacts WHERE id = ?", (contact_id,)) is None
                    ):
                        continue  # a member contact deleted meanwhile
                    await db.rows(
                        "INSERT INTO group_members (group_id, position, contact_id, msisdn) VALUES (?, ?, ?, ?)",
                        (row_id, position, contact_id, msisdn),
                    )
            duty = False
            if kept.get("on_duty"):
                column = "contact_id" if kind == "contact" else "group_id"
                back = await db.row(
                    f"""UPDATE duty SET {column} = ? WHERE id = 1 AND contact_id IS NULL AND group_id IS NULL
                         AND msisdn IS NULL RETURNING id""",  # noqa: S608 - fixed names
                    (row_id,),
                )
                duty = back is not None
            assert restored is not None
            await _audit(db, by, kind + "_restore", row_id, name=name, groups=groups, duty=duty)
        return Restored(restored, groups, duty)
