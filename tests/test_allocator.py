"""Freed big blocks stay in the process after ``keep_freed_memory``, and go back without it.

Each case runs in its own interpreter: the setting is process-wide and would change the
memory behaviour of the rest of the suite.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
import numpy as np
from bench.common import rss_mib
from indexer.allocator import keep_freed_memory

if sys.argv[1] == "keep":
    assert keep_freed_memory()
block = np.ones(2**24, dtype=np.float64)  # 128 MiB, above glibc's largest mmap threshold
held = rss_mib()
del block
print(held - rss_mib())
"""


def released_mib(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_freed_big_blocks_are_kept_for_reuse() -> None:
    assert released_mib("default") > 100  # glibc hands a freed 128 MiB block back at once
    assert released_mib("keep") < 8  # kept in the heap for the next step's tensors
