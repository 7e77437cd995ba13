"""`python -m bot playground` — the whole bot offline, with a chat in the terminal where you are an admin.

One process runs the sandbox smska gateway, the fake Telegram Bot API server and the real bot in polling mode
(:class:`bot.devkit.harness.Harness`, i.e. ``bot.app.build_app``: the production Dispatcher, routers, storage
and gateway client), everything on 127.0.0.1. You talk to the bot as a simulated Telegram user:

* a line is a message from you (``/commands`` included); a bare number (``1``) presses that button of the last
  message with buttons (inline buttons, or the reply keyboard);
* ``:contact +79041764995`` shares a contact, ``:stranger`` / ``:me`` switch between you (an admin) and Sam (a
  stranger without access), ``:say TEXT`` sends TEXT literally (``:say 1``), ``:help``, ``:quit``.

The bot's answers are printed as a transcript (``bot: ...`` with numbered buttons), edits as
``bot: ✏️ edited: ...``, callback answers as ``bot: 💬 toast: ...`` / ``bot: ⚠️ alert: ...``; delivery notices
arrive on their own. With stdin piped, each line is handled in turn (the bot's answers are waited for: until it
has been quiet for a moment), and the program exits at end of input once pending delivery notices are in.

The asyncio loop runs in a helper thread; the main thread reads the terminal, so Ctrl-C and Ctrl-D behave as
usual. The bot's own logs (WARNING and above) go to stderr, never into the chat.

Layout: ``cli`` (options, the loop thread, the terminal), ``chat`` (:class:`Playground`), ``transcript``
(what is printed), ``constants``.
"""

from .chat import Playground
from .cli import main, pick_language
from .transcript import describe_magic

__all__ = ["Playground", "describe_magic", "main", "pick_language"]
