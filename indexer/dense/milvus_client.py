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
  ``"IVF_FLAT"`` (``nlist=1024``, searched with ``nprobe=32`` divided by the share of rows
  the filters keep, up to every cluster), both approximate.
- **Consistency**: the collection is created with consistency level ``Strong`` and every
  search and query asks for it too, so a search right after an upsert or a delete sees it.
- **Filters** are pushed down as Milvus boolean expressions, with the semantics of the FAISS
  side (``service.retrieval.Filters``): a date range is inclusive at both ends and never
  matches an undated article (stored as the sentinel ``MISSING_TS``, since a DOUBLE field
  takes no NaN or null in Milvus 2.3); source and category match case-insensitively (stored
  casefolded, compared with the casefolded wanted value).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence

import numpy as np

MISSING_TS = -1.0e18
"""``published_ts`` of an undated article: far before any real date, excluded by any date
filter (see ``date_expression``)."""

MAX_VARCHAR = 1024
"""Longest article id, source or category accepted (UTF-8 bytes)."""

IVF_NLIST = 1024
IVF_NPROBE = 32
"""Clusters an unfiltered IVF_FLAT search probes (of ``IVF_NLIST``)."""
HNSW_MAX_EF = 32_768
"""Milvus's largest HNSW ``ef``."""


def _ivf_search(k: int, share: float) -> dict:
    """``nprobe`` for a filter keeping ``share`` of the rows. The probed clusters hold about
    nprobe/nlist of the rows and a filter keeps ``share`` of those, so a fixed nprobe=32 found
    few or no matching rows under a selective filter (50k rows, 0.5% kept: 10 of 30 rows,
    recall@10 0.78; a section's 5%: 18 of 30). Probing 1/share as many clusters sees as many
    matching rows as an unfiltered search; from share <= 32/1024 on, every cluster (exact)."""
    if share <= 0:
        return {"nprobe": IVF_NLIST}
    return {"nprobe": min(IVF_NLIST, math.ceil(IVF_NPROBE / share))}


def _hnsw_search(k: int, share: float) -> dict:
    """``ef``: Milvus's HNSW walks on under a filter until it holds ``ef`` allowed rows
    (measured on 200k rows: filters keeping 50% to 0.05%, and 90% deleted, all gave k rows
    and recall@10 >= 0.95 at ef=max(64, k)), so only the widest search (share 0, after a
    search that came back short) widens it."""
    return {"ef": HNSW_MAX_EF if share <= 0 else max(64, k)}


INDEX_TYPES: dict[str, tuple[dict, Callable[[int, float], dict]]] = {
    "FLAT": ({}, lambda k, share: {}),
    "HNSW": ({"M": 16, "efConstruction": 200}, _hnsw_search),
    "IVF_FLAT": ({"nlist": IVF_NLIST}, _ivf_search),
}
"""Build parameters, and search parameters for (k, share of the rows the filters keep; 0:
the widest search, used when a narrower one came back short)."""
_DELETE_BATCH = 1000
MAX_K = 16_384
"""Milvus's largest ``limit`` (topk) for one search."""


class MissingCollectionError(LookupError):
    """The collection asked for with ``create=False`` is not on the server."""


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
    source: str | Sequence[str] | None = None,
    category: str | Sequence[str] | None = None,
    article_ids: Sequence[str] | None = None,
) -> str:
    """The boolean expression of the filters ("" when there are none); ``source`` and
    ``category`` match any of their values."""
    clauses = date_expression(published_from, published_to)
    for field, values in (("source", source), ("category", category)):
        if values is None:
            continue
        folded = [quote(v.casefold()) for v in ([values] if isinstance(values, str) else values)]
        if len(folded) == 1:
            clauses.append(f"{field} == {folded[0]}")
        else:
            clauses.append(f"{field} in [{', '.join(folded)}]")
    if article_ids is not None:
        clauses.append(f"article_id in [{', '.join(quote(a) for a in article_ids)}]")
    return " and ".join(f"({c})" for c in clauses)


class MilvusVectorStore:
    """A Milvus collection of chunk vectors; created on first use, reopened afterwards.

    >>> store = MilvusVectorStore("http://127.0.0.1:19530", "newsqa_chunks", 384)
    >>> store.upsert(keys, vectors, article_ids, published_ts, sources, categories)
    >>> scores, keys = store.search(queries, k=10, source=["detik"])
    """

    def __init__(
        self,
        uri: str,
        collection: str,
        dimension: int,
        index_type: str = "FLAT",
        timeout: float | None = 60.0,
        read_consistency: str = "Strong",
        create: bool = True,
    ) -> None:
        """``create=False`` refuses a collection that does not exist (``MissingCollectionError``)
        instead of creating it empty: a reader must not stand in an empty copy for lost rows."""
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
        self.created = False
        """True when this client made the collection (it was missing)."""
        if self.client.has_collection(collection):
            self._check_existing()
            self.client.load_collection(collection)
        elif create:
            self._create()
            self.created = True
        else:
            self.client.close()
            raise MissingCollectionError(f"collection {collection} does not exist")

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
        source: str | Sequence[str] | None = None,
        category: str | Sequence[str] | None = None,
        article_ids: Sequence[str] | None = None,
        share: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` chunks per query by inner product, filters applied inside Milvus.

        ``share`` is the part of the collection's rows the filters keep: an approximate index
        searches wider the smaller it is (``INDEX_TYPES``); 0 asks for its widest search.

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
            filter=filter_expression(published_from, published_to, source, category, article_ids),
            limit=int(k),
            output_fields=["key"],
            search_params={"metric_type": "IP", "params": search_params(int(k), share)},
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
