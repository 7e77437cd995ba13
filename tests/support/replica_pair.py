"""The old name of the webhook replicas behind a round-robin proxy: now `tests/support/replicas.py`
(`replicas(..., proxy=True, count=2)`, or `behind_proxy`, which this module's `replicas` is). Kept for tests
written against it; new tests import from `tests.support.replicas`."""

from tests.support.replicas import SECRET_HEADER, Replicas, RoundRobin, pg_rows, shared_database
from tests.support.replicas import behind_proxy as replicas

__all__ = ["SECRET_HEADER", "Replicas", "RoundRobin", "pg_rows", "replicas", "shared_database"]
