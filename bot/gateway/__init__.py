"""The smska gateway layer: ``errors`` (typed errors), ``parser`` (reply text -> values) and ``client``
(``SmskaClient`` over httpx). Its emulator is ``bot.devkit.sandbox``."""
