"""Catalog upkeep: `python -m bot.i18n_tools` extracts every gettext id from bot/, updates the ru and en
catalogs in locales/ (keeping translations; English ids are their own English text) and compiles the .mo files.

`python -m bot.i18n_tools --check` changes nothing and exits 1 when an id is missing or untranslated in a
catalog or a .mo file is stale — the tests run the same check. Stale means the .mo says something its .po does
not: a message id, a translation, the plural forms, the language or the charset differ. The bytes do not
matter (they carry the compiling Babel's version, which changes without any text changing).
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from bot.i18n import LOCALES_DIR, SUPPORTED

PACKAGE_DIR = Path(__file__).parent
KEYWORDS = {"_": None, "__": None, "gettext": None, "lazy_gettext": None}


def extract() -> Catalog:
    template = Catalog(project="smska-telegram-bot", fuzzy=False)
    for filename, lineno, message, _comments, context in extract_from_dir(
        PACKAGE_DIR, method_map=[("devkit/**.py", "ignore"), ("**.py", "python")], keywords=KEYWORDS
    ):
        template.add(message, None, [(filename, lineno)], context=context)
    return template


def po_path(locale: str, locales_dir: Path = LOCALES_DIR) -> Path:
    return locales_dir / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str, locales_dir: Path = LOCALES_DIR) -> Catalog:
    path = po_path(locale, locales_dir)
    if not path.exists():
        return Catalog(locale=locale, fuzzy=False)
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def updated(locale: str, template: Catalog) -> Catalog:
    catalog = load(locale)
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    for message in catalog:
        if message.id and locale == "en" and not message.string:
            message.string = message.id
        message.flags.discard("fuzzy")
    catalog.fuzzy = False
    return catalog


def render_mo(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


@dataclass(frozen=True)
class MoContent:
    """What a compiled catalog says, whoever compiled it: the headers that change how its texts are read, and
    every (context, id) -> translation (plural ids and forms as tuples)."""

    language: str | None
    charset: str
    plural_forms: str
    messages: dict[tuple[str | None, object], object]


def _plain(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def mo_content(data: bytes) -> MoContent:
    catalog = read_mo(io.BytesIO(data))
    return MoContent(
        language=str(catalog.locale) if catalog.locale else None,
        charset=catalog.charset,
        plural_forms=catalog.plural_forms,
        messages={(m.context, _plain(m.id)): _plain(m.string) for m in catalog if m.id},
    )


def mo_differences(mo: Path, catalog: Catalog) -> list[str]:
    """How the compiled file `mo` differs from what compiling `catalog` now gives; [] when it says the same."""
    try:
        have = mo_content(mo.read_bytes())
    except (OSError, ValueError, struct.error) as exc:  # missing, unreadable or not a .mo at all
        return [getattr(exc, "strerror", None) or str(exc)]
    want = mo_content(render_mo(catalog))
    found = [
        name.replace("_", " ")
        for name in ("language", "charset", "plural_forms")
        if getattr(have, name) != getattr(want, name)
    ]
    if missing := len(want.messages.keys() - have.messages.keys()):
        found.append(f"{missing} message(s) missing")
    if extra := len(have.messages.keys() - want.messages.keys()):
        found.append(f"{extra} message(s) not in the .po")
    if changed := sum(
        1 for key in want.messages.keys() & have.messages.keys() if want.messages[key] != have.messages[key]
    ):
        found.append(f"{changed} translation(s) differ")
    return found


def problems(template: Catalog, locales_dir: Path = LOCALES_DIR) -> list[str]:
    found = []
    for locale in SUPPORTED:
        catalog = load(locale, locales_dir)
        for message in template:
            if not message.id:
                continue
            entry = catalog.get(message.id)
            if entry is None or not entry.string:
                found.append(f"{locale}: no translation for {message.id!r}")
        mo = po_path(locale, locales_dir).with_suffix(".mo")
        if differences := mo_differences(mo, catalog):
            found.append(
                f"{locale}: {mo.name} does not match its .po ({', '.join(differences)}); run python -m bot.i18n_tools"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.i18n_tools")
    parser.add_argument("--check", action="store_true", help="change nothing; fail on missing translations")
    args = parser.parse_args(argv)
    template = extract()
    if args.check:
        found = problems(template)
        print("\n".join(found) or "catalogs complete")
        return 1 if found else 0
    for locale in SUPPORTED:
        catalog = updated(locale, template)
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=120, omit_header=False, sort_output=False)
        path.with_suffix(".mo").write_bytes(render_mo(catalog))
        missing = sum(1 for m in catalog if m.id and not m.string)
        print(f"{locale}: {len(catalog)} messages, {missing} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
