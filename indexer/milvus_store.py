"""Chunk vectors in a Milvus collection, with the article metadata that filters need.

A standalone vector store for a Milvus server (checked against Milvus 2.3.5 standalone, the
PyPI package ``milvus``, with pymilvus 3.0): ``pip install -e '.[milvus]'``.

One entity per chunk::

    key           INT64, primary key (the caller's chunk key)
    vector        FLOAT_VECTOR(dimension), L2-normalized
    article_id    VARCHAR
    published_ts  DOUBLE, seconds since the epoch; MISSING_TS for an undated article
    source        VARCHAR, casefolded
    category      VARCHAR, casefolded

- **Metric and index**: inner product (``IP``) on normalized vectors, i.e. cosine, the same
  scores as the FAISS ``IndexFlatIP`` of the segments. The default index is ``FLAT``: exact
  search, so results match FAISS (up to ties); for collections of millions of chunks pass
  ``index_type="HNSW"`` (``M=16, efConstruction=200``, searched with ``ef=max(64, k)``) or
  ``"IVF_FLAT"`` (``nlist=1024``, searched with ``nprobe=32``), both approximate.
- **Consistency**: the collection is created with consistency level ``Strong`` and every
  search and query asks for it too, so a search right after an upsert or a delete sees it.
- **Filters** are pushed down as Milvus boolean expressions, with the semantics of the FAISS
  side (``service.retrieval.Filters``): a date range is inclusive at both ends and never
  matches an undated article (stored as the sentinel ``MISSING_TS``, since a DOUBLE field
  takes no NaN or null in Milvus 2.3); source and category match case-insensitively (stored
  casefolded, compared with the casefolded wanted value).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np

from indexer.vector_store import MetadataFilter, pad_rows
from newsqa.errors import VectorStoreError

if TYPE_CHECKING:
    from indexer.store import IndexStore, Segment

MISSING_TS = -1.0e18
"""``published_ts`` of an undated article: far before any real date, excluded by any date
filter (see ``date_expression``)."""

MAX_VARCHAR = 1024
"""Longest article id, source or category accepted (UTF-8 bytes)."""

INDEX_TYPES = {
    "FLAT": ({}, lambda k: {}),
    "HNSW": ({"M": 16, "efConstruction": 200}, lambda k: {"ef": max(64, k)}),
    "IVF_FLAT": ({"nlist": 1024}, lambda k: {"nprobe": 32}),
}
_DELETE_BATCH = 1000
MAX_K = 16_384
"""Milvus's largest ``limit`` (topk) for one search."""


class _NoMvccWarning(logging.Filter):
    """pymilvus 3's query iterator asks the server for a session timestamp that Milvus 2.3
    does not return, warns, and uses the client's clock instead (same machine: as strong)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mvccTs" not in record.getMessage()


logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_NoMvccWarning())


def quote(value: str) -> str:
    """A Milvus expression string literal (double-quoted, backslash escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"timestamp must be finite, got {value}")
    return repr(float(value))


def date_expression(published_from: float | None, published_to: float | None) -> list[str]:
    """Clauses for an inclusive date range; an undated article never passes a date filter."""
    clauses = []
    if published_from is not None:
        clauses.append(f"published_ts >= {_number(published_from)}")
    if published_to is not None:
        clauses.append(f"published_ts <= {_number(published_to)}")
    if clauses:
        clauses.append(f"published_ts != {_number(MISSING_TS)}")
    return clauses


def filter_expression(
    published_from: float | None = None,
    published_to: float | None = None,
    source: str | None = None,
    category: str | None = None,
) -> str:
    """The boolean expression of the filters ("" when there are none)."""
    clauses = date_expression(published_from, published_to)
    if source is not None:
        clauses.append(f"source == {quote(source.casefold())}")
    if category is not None:
        clauses.append(f"category == {quote(category.casefold())}")
    return " and ".join(f"({c})" for c in clauses)


class MilvusVectorStore:
    """A Milvus collection of chunk vectors; created on first use, reopened afterwards.

    >>> store = MilvusVectorStore("http://127.0.0.1:19530", "newsqa_chunks", 384)
    >>> store.upsert(keys, vectors, article_ids, published_ts, sources, categories)
    >>> scores, keys = store.search(queries, k=10, source="detik")
    """

    def __init__(
        self,
        uri: str,
        collection: str,
        dimension: int,
        index_type: str = "FLAT",
        timeout: float | None = 60.0,
        read_consistency: str = "Strong",
    ) -> None:
        from pymilvus import MilvusClient

        if index_type not in INDEX_TYPES:
            raise ValueError(f"index_type must be one of {sorted(INDEX_TYPES)}, got {index_type}")
        self.uri = uri
        self.collection = collection
        self.dimension = int(dimension)
        self.index_type = index_type
        self.timeout = timeout
        # Strong waits for every write before now (~0.4 s per call on the 2.3 standalone);
        # a service reads with "Bounded": the writer's barrier (``count``) already waited.
        self.read_consistency = read_consistency
        self.client = MilvusClient(uri=uri, timeout=timeout)
        if self.client.has_collection(collection):
            self._check_existing()
            self.client.load_collection(collection)
        else:
            self._create()

    # -- schema -------------------------------------------------------------------------

    def _create(self) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("article_id", DataType.VARCHAR, max_length=MAX_VARCHAR)
        schema.add_field("published_ts", DataType.DOUBLE)
        schema.add_field("source", DataType.VARCHAR, max_length=MAX_VARCHAR)
        schema.add_field("category", DataType.VARCHAR, max_length=MAX_VARCHAR)
        build_params, _ = INDEX_TYPES[self.index_type]
        index_params = MilvusClient.prepare_index_params()
        index_params.add_index(
            "vector", index_type=self.index_type, metric_type="IP", params=build_params
        )
        self.client.create_collection(
            self.collection,
            schema=schema,
            index_params=index_params,
            consistency_level="Strong",
        )
        self.client.load_collection(self.collection)

    def _check_existing(self) -> None:
        described = self.client.describe_collection(self.collection)
        for field in described.get("fields", []):
            if field.get("name") == "vector":
                dim = int(field.get("params", {}).get("dim", self.dimension))
                if dim != self.dimension:
                    raise ValueError(
                        f"collection {self.collection} holds {dim}-d vectors, not {self.dimension}"
                    )

    # -- writes -------------------------------------------------------------------------

    def upsert(
        self,
        keys: np.ndarray,
        vectors: np.ndarray,
        article_ids: Sequence[str],
        published_ts: Sequence[float | None],
        sources: Sequence[str | None],
        categories: Sequence[str | None],
        batch: int = 1000,
    ) -> int:
        """Insert the chunks, replacing those whose key is already there; returns the count."""
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = len(keys)
        if vectors.shape != (n, self.dimension):
            raise ValueError(f"vectors must be ({n}, {self.dimension}), got {vectors.shape}")
        for name, column in (
            ("article_ids", article_ids),
            ("published_ts", published_ts),
            ("sources", sources),
            ("categories", categories),
        ):
            if len(column) != n:
                raise ValueError(f"{name} has {len(column)} values for {n} keys")
        if len(np.unique(keys)) != n:
            raise ValueError("keys must be unique within one upsert")
        rows = [
            {
                "key": int(keys[i]),
                "vector": vectors[i].tolist(),
                "article_id": _varchar(article_ids[i], "article id"),
                "published_ts": _timestamp(published_ts[i]),
                "source": _varchar((sources[i] or "").casefold(), "source"),
                "category": _varchar((categories[i] or "").casefold(), "category"),
            }
            for i in range(n)
        ]
        for start in range(0, n, batch):
            self.client.upsert(self.collection, rows[start : start + batch], timeout=self.timeout)
        return n

    def delete(self, article_ids: Sequence[str]) -> None:
        """Delete every chunk of these articles (by expression on ``article_id``)."""
        ids = list(dict.fromkeys(article_ids))
        for start in range(0, len(ids), _DELETE_BATCH):
            part = ids[start : start + _DELETE_BATCH]
            expr = f"article_id in [{', '.join(quote(a) for a in part)}]"
            self.client.delete(self.collection, filter=expr, timeout=self.timeout)

    def delete_keys(self, keys: np.ndarray | Sequence[int]) -> None:
        """Delete chunks by primary key."""
        keys = [int(k) for k in np.asarray(keys, dtype=np.int64).reshape(-1)]
        for start in range(0, len(keys), _DELETE_BATCH):
            self.client.delete(
                self.collection, ids=keys[start : start + _DELETE_BATCH], timeout=self.timeout
            )

    def drop(self) -> None:
        """Drop the collection and everything in it."""
        self.client.drop_collection(self.collection, timeout=self.timeout)

    def close(self) -> None:
        self.client.close()

    # -- reads --------------------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        published_from: float | None = None,
        published_to: float | None = None,
        source: str | None = None,
        category: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` chunks per query by inner product, filters applied inside Milvus.

        Returns ``(scores float32, keys int64)`` of shape ``(len(queries), m)``, best first,
        where ``m <= k`` is the most hits any query got; shorter rows are padded with score
        ``-inf`` and key ``-1`` (as ``IndexStore.search_vectors`` pads).
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        if k > MAX_K:
            raise ValueError(f"Milvus returns at most {MAX_K} hits per query, asked for {k}")
        if k < 1 or not len(queries):
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        _, search_params = INDEX_TYPES[self.index_type]
        results = self.client.search(
            self.collection,
            data=queries.tolist(),
            filter=filter_expression(published_from, published_to, source, category),
            limit=int(k),
            output_fields=["key"],
            search_params={"metric_type": "IP", "params": search_params(int(k))},
            anns_field="vector",
            consistency_level=self.read_consistency,
            timeout=self.timeout,
        )
        width = max((len(hits) for hits in results), default=0)
        scores = np.full((len(queries), width), -np.inf, dtype=np.float32)
        keys = np.full((len(queries), width), -1, dtype=np.int64)
        for q, hits in enumerate(results):
            for j, hit in enumerate(hits):
                scores[q, j] = hit["distance"]
                keys[q, j] = hit["id"]
        return scores, keys

    def vectors(self, keys: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored vectors of these keys (keys not in the collection are left out)."""
        keys = [int(k) for k in keys]
        found: dict[int, np.ndarray] = {}
        for start in range(0, len(keys), _DELETE_BATCH):
            rows = self.client.query(
                self.collection,
                ids=keys[start : start + _DELETE_BATCH],
                output_fields=["key", "vector"],
                consistency_level=self.read_consistency,
                timeout=self.timeout,
            )
            found.update((int(r["key"]), np.asarray(r["vector"], dtype=np.float32)) for r in rows)
        return found

    def count(self) -> int:
        """Live chunks (exact: a Strong count query, not the lagging collection statistics).

        Also a barrier: when it returns, every earlier write is visible to every reader,
        whatever consistency level they search with."""
        rows = self.client.query(
            self.collection,
            filter="",
            output_fields=["count(*)"],
            consistency_level="Strong",
            timeout=self.timeout,
        )
        return int(rows[0]["count(*)"])

    def _scan(self, fields: list[str], expr: str = "") -> list[dict]:
        iterator = self.client.query_iterator(
            self.collection,
            batch_size=1000,
            filter=expr,
            output_fields=fields,
            consistency_level="Strong",
            timeout=self.timeout,
        )
        rows: list[dict] = []
        try:
            while page := iterator.next():
                rows.extend(page)
        finally:
            iterator.close()
        return rows

    def ids(self) -> np.ndarray:
        """Every live key, sorted."""
        return np.sort(np.array([r["key"] for r in self._scan(["key"])], dtype=np.int64))

    def article_ids(self) -> set[str]:
        """The article ids that have at least one live chunk."""
        return {r["article_id"] for r in self._scan(["article_id"])}

    def metadata(self, keys: Sequence[int]) -> dict[int, dict]:
        """Stored fields (vector excluded) of these keys, for checks."""
        keys = [int(k) for k in keys]
        if not keys:
            return {}
        rows = self.client.query(
            self.collection,
            ids=keys,
            output_fields=["key", "article_id", "published_ts", "source", "category"],
            consistency_level="Strong",
            timeout=self.timeout,
        )
        return {int(r["key"]): r for r in rows}


def _varchar(value: str, what: str) -> str:
    if len(value.encode()) > MAX_VARCHAR:
        raise ValueError(f"{what} longer than {MAX_VARCHAR} bytes: {value[:60]!r}...")
    return value


def _timestamp(value: float | None) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_TS
    value = float(value)
    if not math.isfinite(value) or value <= MISSING_TS:
        raise ValueError(f"published timestamp out of range: {value}")
    return value


# -- newsqa's index directory on Milvus ---------------------------------------------------------
#
# The index directory stays the source of truth (SQLite, BM25, headlines, and every chunk vector
# in the segments' FAISS files); the collection is the copy dense search runs on. A writer
# (``MilvusMirror``) upserts a commit's new rows before it publishes the generation and deletes
# the rows it tombstoned after, so the rows of the generation a reader has open are always in
# the collection; a reader (``MilvusBackend``) maps the keys Milvus returns to its own
# generation's rows and drops any other (rows of a generation not yet published, or of one a
# crash left half-applied). Any drift is repaired by the next commit (``MilvusMirror.sync``).

_stores: dict[tuple[str, str], MilvusVectorStore] = {}


@contextlib.contextmanager
def milvus_errors(uri: str, what: str) -> Iterator[None]:
    """Turn pymilvus/gRPC failures into ``VectorStoreError`` naming the server and the call."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except (MilvusException, ConnectionError, OSError) as exc:
        raise VectorStoreError(f"Milvus at {uri} failed to {what}: {exc}") from exc


def open_store(
    uri: str, collection: str, dimension: int, index_type: str, timeout: float
) -> MilvusVectorStore:
    """One client per collection and process (a reload or a writer reuses it)."""
    try:
        import pymilvus  # noqa: F401
    except ImportError as exc:
        raise VectorStoreError(
            "NEWSQA_VECTOR_STORE=milvus needs pymilvus: pip install -e '.[milvus]'"
        ) from exc
    key = (uri, collection)
    store = _stores.get(key)
    if store is None:
        with milvus_errors(uri, f"open collection {collection}"):
            store = MilvusVectorStore(
                uri, collection, dimension, index_type, timeout, read_consistency="Bounded"
            )
        _stores[key] = store
    return store


def new_collection_name() -> str:
    return f"newsqa_{uuid.uuid4().hex[:16]}"


def _segment_columns(seg: Segment, rows: np.ndarray) -> dict:
    published = seg.row_published[rows]
    return {
        "keys": seg.keys[rows],
        "vectors": seg.vectors(rows),
        "article_ids": list(seg.row_article[rows]),
        "published_ts": [None if np.isnan(p) else float(p) for p in published],
        "sources": list(seg.row_source[rows]),
        "categories": list(seg.row_category[rows]),
    }


class MilvusMirror:
    """The writer's side: keeps the collection equal to the committed generation's live rows."""

    def __init__(self, store: MilvusVectorStore) -> None:
        self.store = store
        self.uri = store.uri
        self.collection = store.collection

    def upsert_rows(self, seg: Segment, rows: np.ndarray) -> int:
        if not len(rows):
            return 0
        columns = _segment_columns(seg, np.asarray(rows, dtype=np.int64))
        with milvus_errors(self.uri, f"upsert {len(rows)} chunks"):
            return self.store.upsert(
                columns["keys"],
                columns["vectors"],
                columns["article_ids"],
                columns["published_ts"],
                columns["sources"],
                columns["categories"],
            )

    def delete_keys(self, keys: np.ndarray) -> None:
        if len(keys):
            with milvus_errors(self.uri, f"delete {len(keys)} chunks"):
                self.store.delete_keys(keys)

    def count(self) -> int:
        """Rows in the collection; a barrier too (see ``MilvusVectorStore.count``)."""
        with milvus_errors(self.uri, "count chunks"):
            return self.store.count()

    def sync(self, generation: IndexStore) -> tuple[int, int]:
        """Make the collection hold exactly the live rows of ``generation``: upsert the missing
        ones (vectors from the segments), delete the others. Returns (upserted, deleted)."""
        with milvus_errors(self.uri, "list chunk keys"):
            present = self.store.ids()
        upserted = 0
        live_keys = []
        for seg, live in zip(generation.segments, generation.lives):
            keys = seg.keys
            live_keys.append(keys[live])
            missing = np.flatnonzero(live & ~np.isin(keys, present))
            upserted += self.upsert_rows(seg, missing)
        extra = np.setdiff1d(present, np.concatenate(live_keys) if live_keys else present[:0])
        self.delete_keys(extra)
        return upserted, len(extra)


class MilvusBackend:
    """The reader's side: dense search of one generation through the Milvus collection."""

    def __init__(self, generation: IndexStore, store: MilvusVectorStore) -> None:
        self.generation = generation
        self.store = store
        live_rows = np.flatnonzero(generation.live)
        keys = generation.row_keys[live_rows]
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
        allowed: np.ndarray | None,
        pushdown: MetadataFilter | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        generation = self.generation
        mask = generation.live if allowed is None else generation.live & allowed
        k = min(k, int(mask.sum()))
        if k == 0:
            return pad_rows([[] for _ in range(len(queries))])
        where = asdict(pushdown or MetadataFilter())
        # Fetch a little more than k: keys of rows outside this generation are dropped below.
        fetch = min(MAX_K, k + 16 + k // 4)
        while True:
            with milvus_errors(self.store.uri, "search"):
                scores, keys = self.store.search(queries, fetch, **where)
            rows = self.rows_of(keys)
            ok = rows >= 0
            ok[ok] = mask[rows[ok]]
            picked = [
                [(float(scores[q, j]), int(rows[q, j])) for j in np.flatnonzero(ok[q])][:k]
                for q in range(len(queries))
            ]
            truncated = any(
                len(p) < k and int((keys[q] >= 0).sum()) >= fetch for q, p in enumerate(picked)
            )
            if not truncated or fetch >= MAX_K:
                return pad_rows(picked)
            fetch = min(MAX_K, fetch * 4)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        keys = self.generation.row_keys[rows]
        with milvus_errors(self.store.uri, "fetch vectors"):
            found = self.store.vectors(keys)
        out = np.zeros((len(rows), self.generation.manifest.dimension), dtype=np.float32)
        missing = []
        for i, key in enumerate(keys):
            vector = found.get(int(key))
            if vector is None:
                missing.append(i)
            else:
                out[i] = vector
        if missing:  # not (yet) in the collection: the segment's own copy answers
            out[missing] = self.generation.local_vectors_of(rows[missing])
        return out
