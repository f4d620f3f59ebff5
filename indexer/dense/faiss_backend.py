"""Dense search over the segments' own FAISS files, in process (``NEWSQA_VECTOR_STORE=faiss``).

This module alone decides which FAISS index a segment gets and how it is searched (as txtai's
``ann/faiss.py`` does for its ANN): the store hands it vectors to write and segments to search,
and knows nothing of index types.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from indexer.dense.base import MetadataFilter, empty_result, locate
from indexer.openmp import on_openmp_thread

HNSW_FROM = 200_000
"""Segments with at least this many chunks get an HNSW graph instead of exact search (see
bench/: exact search time grows with the segment, HNSW's barely, at recall@10 >= 0.95)."""
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128
HNSW_EF_MAX = 1024
"""The widest efSearch a filtered HNSW search gets; a narrower filter is searched exactly
(``search_segment``)."""


def vector_index(vectors: np.ndarray) -> Any:
    """Inner product over normalised vectors: exact below ``HNSW_FROM`` rows, HNSW above."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dimension = int(vectors.shape[1])
    if len(vectors) < HNSW_FROM:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    on_openmp_thread(index.add, vectors)  # HNSW builds on all cores (``indexer.openmp``)
    return index


def search_segment(
    index: Any, queries: np.ndarray, k: int, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The top-``k`` rows of ``index`` among ``allowed`` (one bool per row), best first.

    HNSW with a filter walks the graph and keeps only the rows the filter lets through, so a
    selective filter (a section, an outlet, a day; most rows of a segment deleted) ended the
    walk with fewer than ``k`` rows, or without the best ones: on 210k chunks a filter keeping
    0.5% of them returned 7 of 30 rows (recall@10 0.59), one keeping 5% of a topic 17 of 30
    (0.61). So efSearch widens by the share filtered out (at 210k chunks every filter then
    returns k rows, recall@10 0.995 or more for random rows and deletes, 0.95 or more for a
    topic's); past ``HNSW_EF_MAX`` (fewer than 1 row in 8 allowed) the allowed rows are searched
    exactly over the graph's own flat storage, and a walk that still comes back short is redone
    exactly.
    """
    import faiss

    matching = int(allowed.sum())
    sel = None if matching == len(allowed) else _selector(allowed)
    exact = None if sel is None else faiss.SearchParameters(sel=sel)
    if not isinstance(index, faiss.IndexHNSW):
        return index.search(queries, k, params=exact)
    flat = faiss.downcast_index(index.storage)
    ef = math.ceil(HNSW_EF_SEARCH * len(allowed) / matching)
    if ef > HNSW_EF_MAX:
        return flat.search(queries, k, params=exact)
    params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
    scores, rows = index.search(queries, k, params=params)
    if (rows < 0).any():  # the walk found fewer than ``k`` of the ``matching >= k`` rows
        return flat.search(queries, k, params=exact)
    return scores, rows


def _selector(allowed: np.ndarray) -> Any:
    """``allowed`` as a FAISS ID selector: a bitmap, one bit per row (built in microseconds,
    where an ``IDSelectorBatch`` of 100k ids took tens of milliseconds a query)."""
    import faiss

    return faiss.IDSelectorBitmap(np.packbits(allowed, bitorder="little"))


def write_index(vectors: np.ndarray, path: Path) -> None:
    """Index ``vectors`` (row ``i`` gets id ``i``) and write the index to ``path``.

    Python opens the file and FAISS writes through it: FAISS's own path argument takes only a
    ``str`` it can encode as UTF-8, so an index directory whose name is not UTF-8 (a folder
    named in Latin-1, any non-ASCII name under ``PYTHONUTF8=0 LC_ALL=C``; Python holds those
    bytes as surrogates) failed with SWIG's TypeError, a traceback."""
    import faiss

    index = vector_index(vectors)
    with path.open("wb") as file:
        faiss.write_index(index, faiss.PyCallbackIOWriter(file.write))


def read_index(path: Path) -> Any:
    """The index ``write_index`` wrote (raises RuntimeError or OSError when unreadable); the
    file is opened by Python, as ``write_index`` says why."""
    import faiss

    with path.open("rb") as file:
        return faiss.read_index(faiss.PyCallbackIOReader(file.read))


def reconstruct(index: Any, rows: np.ndarray) -> np.ndarray:
    """The stored vectors of ``rows`` (ids) of ``index``."""
    if not len(rows):
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_batch(np.asarray(rows, dtype=np.int64))


class VectorSegment(Protocol):
    """A segment as this backend searches it (``indexer.store.Segment`` is one)."""

    @property
    def index(self) -> Any:
        """The segment's FAISS index, read on first use."""
        ...


class FaissBackend:
    """Searches every segment's FAISS index and merges the per-segment top lists.

    >>> backend = FaissBackend(segments, offsets, 384)
    >>> scores, rows = backend.search(queries, 10, mask, None)
    """

    def __init__(
        self, segments: Sequence[VectorSegment], offsets: np.ndarray, dimension: int
    ) -> None:
        self.segments = segments
        self.offsets = offsets
        self.dimension = dimension

    def search(
        self,
        queries: np.ndarray,
        k: int,
        mask: np.ndarray,
        pushdown: MetadataFilter | None = None,  # the mask already says it
    ) -> tuple[np.ndarray, np.ndarray]:
        # One thread for one query, in the caller's thread (a service: requests already run
        # in parallel; 2.8x faster than all cores on one query, bench section 4); all cores
        # for a batch (eval), on the OpenMP thread (``indexer.openmp``: a FAISS team in
        # another thread would halve the model's speed).
        if len(queries) == 1:
            return self._search_threads(queries, k, mask, 1)
        return on_openmp_thread(self._search_threads, queries, k, mask, _cores())

    def _search_threads(
        self, queries: np.ndarray, k: int, mask: np.ndarray, threads: int
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        # OpenMP keeps the thread count per calling thread: set here, where the search runs.
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(threads)
        try:
            return self._search(queries, k, mask)
        finally:
            faiss.omp_set_num_threads(before)

    def _search(
        self, queries: np.ndarray, k: int, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, int(mask.sum()))
        found_scores, found_rows = [], []
        for i, seg in enumerate(self.segments):
            start, end = self.offsets[i], self.offsets[i + 1]
            sub = mask[start:end]
            if not sub.any() or k == 0:
                continue
            scores, rows = search_segment(seg.index, queries, min(k, int(sub.sum())), sub)
            found_scores.append(scores)
            found_rows.append(np.where(rows >= 0, rows + start, -1))
        if not found_scores:
            return empty_result(len(queries))
        scores = np.concatenate(found_scores, axis=1)
        rows = np.concatenate(found_rows, axis=1)
        scores = np.where(rows >= 0, scores, -np.inf)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """Chunk vectors of ``rows`` from the segments' own FAISS files."""
        which, local = locate(self.offsets, rows)
        out = np.zeros((len(local), self.dimension), dtype=np.float32)
        for i in np.unique(which):
            picked = which == i
            out[picked] = reconstruct(self.segments[i].index, local[picked])
        return out

    def describe(self) -> str:
        return "faiss"


@cache
def _cores() -> int:
    return len(os.sched_getaffinity(0))
