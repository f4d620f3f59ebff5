"""HTTP writes run in a child process, so that a write never takes the query path's CPU.

Writes and queries used to share the server's one model thread (``indexer.openmp``): one
300 KB article (256 chunks) took 148 s to write and a ``/search`` sent meanwhile waited 144 s
behind it. Now the whole write (reading the base generation, chunking, BM25 terms, embedding,
the segment files, merges, Milvus upserts) runs in one long-lived worker process that:

* runs at a low CPU priority (``nice`` 10, a tenth of the weight of the server's threads):
  when a query needs a core, the scheduler gives it that core, and the write goes on with what
  is left, which on an idle server is all of it. Not 19: next to other busy processes a write
  at 19 gets about 1% of a core (150 chunks took 11 minutes here while tests ran beside it);
* has its own thread budget (``NEWSQA_WRITE_THREADS`` torch and FAISS threads, default 1), so
  that its OpenMP team never competes with the server's for both cores;
* loads its own copy of the model on the first write (seconds), and keeps it for later ones.

The server waits for the worker's report, then swaps the new generation in before it answers,
as before. The worker holds the index directory's writer lock, like any other writer; if it
dies mid-write, the committed index is unchanged (the writer is crash-safe) and the next write
starts a new worker.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from indexer.documents import Article
from indexer.embedder import Embedder
from indexer.pipeline import IndexReport, write_articles
from newsqa.errors import IndexWriteError
from newsqa.settings import Settings
from service.index_open import dense_config, open_embedder

WRITE_NICE = 10

_embedder: Embedder | None = None
_settings: Settings | None = None


def _init(settings: Settings) -> None:
    import faiss
    import torch

    from indexer.openmp import on_openmp_thread

    global _embedder, _settings
    os.nice(WRITE_NICE)
    threads = settings.write_threads
    on_openmp_thread(torch.set_num_threads, threads)
    on_openmp_thread(faiss.omp_set_num_threads, threads)
    _settings = settings
    _embedder = open_embedder(settings.model_copy(update={"embed_cache_size": 0}))


def _write(index_dir: Path, upsert: Sequence[Article], delete: Sequence[str]) -> IndexReport:
    assert _embedder is not None and _settings is not None, "write worker not initialized"
    return write_articles(
        index_dir,
        _embedder,
        upsert,
        delete,
        lock_timeout=_settings.write_lock_timeout,
        dense=dense_config(_settings),
    )


class WriteWorker:
    """The one process that carries out this server's writes, started on the first write."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def write(
        self, index_dir: Path, upsert: Sequence[Article] = (), delete: Sequence[str] = ()
    ) -> IndexReport:
        """Run one write in the worker; its report, or the error it raised."""
        pool = self._start()
        try:
            return pool.submit(_write, index_dir, list(upsert), list(delete)).result()
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next write starts a new worker
            raise IndexWriteError(
                "the write worker process died (out of memory or killed); the committed "
                "index is unchanged, retry the write"
            ) from exc

    def _start(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # A process running torch must not be forked; forkserver where there is one.
                method = "forkserver" if "forkserver" in get_all_start_methods() else "spawn"
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=get_context(method),
                    initializer=_init,
                    initargs=(self.settings,),
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
