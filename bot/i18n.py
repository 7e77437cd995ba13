"""Languages: aiogram's gettext I18n over the catalogs in locales/, and how a locale is chosen.

Order (CONTRACT.md): a choice stored with /language, else the update's Telegram language_code when it is
ru or en, else DEFAULT_LOCALE.
"""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n


def _locales_dir() -> Path:
    """bot/locales/ inside an installed wheel; locales/ beside bot/ in a checkout (an editable install reads
    the checkout, and so does a run from the source tree)."""
    package = Path(__file__).resolve().parent
    installed, checkout = package / "locales", package.parent / "locales"
    return installed if installed.is_dir() or not checkout.is_dir() else checkout


LOCALES_DIR = _locales_dir()
SUPPORTED = ("ru", "en")


def make_i18n(default_locale: str) -> I18n:
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain="messages")


def supported(code: str | None) -> str | None:
    """'ru-RU' -> 'ru'; None when the language is neither Russian nor English."""
    if not code:
        return None
    base = code.split("-")[0].split("_")[0].lower()
    return base if base in SUPPORTED else None


def choose_locale(stored: str | None, telegram_code: str | None, default: str) -> str:
    return supported(stored) or supported(telegram_code) or default
