"""The developer kit: everything that stands in for the outside world, so the real bot runs offline.

Not part of the bot in production (``python -m bot`` never imports it); it is what ``python -m bot sandbox``
and ``python -m bot playground`` run, and what the tests and ``python -m bench`` drive:

* ``sandbox``: an emulator of the smska HTTP gateway (``SandboxGateway``, fault injection, magic numbers);
* ``telegram``: a fake Telegram Bot API server on loopback with simulated people (``FakeTelegram``);
* ``harness``: the whole bot in one process over loopback (sandbox + fake Telegram + ``bot.app.build_app``);
* ``playground``: the harness with a chat in the terminal.
"""
