"""The team's templates (saved SMS texts, `#name` in /send); every change is written to the audit log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.storage.store import Statements, Store, utcnow
from bot.times import Epoch


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    key: str  # the name casefolded: what makes a name unique
    name: str  # as it was last saved
    text: str
    saved_by: int
    saved_at: Epoch
    uses: int
    used_at: Epoch | None


@dataclass(frozen=True, slots=True)
class NotYours:
    """Another's template, and the one saving is no admin: nothing changed."""

    template: Template


@dataclass(frozen=True, slots=True)
class Saved:
    template: Template
    replaced: Template | None  # what it was before, when a template of that name existed


async def _audit(
    db: Statements, at: Epoch, actor_id: int, action: str, target_id: int, details: dict[str, Any]
) -> None:
    await db.rows(
        "INSERT INTO audit_log (at, actor_id, action, target_id, details) VALUES (?, ?, ?, ?, ?)",
        (at, actor_id, action, target_id, json.dumps(details, ensure_ascii=False)),
    )


def _template(row: Any) -> Template:
    return Template(**dict(row))


class TemplatesRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def save(self, key: str, name: str, text: str, by: int, *, is_admin: bool = False) -> Saved | NotYours:
        """Save a new template, or replace the text of the one whose key is `key` (its id, uses and the one who
        saved it first stay): only that one or an admin may (else NotYours, nothing changed)."""
        now = utcnow()
        async with self._store.transaction() as db:
            old = await db.row("SELECT * FROM templates WHERE key = ?", (key,))
            if old is not None and old["saved_by"] != by and not is_admin:
                return NotYours(_template(old))
            row = await db.row(
                """INSERT INTO templates (key, name, text, saved_by, saved_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT(key) DO UPDATE SET name = excluded.name, text = excluded.text,
                     saved_at = excluded.saved_at
                   RETURNING *""",
                (key, name, text, by, now),
            )
            assert row is not None
            saved = _template(row)
            replaced = None if old is None else _template(old)
            details: dict[str, Any] = {"name": name, "text": text}
            if replaced is not None:
                details.update(old_name=replaced.name, old_text=replaced.text, old_saved_by=replaced.saved_by)
            await _audit(db, now, by, "template_replace" if replaced else "template_save", saved.id, details)
        return Saved(saved, replaced)

    async def delete(self, template_id: int, by: int) -> Template | None:
        """Delete it; None when it was gone already (a second press)."""
        now = utcnow()
        async with self._store.transaction() as db:
            row = await db.row("DELETE FROM templates WHERE id = ? RETURNING *", (template_id,))
            if row is None:
                return None
            gone = _template(row)
            details = {"name": gone.name, "text": gone.text, "saved_by": gone.saved_by}
            await _audit(db, now, by, "template_delete", gone.id, details)
        return gone

    async def get(self, template_id: int) -> Template | None:
        row = await self._store.row("SELECT * FROM templates WHERE id = ?", (template_id,))
        return None if row is None else _template(row)

    async def by_key(self, key: str) -> Template | None:
        row = await self._store.row("SELECT * FROM templates WHERE key = ?", (key,))
        return None if row is None else _template(row)

    async def count(self) -> int:
        return int(await self._store.scalar("SELECT COUNT(*) FROM templates"))

    async def by_name(self, limit: int, offset: int = 0) -> list[Template]:
        rows = await self._store.rows("SELECT * FROM templates ORDER BY key LIMIT ? OFFSET ?", (limit, offset))
        return [_template(r) for r in rows]

    async def popular(self, limit: int) -> list[Template]:
        """The most used first, then the newest."""
        rows = await self._store.rows(
            "SELECT * FROM templates ORDER BY uses DESC, saved_at DESC, id DESC LIMIT ?", (limit,)
        )
        return [_template(r) for r in rows]

    async def used(self, template_id: int) -> None:
        await self._store.rows(
            "UPDATE templates SET uses = uses + 1, used_at = ? WHERE id = ?", (utcnow(), template_id)
        )
