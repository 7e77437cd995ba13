"""Logging: one line per event, text or JSON, with every known secret masked in whatever is written, phone
numbers masked (`+7 904 ***-**-95`), and no SMS text at any level (aiosqlite's DEBUG lines carry the SQL
parameters — numbers and texts — so that logger never goes below WARNING)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

MASK = "***"
# Fields that handlers and services attach with `extra=` and that travel into JSON lines.
CONTEXT_FIELDS = ("update_id", "user_id", "send_id", "action", "outcome")
# A Russian mobile number as a person or the gateway writes it: 79041764995, +7 904 176-49-95, 8 (904) 176 49 95.
PHONE = re.compile(r"(?<![\d+])(?:(?:\+?7|8)[\s(-]*)?(9\d{2})[\s)-]*\d{3}[\s-]*\d{2}[\s-]*(\d{2})(?![\d])")
# Loggers whose records would carry what we must not write, whatever LOG_LEVEL says, and their floor.
QUIET_LOGGERS = {"aiosqlite": logging.WARNING}

# The fields of the update being handled (set by an outer middleware, see bot.metrics); tasks started while
# handling it (a send) inherit them, so every line they log says which update and which operator it was for.
LOG_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    token = LOG_CONTEXT.set(MappingProxyType({**LOG_CONTEXT.get(), **fields}))
    try:
        yield
    finally:
        LOG_CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Adds the fields of :data:`LOG_CONTEXT` to a record; what a call passed with `extra=` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in LOG_CONTEXT.get().items():
            if value is not None and not hasattr(record, key):
                setattr(record, key, value)
        return True


class _Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 3 and secret not in self.secrets:
            self.secrets = sorted([*self.secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return PHONE.sub(r"+7 \1 ***-**-\2", text)


class TextFormatter(logging.Formatter):
    def __init__(self, redact: _Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if hasattr(record, k))
        if extras:
            line = f"{line} [{extras}]"
        return self.redact(line)


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: _Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        for key in CONTEXT_FIELDS:
            if hasattr(record, key):
                value = getattr(record, key)
                entry[key] = self.redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        # Masked before serialising: a secret with a quote or a backslash in it would not match once escaped.
        return json.dumps(entry, ensure_ascii=False, default=lambda value: self.redact(str(value)))


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    redact = _Redactor(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else TextFormatter(redact))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO; aiogram's event log is one line per update: keep both quieter.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    for name, floor in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))


def mask_also(secret: str) -> None:
    """Mask one more secret (one chosen at run time, e.g. a generated webhook secret) in the root's handlers."""
    for handler in logging.getLogger().handlers:
        redact = getattr(handler.formatter, "redact", None)
        if isinstance(redact, _Redactor):
            redact.add(secret)
