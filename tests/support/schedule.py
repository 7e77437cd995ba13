"""How pytest-xdist hands tests to workers: each test to the next free worker, in the order the collection
gives (`tests/conftest.py` sorts it slowest first), except the files named in `together`, whose tests share a
module- or session-wide fixture dear to build and so all go to one worker.

xdist's own `--dist loadgroup` with `xdist_group` marks added by a hook did not group here (the worker reads the
marks before a conftest hook can add them), so the grouping is this small scheduler instead, chosen by
`pytest_xdist_make_scheduler` in `tests/conftest.py`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import PurePath
from typing import Any

from xdist.scheduler import LoadScopeScheduling


class EachTestSlowestFirst(LoadScopeScheduling):
    """LoadScopeScheduling whose unit of work is one test, or one whole file for the files in `together`."""

    def __init__(self, config: Any, log: Any, together: Collection[str]) -> None:
        super().__init__(config, log)
        self.together = frozenset(together)

    def _split_scope(self, nodeid: str) -> str:
        file = nodeid.split("::", 1)[0]
        return file if PurePath(file).name in self.together else nodeid
