"""`python -m bench [--quick] [--smoke]` — see bench/README.md."""

import sys

from bench.runner import main

sys.exit(main())
