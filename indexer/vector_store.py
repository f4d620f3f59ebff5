"""Where the dense side of retrieval searches: the embedded FAISS segments, or a Milvus server.

``IndexStore`` asks its vector backend two things: the top chunks for query vectors (with the
request's filters) and the vectors of given chunks (to score BM25 candidates densely). Two
backends answer them with the same semantics, chosen by ``NEWSQA_VECTOR_STORE``:

- ``faiss`` (default): each segment's ``vectors.faiss``, searched in process.
- ``milvus``: one Milvus collection per index directory (``indexer.milvus_store``); the
  segments' FAISS files are still written (they are the durable copy the collection can be
  rebuilt from without re-embedding) but a service never loads them.

Milvus rows are keyed by a *chunk key*, a hash of the article id, the article's content hash
and the chunk ordinal: it does not change when segments merge or rows are renumbered, so a
merge costs Milvus nothing, and a generation can map keys to its own rows.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

import numpy as np

from indexer.openmp import on_openmp_thread

if TYPE_CHECKING:
    from indexer.store import IndexStore

_KEY_MASK = (1 << 63) - 1


def chunk_key(article_id: str, content_hash: str, ordinal: int) -> int:
    """A stable, non-negative 63-bit key for one chunk of one version of an article."""
    digest = hashlib.blake2b(
        f"{article_id}\0{content_hash}\0{ordinal}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") & _KEY_MASK


@dataclass(frozen=True)
class MetadataFilter:
    """The request's filters in the form a vector store can push down (timestamps in seconds;
    ``None``: no constraint). Same meaning as ``service.retrieval.Filters``."""

    published_from: float | None = None
    published_to: float | None = None
    source: str | None = None
    category: str | None = None

    def is_empty(self) -> bool:
        return all(
            v is None for v in (self.published_from, self.published_to, self.source, self.category)
        )


class VectorBackend(Protocol):
    """The dense half of an ``IndexStore``; rows are the store's global row numbers."""

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        pushdown: MetadataFilter | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)`` of the top-``k`` live, allowed rows per query, best first,
        padded with ``-inf`` / ``-1``."""
        ...

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray: ...

    def describe(self) -> str: ...


class FaissBackend:
    """Searches every segment's FAISS index and merges the per-segment top lists."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None,
        pushdown: MetadataFilter | None = None,  # the allowed mask already says it
    ) -> tuple[np.ndarray, np.ndarray]:
        # One thread for one query, in the caller's thread (a service: requests already run
        # in parallel; 2.8x faster than all cores on one query, bench section 4); all cores
        # for a batch (eval), on the OpenMP thread (``indexer.openmp``: a FAISS team in
        # another thread would halve the model's speed).
        if len(queries) == 1:
            return self._search_threads(queries, k, allowed, 1)
        return on_openmp_thread(self._search_threads, queries, k, allowed, _cores())

    def _search_threads(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None, threads: int
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        # OpenMP keeps the thread count per calling thread: set here, where the search runs.
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(threads)
        try:
            return self._search(queries, k, allowed)
        finally:
            faiss.omp_set_num_threads(before)

    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        from indexer.store import search_parameters

        store = self.store
        mask = store.live if allowed is None else store.live & allowed
        k = min(k, int(mask.sum()))
        found_scores, found_rows = [], []
        for i, seg in enumerate(store.segments):
            sub = mask[store.offsets[i] : store.offsets[i + 1]]
            if not sub.any() or k == 0:
                continue
            sel = None if sub.all() else faiss.IDSelectorBatch(np.flatnonzero(sub))
            params = search_parameters(seg.index, sel)
            scores, rows = seg.index.search(queries, min(k, int(sub.sum())), params=params)
            found_scores.append(scores)
            found_rows.append(np.where(rows >= 0, rows + store.offsets[i], -1))
        if not found_scores:
            return _empty(len(queries))
        scores = np.concatenate(found_scores, axis=1)
        rows = np.concatenate(found_rows, axis=1)
        scores = np.where(rows >= 0, scores, -np.inf)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        return self.store.local_vectors_of(rows)

    def describe(self) -> str:
        return "faiss"


@cache
def _cores() -> int:
    return len(os.sched_getaffinity(0))


def _empty(n: int) -> tuple[np.ndarray, np.ndarray]:
    empty = np.zeros((n, 0))
    return empty.astype(np.float32), empty.astype(np.int64)


def pad_rows(picked: list[list[tuple[float, int]]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-query ``(score, row)`` lists as the padded arrays ``VectorBackend.search`` returns."""
    width = max((len(p) for p in picked), default=0)
    scores = np.full((len(picked), width), -np.inf, dtype=np.float32)
    rows = np.full((len(picked), width), -1, dtype=np.int64)
    for q, hits in enumerate(picked):
        for j, (score, row) in enumerate(hits):
            scores[q, j], rows[q, j] = score, row
    return scores, rows
