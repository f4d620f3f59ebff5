"""newsqa's index directory on Milvus (``NEWSQA_VECTOR_STORE=milvus``).

The index directory stays the source of truth (SQLite, BM25, headlines, and every chunk vector
in the segments' FAISS files); the collection is the copy dense search runs on. A writer
(``MilvusMirror``) upserts a commit's new rows before it publishes the generation and deletes
the rows it tombstoned after, so the rows of the generation a reader has open are always in
the collection; a reader (``MilvusBackend``) maps the keys Milvus returns to its own
generation's rows and drops any other (rows of a generation not yet published, or of one a
crash left half-applied). Any drift is repaired by the next commit (``MilvusMirror.sync``).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict

import numpy as np

from indexer.dense.base import ChunkColumns, ChunkSource, MetadataFilter, pad_rows
from indexer.dense.milvus_client import MAX_K, MilvusVectorStore, MissingCollectionError
from newsqa.errors import VectorStoreError

_collections: dict[tuple[str, str], MilvusVectorStore] = {}

LocalSearch = Callable[[np.ndarray, int, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Exact search of a generation's own vectors: (queries, k, row mask) -> (scores, rows)."""


@contextlib.contextmanager
def milvus_errors(uri: str, what: str) -> Iterator[None]:
    """Turn pymilvus/gRPC failures into ``VectorStoreError`` naming the server and the call."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except (MilvusException, ConnectionError, OSError) as exc:
        raise VectorStoreError(f"Milvus at {uri} failed to {what}: {exc}") from exc


def open_collection(
    uri: str,
    collection: str,
    dimension: int,
    index_type: str,
    timeout: float,
    create: bool = True,
) -> MilvusVectorStore:
    """One client per collection and process (a reload or a writer reuses it). Only a writer
    creates a missing collection (and fills it: its commit re-syncs); a reader (``create=False``)
    gets ``VectorStoreError``: the collection its generation names was dropped or the server's
    data lost, and an empty one made in its place would silently drop every dense hit."""
    try:
        import pymilvus  # noqa: F401
    except ImportError as exc:
        raise VectorStoreError(
            "NEWSQA_VECTOR_STORE=milvus needs pymilvus: pip install -e '.[milvus]'"
        ) from exc
    key = (uri, collection)
    store = _collections.get(key)
    if store is None:
        with milvus_errors(uri, f"open collection {collection}"):
            try:
                store = MilvusVectorStore(
                    uri,
                    collection,
                    dimension,
                    index_type,
                    timeout,
                    read_consistency="Bounded",
                    create=create,
                )
            except MissingCollectionError:
                raise VectorStoreError(
                    f"Milvus at {uri} has no collection {collection}: run `newsqa index` with "
                    "NEWSQA_VECTOR_STORE=milvus to upload the index again"
                ) from None
        _collections[key] = store
    return store


_COLLECTION_NAME = re.compile(r"newsqa_[0-9a-f]{16}")


def new_collection_name() -> str:
    return f"newsqa_{uuid.uuid4().hex[:16]}"


def is_collection_name(name: str) -> bool:
    """Whether ``name`` is one ``new_collection_name`` makes (a half-written file is not)."""
    return _COLLECTION_NAME.fullmatch(name) is not None


class MilvusMirror:
    """The writer's side: keeps the collection equal to the committed generation's live rows.

    >>> mirror = MilvusMirror(open_collection(uri, name, 384, "FLAT", 30.0))
    >>> mirror.upsert(segment.columns(rows)); mirror.count()
    """

    def __init__(self, store: MilvusVectorStore) -> None:
        self.store = store
        self.uri = store.uri
        self.collection = store.collection

    def upsert(self, columns: ChunkColumns) -> int:
        if not len(columns.keys):
            return 0
        with milvus_errors(self.uri, f"upsert {len(columns.keys)} chunks"):
            return self.store.upsert(
                columns.keys,
                columns.vectors,
                columns.article_ids,
                columns.published_ts,
                columns.sources,
                columns.categories,
            )

    def delete_keys(self, keys: np.ndarray) -> None:
        if len(keys):
            with milvus_errors(self.uri, f"delete {len(keys)} chunks"):
                self.store.delete_keys(keys)

    def count(self) -> int:
        """Rows in the collection; a barrier too (see ``MilvusVectorStore.count``)."""
        with milvus_errors(self.uri, "count chunks"):
            return self.store.count()

    def sync(self, generation: Sequence[tuple[ChunkSource, np.ndarray]]) -> tuple[int, int]:
        """Make the collection hold exactly the live rows of ``generation`` (each segment with
        its live mask): upsert the missing ones (vectors from the segments), delete the others.
        Returns (upserted, deleted)."""
        with milvus_errors(self.uri, "list chunk keys"):
            present = self.store.ids()
        upserted = 0
        live_keys = []
        for seg, live in generation:
            keys = seg.keys
            live_keys.append(keys[live])
            missing = np.flatnonzero(live & ~np.isin(keys, present))
            if len(missing):
                upserted += self.upsert(seg.columns(missing))
        extra = np.setdiff1d(present, np.concatenate(live_keys) if live_keys else present[:0])
        self.delete_keys(extra)
        return upserted, len(extra)


class MilvusBackend:
    """The reader's side: dense search of one generation through the Milvus collection.

    ``row_keys`` holds the chunk key of every row of the generation, ``live`` which rows are
    live; ``local_vectors`` answers for rows the collection lacks (the segments' own copies),
    ``local_search`` (exact search of the segments: queries, k, mask) for a query Milvus
    answers short of k even at its widest search.
    """

    def __init__(
        self,
        store: MilvusVectorStore,
        row_keys: np.ndarray,
        live: np.ndarray,
        dimension: int,
        local_vectors: Callable[[np.ndarray], np.ndarray],
        local_search: LocalSearch | None = None,
    ) -> None:
        self.store = store
        self.row_keys = row_keys
        self.dimension = dimension
        self.local_vectors = local_vectors
        self.local_search = local_search
        live_rows = np.flatnonzero(live)
        keys = row_keys[live_rows]
        order = np.argsort(keys, kind="stable")
        self._keys, self._rows = keys[order], live_rows[order]

    def describe(self) -> str:
        return f"milvus {self.store.uri} {self.store.collection}"

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """This generation's live row of each key; -1 for a key it does not have."""
        if not len(self._keys):
            return np.full(keys.shape, -1, dtype=np.int64)
        at = np.clip(np.searchsorted(self._keys, keys), 0, len(self._keys) - 1)
        return np.where(self._keys[at] == keys, self._rows[at], -1)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        mask: np.ndarray,
        pushdown: MetadataFilter | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        matching = int(mask.sum())
        k = min(k, matching)
        if k == 0:
            return pad_rows([[] for _ in range(len(queries))])
        where = asdict(pushdown or MetadataFilter())
        del where["event_from"], where["event_to"]  # stated as article_ids (IndexStore.pushdown)
        # An approximate index searches wider the fewer rows the filters keep (IVF_FLAT's
        # nprobe, see milvus_client.INDEX_TYPES); share 0 is its widest search.
        share = matching / max(1, len(self._keys))
        # Fetch a little more than k: keys of rows outside this generation are dropped below.
        fetch = min(MAX_K, k + 16 + k // 4)
        while True:
            with milvus_errors(self.store.uri, "search"):
                scores, keys = self.store.search(queries, fetch, share=share, **where)
            rows = self.rows_of(keys)
            ok = rows >= 0
            ok[ok] = mask[rows[ok]]
            picked = [
                [(float(scores[q, j]), int(rows[q, j])) for j in np.flatnonzero(ok[q])][:k]
                for q in range(len(queries))
            ]
            hits = (keys >= 0).sum(axis=1)
            short = [len(p) < k for p in picked]
            # A query short of k rows either got all ``fetch`` hits and lost some to the
            # generation (fetch more), or got fewer: the index's search missed matching rows
            # (redo it at its widest, which for IVF_FLAT is exact).
            if any(s and hits[q] >= fetch for q, s in enumerate(short)) and fetch < MAX_K:
                fetch = min(MAX_K, fetch * 4)
            elif any(s and hits[q] < fetch for q, s in enumerate(short)) and share > 0:
                share = 0.0
            else:
                return pad_rows(self._exact_where_short(queries, k, mask, picked, short))

    def _exact_where_short(
        self,
        queries: np.ndarray,
        k: int,
        mask: np.ndarray,
        picked: list[list[tuple[float, int]]],
        short: list[bool],
    ) -> list[list[tuple[float, int]]]:
        """Milvus 2.3's HNSW returns some queries few or no rows, even at ef=32768, when the
        filters and deletes leave about 10-20% of the rows (a bitset it still walks the graph
        under; sparser ones it searches exactly): on 20k rows with 90% deleted, 2 of 100
        unfiltered queries got no row (recall@10 0.94). Those queries get the segments' exact
        search; rows of this generation the collection lacks are found there too."""
        lacking = [q for q, s in enumerate(short) if s]
        if not lacking or self.local_search is None:
            return picked
        scores, rows = self.local_search(queries[lacking], k, mask)
        for i, q in enumerate(lacking):
            picked[q] = [(float(sc), int(r)) for sc, r in zip(scores[i], rows[i]) if r >= 0]
        return picked

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        keys = self.row_keys[rows]
        with milvus_errors(self.store.uri, "fetch vectors"):
            found = self.store.vectors(keys)
        out = np.zeros((len(rows), self.dimension), dtype=np.float32)
        missing = []
        for i, key in enumerate(keys):
            vector = found.get(int(key))
            if vector is None:
                missing.append(i)
            else:
                out[i] = vector
        if missing:  # not (yet) in the collection: the segment's own copy answers
            out[missing] = self.local_vectors(rows[missing])
        return out
