"""Catalog upkeep: `python -m bot.i18n_tools` extracts every gettext id from bot/, updates the ru and en
catalogs (keeping translations; English ids are their own English text) and compiles the .mo files.

`python -m bot.i18n_tools --check` changes nothing and exits 1 when an id is missing or untranslated in a
catalog or a .mo file is stale — the tests run the same check.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
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


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"


def load(locale: str) -> Catalog:
    path = po_path(locale)
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


def problems(template: Catalog) -> list[str]:
    found = []
    for locale in SUPPORTED:
        catalog = load(locale)
        for message in template:
            if not message.id:
                continue
            entry = catalog.get(message.id)
            if entry is None or not entry.string:
                found.append(f"{locale}: no translation for {message.id!r}")
        mo = po_path(locale).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != render_mo(catalog):
            found.append(f"{locale}: {mo.name} is missing or older than its .po; run python -m bot.i18n_tools")
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
