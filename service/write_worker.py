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
* loads its own copy of the model on the first write (seconds), once it holds the index
  lock, and keeps it for later ones.

The server waits for the worker's report, then swaps the new generation in before it answers,
as before. The worker holds the index directory's writer lock, like any other writer; if it
dies mid-write, the committed index is unchanged (the writer is crash-safe) and the next write
starts a new worker.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from indexer.documents import Article
from indexer.embedder import Embedder
from indexer.pipeline import IndexReport, write_articles
from indexer.store import lock_index
from newsqa.errors import IndexBusyError, IndexWriteError
from newsqa.settings import Settings
from service.index_open import dense_config, open_embedder
from service.logging_setup import json_logging_level, log_json_to_stderr

WRITE_NICE = 10

log = logging.getLogger(__name__)

_embedder: Embedder | None = None
_settings: Settings | None = None


def _init(settings: Settings, server_pid: int, json_log_level: str | None = None) -> None:
    global _settings
    # Ctrl-C reaches every process of the terminal's group: this one died of it at once, a
    # KeyboardInterrupt traceback in the server's log (idle) or a write cut off mid-way,
    # while the server was finishing that write before shutting the pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with(server_pid)
    if json_log_level is not None:
        # A forkserver child starts with no logging configured: the writer's warnings (a merge
        # put off, old files not removed, Milvus re-synced) came out as bare text lines among
        # the server's JSON ones, with no level, logger or time, and its INFO lines not at all.
        log_json_to_stderr(json_log_level)
    os.nice(WRITE_NICE)
    _settings = settings  # the model: loaded by the first write, under the index lock


def _loaded_embedder() -> Embedder:
    """The worker's model, loaded (seconds: torch, FAISS, the weights) on the first call."""
    global _embedder
    assert _settings is not None, "write worker not initialized"
    if _embedder is None:
        import faiss
        import torch

        from indexer.openmp import on_openmp_thread

        threads = _settings.write_threads
        on_openmp_thread(torch.set_num_threads, threads)
        on_openmp_thread(faiss.omp_set_num_threads, threads)
        _embedder = open_embedder(
            _settings.model_copy(update={"embed_cache_size": 0}), embeds_questions=False
        )
    return _embedder


def _end_with(server_pid: int) -> None:
    """End this worker when the server ends, however it ends. A server killed with SIGKILL (an
    out-of-memory kill, a supervisor that kills the main process only) runs no shutdown, and
    its worker, a forkserver's child, went on holding its model (about 2 GB) for good. A
    write cut short so is not committed, which the writer survives (the next writer clears
    what it left)."""
    try:
        server = os.pidfd_open(server_pid)  # the process itself: a reused pid cannot fool it
    except ProcessLookupError:
        os._exit(0)

    def watch() -> None:
        select.select([server], [], [])  # readable once the server has exited
        os._exit(0)

    threading.Thread(target=watch, name="end-with-server", daemon=True).start()


class ProgressFile:
    """Indexing progress written to a small JSON file (``{task: {"completed", "total"}}``),
    at most every ``interval`` seconds: how a bulk job's poller (``service.jobs``) sees the
    chunks this process embeds, with no channel between the processes beyond a path."""

    def __init__(self, path: Path, interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self.tasks: dict[str, dict[str, float | None]] = {}
        self._written = 0.0
        self._failed = False

    def add_task(self, description: str, total: float | None = None) -> str:
        self.tasks[description] = {"completed": 0, "total": total}
        self._write(force=True)
        return description

    def advance(self, task_id: str, advance: float = 1) -> None:
        self.tasks[task_id]["completed"] = (self.tasks[task_id]["completed"] or 0) + advance
        self._write()

    def update(self, task_id: str, *, total: float | None = None) -> None:
        self.tasks[task_id]["total"] = total
        self._write(force=True)

    def flush(self) -> None:
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < self.interval:
            return
        self._written = now
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.tasks))
            os.replace(tmp, self.path)  # a reader never sees half a file
        except OSError as exc:
            # Progress is for pollers only: on a full disk it failed the write itself, as
            # "internal error: OSError", and left its .tmp file in .jobs for good. The write
            # goes on, and fails (or not) with the writer's own message.
            tmp.unlink(missing_ok=True)
            if not self._failed:
                self._failed = True
                log.warning("cannot save indexing progress to %s: %s", self.path, exc)

    @staticmethod
    def read(path: Path) -> dict[str, dict[str, float | None]]:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}


def _write(
    index_dir: Path,
    upsert: Sequence[Article],
    delete: Sequence[str],
    progress_path: Path | None = None,
    missing_ok: bool = False,
) -> IndexReport:
    assert _settings is not None, "write worker not initialized"
    progress = ProgressFile(progress_path) if progress_path is not None else None
    # The lock first, the model under it: a first write loaded the model (about 10 s) before
    # it asked for the lock, so behind another writer it answered 409 that much later than
    # NEWSQA_WRITE_LOCK_TIMEOUT (12 s for a timeout of 2).
    lock = lock_index(index_dir, _settings.write_lock_timeout)
    try:
        report = write_articles(
            index_dir,
            _loaded_embedder(),
            upsert,
            delete,
            lock_timeout=_settings.write_lock_timeout,
            dense=dense_config(_settings),
            progress=progress,
            lock=lock,
            missing_ok=missing_ok,
        )
    finally:
        lock.release()
    if progress is not None:
        progress.flush()
    return report


class WriteWorker:
    """The one process that carries out this server's writes, started on the first write."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._turn = threading.Lock()  # one write at a time, in the one worker

    def write(
        self,
        index_dir: Path,
        upsert: Sequence[Article] = (),
        delete: Sequence[str] = (),
        progress_path: Path | None = None,
        wait: float | None = None,
        missing_ok: bool = False,
    ) -> IndexReport:
        """Run one write in the worker; its report, or the error it raised. With
        ``progress_path``, the worker keeps its progress in that file (``ProgressFile``);
        ``missing_ok`` as ``write_articles``'.

        ``wait``: seconds to wait for a write of this server still running (a bulk job), then
        ``IndexBusyError``; None waits as long as it takes. A write queued in the pool waited
        out the whole job (minutes), past ``NEWSQA_WRITE_LOCK_TIMEOUT``, which only bounded the
        wait for other processes' writes."""
        if not self._turn.acquire(timeout=-1 if wait is None else wait):
            raise IndexBusyError(
                f"another write of this server is still running (a bulk job?); waited {wait:g} "
                "s (NEWSQA_WRITE_LOCK_TIMEOUT): retry later"
            )
        try:
            return self._write(index_dir, upsert, delete, progress_path, missing_ok)
        finally:
            self._turn.release()

    def _write(
        self,
        index_dir: Path,
        upsert: Sequence[Article],
        delete: Sequence[str],
        progress_path: Path | None,
        missing_ok: bool = False,
    ) -> IndexReport:
        pool = self._start()
        try:
            future = pool.submit(
                _write, index_dir, list(upsert), list(delete), progress_path, missing_ok
            )
            return future.result()
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
                    initargs=(self.settings, os.getpid(), json_logging_level()),
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
