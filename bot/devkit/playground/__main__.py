"""`python -m bot.devkit.playground [--db PATH] [--lang ru|en]`: the same as `python -m bot playground`."""

import sys

from bot.devkit.playground import main

if __name__ == "__main__":
    sys.exit(main())
