"""Every text exists in Russian and English, and what ships is compiled from what is reviewed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.i18n import LOCALES_DIR, choose_locale
from bot.i18n_tools import extract, problems

STALE = "does not match its .po"


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract()


@pytest.fixture
def catalogs(tmp_path: Path) -> Path:
    """A copy of the real catalogs to break: the tests below never touch the real ones."""
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy)
    return copy


def edit_po(locales: Path, locale: str, change: Callable[[Catalog], None]) -> None:
    path = locales / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    change(catalog)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=120)


def test_every_message_id_is_translated_in_both_catalogs_and_compiled(template: Catalog) -> None:
    assert len(template) > 50  # the extraction really found the bot's texts
    assert problems(template) == []


def test_a_mo_compiled_by_another_babel_version_is_not_stale(template: Catalog, catalogs: Path) -> None:
    # The bytes of a .mo carry "Generated-By: Babel <version>": a new Babel release changes them, not the texts.
    for locale in ("ru", "en"):
        mo = catalogs / locale / "LC_MESSAGES" / "messages.mo"
        data = mo.read_bytes()
        [version] = re.findall(rb"Generated-By: Babel ([^\n]+)", data)
        other = re.sub(rb"[0-9]", b"0", version)  # as long as the real one: the offsets stay valid
        assert other != version
        mo.write_bytes(data.replace(b"Generated-By: Babel " + version, b"Generated-By: Babel " + other))
    assert problems(template, catalogs) == []


def test_a_text_without_translation_fails_the_check(template: Catalog, catalogs: Path) -> None:
    def untranslate(catalog: Catalog) -> None:
        message = catalog.get("Send an SMS")
        assert message is not None and message.string
        message.string = ""

    edit_po(catalogs, "ru", untranslate)
    found = problems(template, catalogs)
    assert "ru: no translation for 'Send an SMS'" in found
    assert not [line for line in found if line.startswith("en:")]
    # A text new in the code, in neither catalog yet:
    template.add("A text nobody has translated")
    try:
        found = problems(template, catalogs)
    finally:
        template.delete("A text nobody has translated")
    assert "en: no translation for 'A text nobody has translated'" in found
    assert "ru: no translation for 'A text nobody has translated'" in found


def test_a_po_edited_without_recompiling_fails_the_check(template: Catalog, catalogs: Path) -> None:
    def retranslate(catalog: Catalog) -> None:
        message = catalog.get("Send an SMS")
        assert message is not None
        message.string = "Послать СМС"

    edit_po(catalogs, "ru", retranslate)
    assert problems(template, catalogs) == [
        f"ru: messages.mo {STALE} (1 translation(s) differ); run python -m bot.i18n_tools"
    ]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda c: setattr(c, "_num_plurals", 2), "plural forms"),
        (lambda c: setattr(c, "charset", "koi8-r"), "charset"),
        (lambda c: c.add("A new text", "Новый текст"), "1 message(s) missing"),
        (lambda c: c.delete("Send an SMS"), "1 message(s) not in the .po"),
    ],
    ids=["plural-forms", "charset", "added", "removed"],
)
def test_what_else_makes_a_mo_stale(
    template: Catalog, catalogs: Path, change: Callable[[Catalog], None], says: str
) -> None:
    edit_po(catalogs, "ru", change)
    found = [line for line in problems(template, catalogs) if STALE in line]
    assert len(found) == 1 and found[0].startswith("ru:") and says in found[0], found


def test_a_missing_or_broken_mo_fails_the_check(template: Catalog, catalogs: Path) -> None:
    (catalogs / "ru" / "LC_MESSAGES" / "messages.mo").unlink()
    (catalogs / "en" / "LC_MESSAGES" / "messages.mo").write_bytes(b"not a catalog")
    found = problems(template, catalogs)
    assert [line[:3] for line in found if STALE in line] == ["ru:", "en:"]


def test_russian_catalog_translates_a_known_text() -> None:
    i18n = I18n(path=LOCALES_DIR, default_locale="en")
    assert i18n.gettext("Cancelled. Nothing was sent.", locale="ru") != "Cancelled. Nothing was sent."
    assert i18n.gettext("Cancelled. Nothing was sent.", locale="en") == "Cancelled. Nothing was sent."


@pytest.mark.parametrize(
    ("stored", "telegram", "default", "expected"),
    [
        ("en", "ru", "ru", "en"),  # a stored choice wins
        (None, "ru-RU", "en", "ru"),
        (None, "en", "ru", "en"),
        (None, "de", "ru", "ru"),  # neither: DEFAULT_LOCALE
        (None, None, "en", "en"),
    ],
)
def test_locale_choice_order(stored: str | None, telegram: str | None, default: str, expected: str) -> None:
    assert choose_locale(stored, telegram, default) == expected


def test_wheel_carries_the_compiled_catalogs(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent.parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for locale in ("ru", "en"):
        for suffix in ("po", "mo"):  # from locales/ at the top of the checkout, into the package
            assert f"bot/locales/{locale}/LC_MESSAGES/messages.{suffix}" in names
    assert not [name for name in names if name.startswith("locales/")]
    # pyproject.toml lists the packages (the price of mapping bot.locales to locales/): none may be left out.
    sources = {str(path.relative_to(root)) for path in (root / "bot").rglob("*.py")}
    assert sources - names == set(), "add the missing packages to [tool.setuptools] packages in pyproject.toml"
