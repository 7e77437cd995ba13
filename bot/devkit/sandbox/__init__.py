"""The smska gateway emulator: see :mod:`bot.devkit.sandbox.server`."""

from .server import (
    DOCUMENT_EXAMPLE_ID,
    MAGIC_NUMBERS,
    Fault,
    MagicNumber,
    ReceivedRequest,
    SandboxGateway,
    SentMessage,
    credentials_from_env,
    serve_forever,
)

__all__ = [
    "DOCUMENT_EXAMPLE_ID",
    "MAGIC_NUMBERS",
    "Fault",
    "MagicNumber",
    "ReceivedRequest",
    "SandboxGateway",
    "SentMessage",
    "credentials_from_env",
    "serve_forever",
]
