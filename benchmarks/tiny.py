"""Tiny mode: ``XUESHI_BENCH_TINY=1`` runs a benchmark on the smallest inputs that still go
through every step (a few learners, one server process, one-second runs), so CI can run each
benchmark in seconds and notice one that no longer starts. Its figures are not meant to be read.
"""

from __future__ import annotations

import os

TINY = os.environ.get("XUESHI_BENCH_TINY") == "1"


def pick(full, tiny):
    """``full`` in a real run, ``tiny`` in tiny mode."""
    return tiny if TINY else full
