"""The process's one OpenMP thread: every parallel region of torch and FAISS runs on it.

OpenMP gives each thread that starts a parallel region a team of worker threads of its own,
and on this 2-core machine a second team, in either library, halves the speed of the first:

* libgomp stops spin-waiting between regions once it manages more threads than there are
  cores. A server whose request threads had each embedded a question kept one torch team per
  thread, and every query embedding took 2.2 times as long (16 to 35 ms).
* FAISS has its own libgomp. One multi-threaded FAISS call (building an HNSW graph, a batch
  search) from a thread other than torch's made every later embedding twice as slow (21 to
  46 ms); the same call on torch's thread cost nothing.

So loading the model, every call into it, and FAISS work on all cores go through
``on_openmp_thread``, whichever thread asks. On 2 cores, two of these at once are no faster
than one after the other: each already uses every core. Single-query FAISS searches run one
thread (no team) in the caller's thread. The service runs a question's whole retrieval here
(``service/qa.py``): handing over only the embedding and taking the vector back to the
request thread cost about 2 ms per request.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["on_openmp_thread"]

P = ParamSpec("P")
T = TypeVar("T")
THREAD_NAME = "newsqa-openmp"

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def on_openmp_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the OpenMP thread; its result or its exception."""
    global _executor
    if threading.current_thread().name.startswith(THREAD_NAME):
        return fn(*args, **kwargs)
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        executor = _executor
    return executor.submit(fn, *args, **kwargs).result()


def _forget_thread() -> None:
    global _executor
    _executor = None  # a forked child has no such thread; it starts its own


os.register_at_fork(after_in_child=_forget_thread)
