"""The test databases' template is named by what makes the schema (tests/support/db_templates.py): a changed
migration, on either engine, or changed code that applies them, makes a new template instead of reusing a stale one."""

from __future__ import annotations

from pathlib import Path

from bot.storage.migrations import MIGRATIONS, POSTGRES_MIGRATIONS
from tests.support.db_templates import APPLYING, bot_key, schema_key


def test_the_key_is_the_same_for_the_same_migrations() -> None:
    assert schema_key() == schema_key(list(MIGRATIONS), dict(POSTGRES_MIGRATIONS)) == bot_key()
    assert len(bot_key()) == 16 and int(bot_key(), 16) >= 0


def test_a_changed_sqlite_migration_makes_a_new_key() -> None:
    changed = list(MIGRATIONS)
    changed[3] += "\nCREATE INDEX sends_extra ON sends (id);"
    assert schema_key(changed) != bot_key()
    assert schema_key([*MIGRATIONS, "ALTER TABLE sends ADD COLUMN note TEXT;"]) != bot_key()
    assert schema_key(MIGRATIONS[:-1]) != bot_key()


def test_a_changed_postgresql_migration_makes_a_new_key() -> None:
    number, text = next(iter(POSTGRES_MIGRATIONS.items()))
    assert schema_key(postgresql={**POSTGRES_MIGRATIONS, number: text + "\nSELECT 1;"}) != bot_key()


def test_changed_code_that_applies_the_migrations_makes_a_new_key() -> None:
    sources = [Path(str(module.__file__)).read_text(encoding="utf-8") for module in APPLYING]
    assert schema_key(code=sources) == bot_key()
    sources[0] = sources[0].replace("PRAGMA foreign_keys = ON", "PRAGMA foreign_keys = OFF")
    assert schema_key(code=sources) != bot_key()


def test_texts_are_not_run_together() -> None:
    """Two migrations "a", "b" are not the one migration "ab"."""
    assert schema_key(["a", "b"], {}, []) != schema_key(["ab"], {}, []) != schema_key(["a", "b", ""], {}, [])
