"""`python -m bench [--quick] [--smoke]` — see bench/README.md."""

import os
import sys

from bench.runner import main

code = main()
# Everything is written and its files closed: the interpreter's teardown (aiogram's models, a good part of a
# second of CPU) would only make the run end later.
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
