"""`python -m bot playground`: see :mod:`bot.devkit.playground.chat`."""

from .chat import Playground, describe_magic, main, pick_language

__all__ = ["Playground", "describe_magic", "main", "pick_language"]
