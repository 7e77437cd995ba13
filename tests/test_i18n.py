"""Every text exists in Russian and English, and what ships is compiled from what is reviewed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n

from bot.i18n import LOCALES_DIR, choose_locale
from bot.i18n_tools import extract, problems


def test_every_message_id_is_translated_in_both_catalogs_and_compiled() -> None:
    template = extract()
    assert len(template) > 50  # the extraction really found the bot's texts
    assert problems(template) == []


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
    root = Path(__file__).resolve().parent.parent
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
    names = zipfile.ZipFile(wheel).namelist()
    for locale in ("ru", "en"):
        assert f"bot/locales/{locale}/LC_MESSAGES/messages.mo" in names
