"""Migration 10 (issue 23.4, issue 24 row 17): an address book saved before names folded lookalike letters,
invisible characters and ё/е in templates keeps working — every stored name is found by what people type, and
two names that only now fold alike both stay (the bot still starts). Real SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.sms.names import name_key
from bot.sms.templates import key as template_key
from bot.storage.db import Database
from bot.storage.migrations import MIGRATIONS

NOW = "2026-12-01T00:00:00+00:00"


def version_9(path: Path) -> None:
    """A file as the bot before migration 10 wrote it: keys casefolded, ё as е (contacts), casefolded (templates)."""
    with sqlite3.connect(path) as conn:
        conn.executescript("\n".join(MIGRATIONS[:9]) + "\nPRAGMA user_version = 9;")
        rows = [(1, "Иван Петров"), (2, "Ивaн Петров"), (3, "Oлег"), (4, "Семён")]  # 2: Latin a; 3: Latin O
        for cid, name in rows:
            old = " ".join(name.split()).casefold().replace("ё", "е")
            conn.execute("INSERT INTO names (name_key, kind) VALUES (?, 'contact')", (old,))
            conn.execute(
                "INSERT INTO contacts (id, name, name_key, msisdn, added_by, added_at, updated_at)"
                " VALUES (?, ?, ?, ?, 1, ?, ?)",
                (cid, name, old, f"7904176499{cid}", NOW, NOW),
            )
        conn.execute("INSERT INTO names (name_key, kind) VALUES ('олег', 'group')")
        conn.execute(
            "INSERT INTO recipient_groups (id, name, name_key, added_by, added_at, updated_at)"
            " VALUES (1, 'Олег', 'олег', 1, ?, ?)",
            (NOW, NOW),
        )
        conn.execute(
            "INSERT INTO templates (key, name, text, saved_by, saved_at) VALUES ('всё_плохо', 'всё_плохо', 'x', 1, ?)",
            (NOW,),
        )


async def test_stored_names_are_folded_again_and_keep_working(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    version_9(path)
    db = await Database.open(path)  # migration 10 runs; two names now alike must not stop the bot
    try:
        book = await db.directory.book()
        found = book.exact("Иван Петров")
        assert found is not None and found.id == 1  # the older of two names that only now look the same
        assert {e.name for e in book.prefixed("Ив")} == {"Иван Петров", "Ивaн Петров"}  # both still listed
        semen = book.exact("семен")
        assert semen is not None and semen.name == "Семён"
        oleg = book.exact("олег")  # a Cyrillic «олег» now finds the contact saved with a Latin O …
        assert oleg is not None and (oleg.kind, oleg.name) == ("contact", "Oлег")
        assert book.exact("ivan") is None
        template = await db.templates.by_key(template_key("все_плохо"))  # ё as е in template names now
        assert template is not None and template.name == "всё_плохо"
        with sqlite3.connect(path) as conn:
            keys = dict(conn.execute("SELECT id, name_key FROM contacts"))
            names = {k for (k,) in conn.execute("SELECT name_key FROM names")}
        assert keys[1] == name_key("Иван Петров") and keys[2] != keys[1]
        assert names == set(keys.values()) | {k for k in names if k.startswith(name_key("Олег"))}
    finally:
        await db.close()
