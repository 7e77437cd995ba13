"""The address book's rows (contacts, groups, members, duty) and what its repositories share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.storage.store import Row, Statements, utcnow
from bot.times import Epoch


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    name: str
    name_key: str
    msisdn: str
    added_by: int
    added_at: Epoch
    updated_at: Epoch


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    name_key: str
    added_by: int
    added_at: Epoch
    updated_at: Epoch


@dataclass(frozen=True, slots=True)
class Member:
    """A group's member: a contact (with its current name and number) or a number."""

    msisdn: str
    contact_id: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Duty:
    contact: Contact | None
    group: Group | None
    msisdn: str | None
    set_by: int
    set_at: Epoch


class NotYours(Exception):
    """Someone else's contact or group, changed by one who is neither its adder nor an admin: nothing changed."""

    def __init__(self, added_by: int) -> None:
        super().__init__(added_by)
        self.added_by = added_by


class NameTaken(Exception):
    """The name is another kind's (a group's, when a contact is saved; or the other way round)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


async def _audit(db: Statements, actor_id: int, action: str, target_id: int | None, **details: Any) -> None:
    await db.rows(
        "INSERT INTO audit_log (at, actor_id, action, target_id, details) VALUES (?, ?, ?, ?, ?)",
        (utcnow(), actor_id, action, target_id, json.dumps(details, ensure_ascii=False)),
    )


def _contact(row: Row | None) -> Contact | None:
    return None if row is None else Contact(**dict(row))


def _group(row: Row | None) -> Group | None:
    return None if row is None else Group(**dict(row))
