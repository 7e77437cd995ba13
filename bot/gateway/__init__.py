"""The smska gateway layer: ``errors`` (typed errors), ``parser`` (reply text -> values), ``client``
(``SmskaClient`` over httpx) and ``sandbox`` (an aiohttp emulator; imported only where needed)."""
