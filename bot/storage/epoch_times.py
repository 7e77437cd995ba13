"""Issue 26.3: every stored moment as INTEGER epoch seconds (bot.times), on both engines.

The migration finds the columns to convert at run time, by name and declared type, so columns that later
migrations add with INTEGER times are left alone and none of the older ones is missed: a `TEXT` column named `at`,
`*_at` or `placed_for` (it holds a `posted_at`). `wanted_at` is not a moment but a change token ("<now>#<tick>",
compared for equality only) and stays text. The REAL epoch seconds of `tracking` and the duty tables (migration 10)
are numbers already, compared as numbers on both engines, and keep their fractions (the tracker's back-off).

SQLite cannot change a column's type in place, and an integer written to a TEXT column is stored as text: each table
is rebuilt from its own CREATE text with those columns declared INTEGER, every row copied with the same ids, its
indexes and triggers made again, its AUTOINCREMENT counter kept (foreign keys are off while migrations run: see
bot.storage.db). ISO text in any form `datetime.fromisoformat` reads (an offset, 'Z', microseconds, ' ' or 'T')
becomes the epoch second it names (`iso_epoch`, registered on the connection); NULL stays NULL.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

from bot.times import moment

log = logging.getLogger(__name__)

#: The entry in MIGRATIONS: its SQLite script is made from the file's schema when it runs (`sqlite_script`).
MARKER = "-- issue 26.3: times as epoch seconds, generated at run time (bot.storage.epoch_times)\nSELECT 1;"

_KEEP = {"wanted_at"}


def is_time_column(name: str, declared: str) -> bool:
    name = name.lower()
    if declared.strip().upper() != "TEXT" or name in _KEEP:
        return False
    return name == "at" or name.endswith("_at") or name == "placed_for"


def iso_epoch(value: Any) -> int | None:
    """A stored moment (ISO text in any offset, or a number already) as whole epoch seconds; None for NULL and
    for text that names no moment (the bot never wrote such; the column's NOT NULL then takes 0, see below)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d*)?", text):
        return int(float(text))
    try:
        return int(moment(text.replace("Z", "+00:00").replace("z", "+00:00")).timestamp())
    except ValueError:
        log.warning("a stored time that names no moment became %s: %r", "NULL or 0", text[:40])
        return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_script(conn: sqlite3.Connection) -> str:
    """The statements that convert this file's time columns (run inside the migration's transaction)."""
    out: list[str] = []
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    has_sequences = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone()
    sequences = dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall()) if has_sequences else {}
    for table, create in tables:
        info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
        columns = [row[1] for row in info]
        times = [row[1] for row in info if is_time_column(row[1], row[2] or "")]
        if not times:
            continue
        new = f"{table}__epoch"
        head = re.match(r"\s*CREATE\s+TABLE\s+(\"[^\"]+\"|\w+)", create, flags=re.IGNORECASE)
        if head is None:  # pragma: no cover - not a CREATE TABLE this code knows
            raise sqlite3.DatabaseError(f"cannot read the definition of {table}")
        text = create[: head.start(1)] + _quote(new) + create[head.end(1) :]
        for column in times:
            text, n = re.subn(
                rf"([(,]\s*)(\"?{re.escape(column)}\"?\s+)TEXT\b", r"\1\2INTEGER", text, count=1, flags=re.IGNORECASE
            )
            if n != 1:  # pragma: no cover - a schema this code does not know; refused, not guessed
                raise sqlite3.DatabaseError(f"cannot find the declaration of {table}.{column}")
        extras = [
            sql
            for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL",
                (table,),
            )
        ]
        names = ", ".join(_quote(c) for c in columns)
        required = {row[1] for row in info if row[3]}  # NOT NULL: an unreadable time becomes 0 (1970), not NULL
        values = ", ".join(
            (f"COALESCE(iso_epoch({_quote(c)}), 0)" if c in required else f"iso_epoch({_quote(c)})")
            if c in times
            else _quote(c)
            for c in columns
        )
        out.append(text.rstrip().rstrip(";") + ";")
        out.append(f"INSERT INTO {_quote(new)} ({names}) SELECT {values} FROM {_quote(table)};")  # noqa: S608
        out.append(f"DROP TABLE {_quote(table)};")
        out.append(f"ALTER TABLE {_quote(new)} RENAME TO {_quote(table)};")
        out.extend(sql.rstrip().rstrip(";") + ";" for sql in extras)
        if table in sequences:
            name = table.replace("'", "''")
            out.append(f"DELETE FROM sqlite_sequence WHERE name = '{name}';")  # noqa: S608
            out.append(f"INSERT INTO sqlite_sequence (name, seq) VALUES ('{name}', {int(sequences[table])});")  # noqa: S608
    return "\n".join(out)


#: PostgreSQL's text: the same columns (found by name and type), ALTER ... TYPE BIGINT in place; its indexes follow.
POSTGRES = r"""
SET LOCAL TIME ZONE 'UTC';
DO $$
DECLARE c record;
BEGIN
  FOR c IN
    SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND data_type = 'text' AND column_name <> 'wanted_at'
       AND (column_name = 'at' OR column_name = 'placed_for' OR column_name LIKE '%\_at')
  LOOP
    EXECUTE format(
      'ALTER TABLE %I ALTER COLUMN %I TYPE BIGINT USING CASE WHEN %I ~ ''^-?[0-9]+$'' THEN %I::bigint '
      'ELSE floor(extract(epoch FROM %I::timestamptz))::bigint END',
      c.table_name, c.column_name, c.column_name, c.column_name, c.column_name);
  END LOOP;
END $$;
"""
