"""Benchmarks of the bot against baselines measured in the same run: `python -m bench [--quick] [--smoke]`.

Sections (one module each): `updates` (throughput and latency against a bare aiogram echo bot), `sending`
(confirmed sends at volume, Telegram limits), `tracking` (delivery tracking on a virtual clock), `footprint`
(RSS and start-up of `python -m bot` against `python -c "import aiogram"`). See bench/README.md.
"""
