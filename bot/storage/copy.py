"""`python -m bot copy-db <sqlite-file>`: the whole SQLite database into the empty PostgreSQL one of DATABASE_URL.

The file is first copied aside (SQLite's backup API: a consistent copy even while a bot writes it) and that copy
is brought to the latest schema, so the file itself is left as it was. The target gets the latest schema too,
must have no rows in any table (else nothing is copied), and gets every table in one transaction, parents before
children (foreign keys), with the ids as they were; each identity sequence is then set past its largest id, so
new rows never reuse an old id. Times, owed markers and the tracking queue are copied as they are: a bot started on
PostgreSQL goes on tracking the SMS and owes the same notices. Returns the rows per table on both sides.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.storage.db import Database
from bot.storage.postgres import PgStatements, describe
from bot.storage.store import StorageError

SKIP = {"schema_version"}  # PostgreSQL's own bookkeeping (SQLite keeps it in PRAGMA user_version)


@dataclass(frozen=True, slots=True)
class Counted:
    table: str
    source: int
    target: int


def tables_in_order(conn: sqlite3.Connection) -> list[str]:
    """Every table of the SQLite file, each after the tables its foreign keys point to."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    parents = {name: {r[2] for r in conn.execute(f"PRAGMA foreign_key_list({name})")} - {name} for name in names}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise StorageError("the SQLite file's foreign keys go round in a circle; cannot order its tables")
        ordered.extend(ready)
    return ordered


def _convert(value: Any, kind: str) -> Any:
    """A SQLite value (typed loosely) as the PostgreSQL column's type wants it."""
    if value is None:
        return None
    if kind in ("bigint", "integer", "smallint"):
        return int(value)
    if kind in ("double precision", "real", "numeric"):
        return float(value)
    return value if isinstance(value, str) else str(value)


async def copy_db(sqlite_file: Path, url: str) -> list[Counted]:
    if not sqlite_file.is_file():  # noqa: ASYNC240 - once, before anything runs
        raise StorageError(f"no SQLite file at {sqlite_file}")
    with tempfile.TemporaryDirectory(prefix="copy-db-") as tmp:
        aside = Path(tmp) / "source.sqlite3"
        try:
            with sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True) as src, sqlite3.connect(aside) as dst:
                src.backup(dst)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the SQLite file {sqlite_file}: {exc}") from None
        source = await Database.open(aside)  # brought to the latest schema (the copy, not the file)
        await source.close()
        target = await Database.open_postgres(url)
        try:
            with sqlite3.connect(aside) as conn:
                return await _copy(conn, target, url)
        finally:
            await target.close()


async def _copy(conn: sqlite3.Connection, target: Database, url: str) -> list[Counted]:
    statements = target.statements
    assert isinstance(statements, PgStatements)
    pg = await statements._connection()
    tables = [t for t in tables_in_order(conn) if t not in SKIP]
    for table in tables:
        if await pg.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{table}")'):  # noqa: S608 - names from sqlite_master
            raise StorageError(
                f"the database {describe(url)} is not empty (table {table} has rows); copy-db fills an empty one only"
            )
    counted: list[Counted] = []
    async with pg.transaction():
        for table in tables:
            kinds = {
                r["column_name"]: r["data_type"]
                for r in await pg.fetch(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1", table
                )
            }
            if not kinds:
                raise StorageError(f"the PostgreSQL database has no table {table}: is the bot there older?")
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from sqlite_master
            columns = [d[0] for d in cursor.description]
            missing = [c for c in columns if c not in kinds]
            if missing:
                raise StorageError(f"the PostgreSQL table {table} has no column {missing[0]}")
            rows = [tuple(_convert(v, kinds[c]) for v, c in zip(row, columns, strict=True)) for row in cursor]
            if rows:
                await pg.copy_records_to_table(table, records=rows, columns=columns)
            if kinds.get("id") == "bigint" and await pg.fetchval(
                "SELECT pg_get_serial_sequence($1, 'id') IS NOT NULL", table
            ):
                await pg.execute(
                    f"""SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                      COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)"""  # noqa: S608
                )
            target_count = int(await pg.fetchval(f'SELECT COUNT(*) FROM "{table}"'))  # noqa: S608
            counted.append(Counted(table, len(rows), target_count))
    return counted
