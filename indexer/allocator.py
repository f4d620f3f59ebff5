"""Keep freed memory in the process for reuse, where training allocates big tensors each step.

glibc's malloc serves every block above 32 MiB (a training batch's attention scores, 113 MB
at 16 x 384 tokens) with its own ``mmap`` and gives it back with ``munmap`` when freed. On
this machine's virtual CPUs that is slow twice over: each returned block makes the kernel
interrupt the other thread of the team to flush its TLB, and each new block faults its pages
in again (at times 0.08 GB/s when the host is busy, 13 GB/s when not). A training step of 16
windows of 384 tokens took 22 s; with freed memory kept in the heap, 8.1 s (one process each,
in the same minutes; README, "Training, first stage"). ``newsqa reader train`` sets it: it is
process-wide, so it belongs to the command, not to ``train()``, which tests call in process.

Serving does not need it: OpenVINO keeps its own buffers, and the answer step measured the
same either way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Serve big blocks from the heap and keep what is freed there; False where the C library
    is not glibc (nothing changes there)."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    # big blocks come from the heap instead of their own mmap, and the heap's free top is
    # handed back to the kernel only above 2 GiB
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
