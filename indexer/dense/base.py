"""What the store and its dense backends agree on: rows, chunk keys, filters, the protocol.

``IndexStore`` asks its dense backend two things: the top chunks for query vectors (with the
request's filters) and the vectors of given chunks (to score BM25 candidates densely). Two
backends answer them with the same semantics, chosen by ``NEWSQA_VECTOR_STORE`` at the edge
(``service.index_open``):

- ``faiss`` (default): each segment's ``vectors.faiss``, searched in process
  (``indexer.dense.faiss_backend``).
- ``milvus``: one Milvus collection per index directory (``indexer.dense.milvus``); the
  segments' FAISS files are still written (they are the durable copy the collection can be
  rebuilt from without re-embedding) but a service never loads them.

Rows are the store's global row numbers: every segment's rows, deleted ones included, one after
the other; ``offsets[i]`` is segment ``i``'s first row and ``offsets[-1]`` the total. A backend
gets numpy arrays in that numbering and never the store itself.

Milvus rows are keyed by a *chunk key*, a hash of the article id, the article's content hash
and the chunk ordinal: it does not change when segments merge or rows are renumbered, so a
merge costs Milvus nothing, and a generation can map keys to its own rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

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
    source: tuple[str, ...] | None = None
    """Any of these outlets (case-insensitive)."""
    category: tuple[str, ...] | None = None
    """Any of these sections (case-insensitive)."""
    event_from: int | None = None
    """Articles naming a time that ends on or after this day (``date.toordinal``)."""
    event_to: int | None = None
    """... and starts on or before this day."""
    article_ids: tuple[str, ...] | None = None
    """Only these articles: how the store states the event filters to a vector store that
    filters by itself (``IndexStore.pushdown``); Milvus holds no events."""

    def is_empty(self) -> bool:
        return all(v is None for v in asdict(self).values())

    @property
    def has_events(self) -> bool:
        return self.event_from is not None or self.event_to is not None


@dataclass(frozen=True)
class ChunkColumns:
    """Chunks as a vector store that filters by itself (Milvus) stores them, one entry per
    chunk; ``published_ts`` is None for an undated article."""

    keys: np.ndarray
    vectors: np.ndarray
    article_ids: list[str]
    published_ts: list[float | None]
    sources: list[str]
    categories: list[str]


class ChunkSource(Protocol):
    """One segment's chunks as a mirror copies them (``indexer.store.Segment`` is one)."""

    @property
    def keys(self) -> np.ndarray:
        """The chunk key of each row."""
        ...

    def columns(self, rows: np.ndarray) -> ChunkColumns: ...


class DenseBackend(Protocol):
    """The dense half of an ``IndexStore``; rows are the store's global row numbers."""

    def search(
        self,
        queries: np.ndarray,
        k: int,
        mask: np.ndarray,
        pushdown: MetadataFilter | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)`` of the top-``k`` rows per query among those ``mask`` (one bool
        per row: live and passing the filters) allows, best first, padded with ``-inf`` /
        ``-1``. ``pushdown`` states the filters again for a backend that applies them itself."""
        ...

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """Chunk vectors of ``rows``, in order."""
        ...

    def describe(self) -> str:
        """Where the vectors are, for ``/ready``."""
        ...


def locate(offsets: np.ndarray, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The segment of each global row and its row inside that segment."""
    rows = np.asarray(rows, dtype=np.int64)
    which = np.searchsorted(offsets, rows, side="right") - 1
    return which, rows - offsets[which]


def empty_result(n: int) -> tuple[np.ndarray, np.ndarray]:
    """No hits for ``n`` queries, in the shape ``DenseBackend.search`` returns."""
    empty = np.zeros((n, 0))
    return empty.astype(np.float32), empty.astype(np.int64)


def pad_rows(picked: list[list[tuple[float, int]]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-query ``(score, row)`` lists as the padded arrays ``DenseBackend.search`` returns."""
    width = max((len(p) for p in picked), default=0)
    scores = np.full((len(picked), width), -np.inf, dtype=np.float32)
    rows = np.full((len(picked), width), -1, dtype=np.int64)
    for q, hits in enumerate(picked):
        for j, (score, row) in enumerate(hits):
            scores[q, j], rows[q, j] = score, row
    return scores, rows
