"""Passage embedding spread over several processes (one machine) or a Ray cluster.

Both engines give what ``Embedder.embed_passages`` gives: float32, L2-normalized vectors, one
per text, in the order of the texts.

- ``embed_passages_parallel``: a ``ProcessPoolExecutor`` ("forkserver" context, "spawn"
  where there is none: a process running torch must not be forked) whose initializer loads
  one ``Embedder`` per worker process, with
  ``os.cpu_count() // workers`` torch threads each, so that the workers share the cores
  instead of fighting over them. Batches go out in order and come back in order.
- ``embed_passages_ray``: a Ray Data pipeline (``pip install -e '.[ray]'``): one ``Embedder``
  per actor (``map_batches`` with a callable class on a pool of ``workers`` actors). Ray Data does
  not keep row order by default, so each row carries its position and the vectors are put
  back in place.

Starting the workers costs what loading the model costs (seconds per worker): worth it for a
corpus, not for a handful of articles.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from indexer.embedder import Embedder, EmbedderConfig

RAY_BATCH = 64
"""Rows per ``map_batches`` call of the Ray engine."""

_worker_embedder: Embedder | None = None


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _init_worker(config: EmbedderConfig, threads: int) -> None:
    """Load the model ``config`` names (already built by the parent, see ``EmbedderConfig``),
    without the query cache: passages being indexed never repeat."""
    import torch

    from indexer.openmp import on_openmp_thread

    global _worker_embedder
    on_openmp_thread(torch.set_num_threads, threads)
    _worker_embedder = replace(config, cache_size=0).load(embeds_questions=False)


def _embed_batch(texts: list[str]) -> np.ndarray:
    assert _worker_embedder is not None, "worker not initialized"
    return _worker_embedder.embed_passages(texts)


def _batches(texts: Sequence[str], workers: int, batch: int) -> list[list[str]]:
    """Batches of at most ``batch`` texts, small enough that every worker gets some."""
    size = max(1, min(batch, math.ceil(len(texts) / workers)))
    return [list(texts[i : i + size]) for i in range(0, len(texts), size)]


def embed_passages_parallel(
    texts: Sequence[str],
    config: EmbedderConfig,
    workers: int,
    batch: int = 256,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Passage vectors of ``texts`` computed by ``workers`` processes, in order.

    ``on_batch(n)`` is called in this process as each batch of ``n`` texts is done (in
    completion order), for progress bars.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    batches = _batches(texts, workers, batch)
    if not batches:
        return np.zeros((0, _dimension(config)), dtype=np.float32)
    workers = min(workers, len(batches))
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_mp_context(),
        initializer=_init_worker,
        initargs=(config, threads_per_worker(workers)),
    ) as pool:
        futures = [pool.submit(_embed_batch, b) for b in batches]
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    if future.exception() is not None:
                        raise future.exception()  # type: ignore[misc]
                    if on_batch is not None:
                        on_batch(len(future.result()))
        except BaseException:
            # A failed batch, or SIGTERM/Ctrl-C unwinding the caller: leaving the block waits
            # for the pool, which ran every batch still queued, and each running one, first
            # (minutes for a corpus, its result thrown away)
            _stop_workers(pool)
            raise
        return np.ascontiguousarray(np.concatenate([f.result() for f in futures]))


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the batches not started and end the worker processes now."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((pool._processes or {}).values())  # no public way before 3.14
    pool.shutdown(wait=False, cancel_futures=True)  # forgets them
    for process in processes:
        process.terminate()


PRELOAD = ["indexer.embedder", "torch", "sentence_transformers"]
"""Imported once by the fork server; each worker forks from it with them loaded (importing
sentence-transformers costs seconds, loading the model after that about as much)."""


def _mp_context() -> BaseContext:
    """A fork server (where the platform has one) that has imported ``PRELOAD`` and has
    started no thread: workers are forked from it, never from this process, whose torch may
    be running threads. It lives as long as this process, so later pools start faster.
    Elsewhere: spawn."""
    if "forkserver" not in get_all_start_methods():
        return get_context("spawn")
    context = get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _dimension(config: EmbedderConfig) -> int:
    """The model's dimension without loading torch here (from its sentence-transformers
    folder), or by loading it when the folder does not say."""
    import json
    from pathlib import Path

    try:
        return int(json.loads((Path(config.path) / "config.json").read_text())["hidden_size"])
    except (OSError, KeyError, ValueError):
        return config.load().dimension


class _RayEmbedder:
    """The ``map_batches`` callable: one Embedder per Ray actor."""

    def __init__(self, config: EmbedderConfig, threads: int) -> None:
        _init_worker(config, threads)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = _embed_batch([str(t) for t in batch["text"]])
        return {"position": np.asarray(batch["position"], dtype=np.int64), "vector": vectors}


def embed_passages_ray(
    texts: Sequence[str],
    config: EmbedderConfig,
    workers: int = 2,
    batch: int = RAY_BATCH,
) -> np.ndarray:
    """Passage vectors of ``texts`` computed by ``workers`` Ray actors, in order.

    Uses the Ray cluster this process is connected to; otherwise starts a local one for the
    call (loopback only, no dashboard; ``RAY_ADDRESS`` names an existing cluster instead)
    and shuts it down afterwards.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    texts = list(texts)
    if not texts:
        return np.zeros((0, _dimension(config)), dtype=np.float32)
    ray = _import_ray_on_loopback()
    started_here = not ray.is_initialized()
    if started_here:
        _start_local_ray(workers)
    try:
        return _ray_pipeline(texts, config, workers, batch)
    finally:
        if started_here:
            ray.shutdown()


LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray reads it when it is imported: "0" makes every Ray process register and listen on
127.0.0.1 only. Without it Ray resolves even ``_node_ip_address="127.0.0.1"`` to the
machine's LAN address."""


def _import_ray_on_loopback():  # type: ignore[no-untyped-def]
    """Import Ray for a local, loopback-only cluster (unless ``RAY_ADDRESS`` names one)."""
    if not os.environ.get("RAY_ADDRESS"):
        os.environ.setdefault(LOOPBACK_ENV, "0")
    import ray
    from ray._private import ray_constants

    if os.environ.get(LOOPBACK_ENV) == "0" and ray_constants.ENABLE_RAY_CLUSTER:
        # Ray was imported before the variable was set: its constant was read then.
        ray_constants.ENABLE_RAY_CLUSTER = False
    return ray


def _start_local_ray(workers: int) -> None:
    import ray

    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"])
        return
    ray.init(
        num_cpus=max(workers, os.cpu_count() or 1),
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=512 * 1024 * 1024,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
    if addresses != {"127.0.0.1"}:
        ray.shutdown()
        raise RuntimeError(f"local Ray did not stay on loopback: {sorted(addresses)}")


def _ray_pipeline(texts: list[str], config: EmbedderConfig, workers: int, batch: int) -> np.ndarray:
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    dataset = ray.data.from_items(
        [{"position": i, "text": text} for i, text in enumerate(texts)],
        override_num_blocks=max(1, min(len(texts) // batch, workers * 4)),
    )
    # a fixed pool of `workers` actors (``compute``; older Ray Data: ``concurrency=workers``)
    pool = (
        {"compute": ray.data.ActorPoolStrategy(size=workers)}
        if hasattr(ray.data, "ActorPoolStrategy")
        else {"concurrency": workers}
    )
    embedded = dataset.map_batches(
        _RayEmbedder,
        fn_constructor_kwargs={"config": config, "threads": threads_per_worker(workers)},
        batch_size=batch,
        batch_format="numpy",
        num_cpus=1,
        **pool,
    )
    out: np.ndarray | None = None
    filled = np.zeros(len(texts), dtype=bool)
    for part in embedded.iter_batches(batch_size=None, batch_format="numpy"):
        positions = np.asarray(part["position"], dtype=np.int64)
        vectors = np.asarray(part["vector"], dtype=np.float32)
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        out[positions] = vectors
        filled[positions] = True
    del embedded
    _wait_for_actors_to_exit()
    if out is None or not filled.all():
        raise RuntimeError(f"Ray returned {int(filled.sum())} of {len(texts)} vectors")
    return out


def _wait_for_actors_to_exit(timeout: float = 30.0) -> None:
    """Ray Data stops its actors in the background once a dataset is done, and the GCS calls
    them dead before their processes have exited. Shutting Ray down then orphans them (they
    linger, then become zombies that PID 1 may never reap): wait until the processes of our
    embedding actors on this machine are gone."""
    import time

    try:
        from ray._private import state

        actors = state.actors().values()
    except Exception:  # noqa: BLE001 - internal API: best effort only
        return
    pids = [
        int(info["Pid"])
        for info in actors
        if "_RayEmbedder" in str(info.get("ActorClassName", ""))
        and info.get("Address", {}).get("IPAddress") == "127.0.0.1"
        and info.get("Pid")
    ]
    deadline = time.monotonic() + timeout
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (Linux /proc; elsewhere: never waits)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
