"""The index directory: the only module that knows its file layout.

    INDEX_DIR/
      CURRENT               name of the committed generation file (replaced atomically)
      gen-<n>.json          a generation: model, dimension, counts, its segments, deleted ids
      segments/<name>/      one segment, immutable once written:
        vectors.faiss       normalized chunk vectors, inner product, id = row in the segment
        headlines.npy       normalized headline vector per article (zeros: no headline)
        newsqa.sqlite       articles (content hash, URL and text keys), aliases, chunks
        bm25/               term frequencies of the analyzed chunk texts (indexer.bm25)
      .lock                 held by the one writer (CLI runs and HTTP writes alike)
      .milvus-pending       a Milvus-mode commit is (or died) between its Milvus writes

Why segments: an update writes only what changed (a new segment for new or changed articles,
tombstones for removed ones), so its cost follows the change, not the corpus. A commit writes a
new small generation file and then replaces ``CURRENT``; a reader only ever opens what
``CURRENT`` names, so a writer killed at any moment leaves the last committed state, and a
service swapping generations answers from the old state or the new one, never a mix. When
segments pile up, the small ones are merged (tombstoned rows dropped) in the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock, Timeout

from indexer.bm25 import BM25Index, CorpusStats
from indexer.dates import to_timestamp
from indexer.dedup import normalize_url, text_key
from indexer.documents import Article, Chunk
from indexer.openmp import on_openmp_thread
from indexer.vector_store import FaissBackend, MetadataFilter, VectorBackend, chunk_key
from newsqa.errors import (
    CorruptIndexError,
    IncompatibleIndexError,
    IndexBusyError,
    IndexNotFoundError,
    IndexWriteError,
    VectorStoreError,
)
from newsqa.settings import Settings, get_settings

if TYPE_CHECKING:
    from indexer.milvus_store import MilvusMirror, MilvusVectorStore

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
MAX_SEGMENTS = 8
"""More segments than this after a commit merge all but the largest (or all of them, when the
largest has lost a third of its rows to deletions)."""

_CURRENT = "CURRENT"
_SEGMENTS = "segments"
_LOCK = ".lock"
_MILVUS_PENDING = ".milvus-pending"
_VECTORS = "vectors.faiss"
_HEADLINES = "headlines.npy"
_DB = "newsqa.sqlite"
_BM25 = "bm25"

_SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, title TEXT NOT NULL, url TEXT,
    published TEXT, published_ts REAL, category TEXT, source TEXT, text TEXT NOT NULL,
    origin TEXT NOT NULL, content_hash TEXT NOT NULL, url_key TEXT, text_key TEXT NOT NULL
);
CREATE INDEX articles_url ON articles(url_key);
CREATE INDEX articles_text ON articles(text_key);
CREATE TABLE aliases (alias TEXT PRIMARY KEY, article_id TEXT NOT NULL);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    ordinal INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL
);
CREATE INDEX chunks_article ON chunks(article_id);
"""
_ARTICLE_COLUMNS = "id, text, title, url, published, category, source, origin"
# What a chunk key is made of (indexer.vector_store.chunk_key), per chunk row.
_KEY_FIELDS = (
    "SELECT c.article_id, a.content_hash, c.ordinal FROM chunks c "
    "JOIN articles a ON a.id = c.article_id"
)


def content_hash(article: Article) -> str:
    """What decides whether a re-read article must be re-embedded."""
    fields = [article.title, article.text, article.url or "", str(article.published or "")]
    fields += [article.category or "", article.source or ""]
    return hashlib.sha256("\0".join(fields).encode()).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """One committed generation; the service refuses a model/format mismatch."""

    format_version: int
    model: str
    dimension: int
    articles: int
    chunks: int
    duplicates: int
    created_at: str
    source_hash: str = ""
    generation: int = 0
    segments: list[str] = field(default_factory=list)
    deleted: dict[str, list[str]] = field(default_factory=dict)  # segment -> ids
    # NEWSQA_VECTOR_STORE=milvus: the collection holding this index's vectors, and the last
    # generation a Milvus-mode writer committed (a service on Milvus refuses any later one).
    milvus_collection: str = ""
    milvus_generation: int = 0

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise CorruptIndexError(f"unreadable index manifest {path}: {exc}") from exc


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk with what a citation needs from its article."""

    row: int
    article_id: str
    ordinal: int
    char_start: int
    char_end: int
    text: str
    title: str
    url: str | None
    published: datetime | None
    category: str | None
    source: str | None


class Segment:
    """One immutable segment, loaded once and shared by every generation that lists it.

    Metadata (SQLite, per-row arrays) is read on open; vectors, headlines and BM25 are read
    on first use (``load``), so a writer that only adds or deletes never reads them, and a
    service whose vectors live in Milvus never reads ``vectors.faiss``.
    """

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.path = path
        try:
            # immutable=1: the file never changes, so SQLite takes no locks at all.
            self.db = sqlite3.connect(
                f"file:{path / _DB}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
            self.size = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            self.article_ids = [r[0] for r in self.db.execute("SELECT id FROM articles")]
            self.aliases = dict(self.db.execute("SELECT alias, article_id FROM aliases"))
        except (OSError, sqlite3.Error) as exc:
            raise CorruptIndexError(f"index segment {path} cannot be read: {exc}") from exc
        self._loaded: tuple | None = None
        self._index = None
        self._load_lock = threading.Lock()

    def __len__(self) -> int:
        return self.size

    @cached_property
    def _rows(self) -> tuple[np.ndarray, ...]:
        """Per-row metadata for filters, read on first use (a writer seldom needs it)."""
        rows = self.db.execute(
            "SELECT c.row, c.article_id, a.published_ts, a.source, a.category, a.position "
            "FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.row"
        ).fetchall()
        if [r[0] for r in rows] != list(range(self.size)):
            raise CorruptIndexError(f"index segment {self.path} has gaps in its chunk rows")
        return (
            np.array([r[1] for r in rows], dtype=object),
            np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64),
            np.array([r[3] or "" for r in rows], dtype=object),
            np.array([r[4] or "" for r in rows], dtype=object),
            np.array([r[5] for r in rows], dtype=np.int64),
        )

    @property
    def row_article(self) -> np.ndarray:
        return self._rows[0]

    @property
    def row_published(self) -> np.ndarray:
        return self._rows[1]

    @property
    def row_source(self) -> np.ndarray:
        return self._rows[2]

    @property
    def row_category(self) -> np.ndarray:
        return self._rows[3]

    @property
    def row_headline(self) -> np.ndarray:
        return self._rows[4]

    @cached_property
    def keys(self) -> np.ndarray:
        """The stable chunk key of each row (``indexer.vector_store.chunk_key``)."""
        rows = self.db.execute(f"{_KEY_FIELDS} ORDER BY c.row").fetchall()
        return np.fromiter((chunk_key(*r) for r in rows), dtype=np.int64, count=len(rows))

    def keys_of(self, article_ids: Sequence[str]) -> np.ndarray:
        """Chunk keys of these articles' rows in this segment."""
        ids = list(article_ids)
        keys = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            keys += [
                chunk_key(*r)
                for r in self.db.execute(
                    f"{_KEY_FIELDS} WHERE c.article_id IN ({','.join('?' * len(part))})", part
                )
            ]
        return np.array(keys, dtype=np.int64)

    def load(self, vectors: bool = True) -> Segment:
        """Read headlines and BM25, and the FAISS vectors unless ``vectors`` is False (once
        each), checking them against the metadata."""
        with self._load_lock:
            if self._loaded is None:
                self._rows  # noqa: B018 - read and check the metadata too
                self._loaded = self._read()
            if vectors and self._index is None:
                self._index = self._read_vectors()
        return self

    def _read(self) -> tuple:
        try:
            headlines = np.load(self.path / _HEADLINES)
            bm25 = BM25Index.load(self.path / _BM25)
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(f"index segment {self.path} cannot be read: {exc}") from exc
        if bm25.num_docs != len(self) or len(headlines) != len(self.article_ids):
            raise CorruptIndexError(
                f"index segment {self.path} is inconsistent: {len(self)} chunks and "
                f"{len(self.article_ids)} articles in SQLite, {bm25.num_docs} BM25 documents, "
                f"{len(headlines)} headline vectors"
            )
        return headlines, bm25

    def _read_vectors(self):  # type: ignore[no-untyped-def]
        import faiss

        try:
            index = faiss.read_index(str(self.path / _VECTORS))
        except (RuntimeError, OSError) as exc:
            raise CorruptIndexError(f"index segment {self.path} cannot be read: {exc}") from exc
        if index.ntotal != len(self):
            raise CorruptIndexError(
                f"index segment {self.path} is inconsistent: {len(self)} chunks in SQLite, "
                f"{index.ntotal} vectors"
            )
        return index

    @property
    def index(self):  # type: ignore[no-untyped-def]
        return self.load()._index

    @property
    def headlines(self) -> np.ndarray:
        return self.load(vectors=False)._loaded[0]  # type: ignore[index]

    @property
    def bm25(self) -> BM25Index:
        return self.load(vectors=False)._loaded[1]  # type: ignore[index]

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self.index.d), dtype=np.float32)
        return self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def close(self) -> None:
        self.db.close()


class _LexicalView:
    """BM25 over all segments of a generation with corpus-wide statistics."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store

    @cached_property
    def _parts(self) -> list[tuple[BM25Index, np.ndarray | None]]:
        # None for a segment without deletions: statistics then skip the mask entirely.
        return [
            (seg.bm25, None if live.all() else live)
            for seg, live in zip(self.store.segments, self.store.lives)
        ]

    @cached_property
    def _totals(self) -> tuple[int, float]:
        return CorpusStats.totals(self._parts)

    def stats(self, terms: Sequence[str]) -> CorpusStats:
        """Corpus-wide statistics of ``terms``. The retriever asks twice per question (its
        BM25 candidates, then their scores), and in a segment with deletions counting a
        term's live chunks reads its whole posting list, so recent answers are kept."""
        return self._stats(tuple(dict.fromkeys(terms)))

    @cached_property
    def _stats(self) -> Callable[[tuple[str, ...]], CorpusStats]:
        return lru_cache(maxsize=256)(
            lambda terms: CorpusStats.of(self._parts, terms, self._totals)
        )

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Every chunk's score: the reference ``top`` and ``scores_of`` are tested against
        (the retriever uses those two)."""
        parts = self._parts
        stats = self.stats(query_tokens)
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([bm25.scores(query_tokens, stats, live) for bm25, live in parts])

    def top(
        self, query_tokens: Sequence[str], n: int, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        """Rows of the ``n`` best-scoring chunks (score above 0, ``allowed`` if given, in no
        order): each segment's own top ``n`` (``BM25Index.top``), then the best of those."""
        stats = self.stats(query_tokens)
        rows, scores = [], []
        for (bm25, live), start, end in zip(
            self._parts, self.store.offsets[:-1], self.store.offsets[1:]
        ):
            mask = live
            if allowed is not None:
                mask = allowed[start:end] if live is None else live & allowed[start:end]
            docs, docs_scores = bm25.top(query_tokens, n, stats, mask)
            rows.append(docs + start)
            scores.append(docs_scores)
        if not rows:
            return np.zeros(0, dtype=np.int64)
        found, found_scores = np.concatenate(rows), np.concatenate(scores)
        if len(found) > n:
            found = found[np.argpartition(-found_scores, n - 1)[:n]]
        return found

    def scores_of(self, rows: Sequence[int], query_tokens: Sequence[str]) -> np.ndarray:
        """``scores(query_tokens)[rows]``, paying per row instead of per chunk."""
        parts = self._parts
        stats = self.stats(query_tokens)
        which, local = self.store._locate(rows)
        out = np.zeros(len(which), dtype=np.float32)
        for i, (bm25, live) in enumerate(parts):
            picked = np.flatnonzero(which == i)
            if len(picked):
                scores = bm25.scores_of(local[picked], query_tokens, stats)
                out[picked] = scores if live is None else np.where(live[local[picked]], scores, 0)
        return out

    def rarest(self, terms: Sequence[str], n: int) -> list[str]:
        """The ``n`` distinct terms with the highest IDF over all live chunks."""
        distinct = list(dict.fromkeys(terms))
        stats = self.stats(distinct)
        return sorted(distinct, key=lambda t: -stats.idf(t))[:n]


class IndexStore:
    """A committed generation opened for reading (thread-safe for concurrent queries).

    Rows are numbered across the generation's segments in order; deleted rows stay in the
    numbering but never come out of a search (``live``).

    >>> store = IndexStore.open(Path("var/index"), expected_model="bundled:multilingual-e5-small")
    >>> store.manifest.chunks
    """

    def __init__(self, index_dir: Path, manifest: Manifest, segments: list[Segment]) -> None:
        self.path = index_dir
        self.manifest = manifest
        self.segments = segments
        self.lives = []
        aliases: dict[str, str] = {}
        self.article_segment: dict[str, Segment] = {}
        for seg in segments:
            deleted = set(manifest.deleted.get(seg.name, ()))
            self.lives.append(
                np.ones(len(seg), dtype=bool)
                if not deleted
                else ~np.isin(seg.row_article, list(deleted))
            )
            for article_id in seg.article_ids:
                if article_id not in deleted:
                    self.article_segment[article_id] = seg
            aliases.update((a, k) for a, k in seg.aliases.items() if a not in deleted)
        self.aliases = {a: k for a, k in aliases.items() if k in self.article_segment}
        sizes = [len(seg) for seg in segments]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.live = np.concatenate(self.lives) if segments else np.zeros(0, dtype=bool)
        self.bm25 = _LexicalView(self)
        self.backend: VectorBackend = FaissBackend(self)  # ``open`` may choose Milvus

    # Per-row metadata kept in memory so that filters never touch SQLite on the hot path.
    @cached_property
    def row_article(self) -> np.ndarray:
        return self._concat("row_article", object)

    @cached_property
    def row_published(self) -> np.ndarray:
        return self._concat("row_published", np.float64)

    @cached_property
    def row_source(self) -> np.ndarray:
        return self._concat("row_source", object)

    @cached_property
    def row_category(self) -> np.ndarray:
        return self._concat("row_category", object)

    @cached_property
    def row_keys(self) -> np.ndarray:
        return self._concat("keys", np.int64)

    @cached_property
    def _row_source_folded(self) -> np.ndarray:
        return np.array([v.casefold() for v in self.row_source], dtype=object)

    @cached_property
    def _row_category_folded(self) -> np.ndarray:
        return np.array([v.casefold() for v in self.row_category], dtype=object)

    def rows_matching(self, where: MetadataFilter | None) -> np.ndarray | None:
        """Which rows a filtered query may return: one bool per row of this generation, False
        for tombstoned rows and for rows failing ``where``; None when nothing is filtered.

        Rows are numbered over every row of every segment, deleted ones included, so every
        per-row array (the metadata here, ``live``, BM25 scores, FAISS ids) has that length.
        Filters are built here and nowhere else: sizing a mask by the live count instead is
        the bug that made every filtered query fail after the first update or delete."""
        if where is None or where.is_empty():
            return None
        allowed = self.live.copy()
        published = self.row_published
        with np.errstate(invalid="ignore"):  # NaN (no date) fails both bounds
            if where.published_from is not None:
                allowed &= published >= where.published_from
            if where.published_to is not None:
                allowed &= published <= where.published_to
        if where.source is not None:
            allowed &= self._row_source_folded == where.source.casefold()
        if where.category is not None:
            allowed &= self._row_category_folded == where.category.casefold()
        return allowed

    def _concat(self, name: str, dtype: type) -> np.ndarray:
        if not self.segments:
            return np.zeros(0, dtype=dtype)
        return np.concatenate([getattr(seg, name) for seg in self.segments])

    @classmethod
    def open(
        cls,
        index_dir: Path,
        expected_model: str | None = None,
        reuse: dict[str, Segment] | None = None,
        eager: bool = True,
        settings: Settings | None = None,
    ) -> IndexStore:
        """Open the committed generation; refuse an index built for another model or format.

        ``reuse`` holds segments already loaded by a previous generation (only new segments
        are read from disk, so a reload costs what changed). ``eager`` reads every segment's
        vectors and BM25 now (a service) rather than on first use (a writer). Dense search
        goes where ``settings.vector_store`` says (default: the process settings).
        """
        settings = settings or get_settings()
        for attempt in range(5):
            manifest = read_manifest(index_dir)
            _check(manifest, index_dir, expected_model)
            if settings.vector_store == "milvus":
                _check_milvus(manifest, index_dir)
            try:
                segments = [
                    (reuse or {}).get(name) or Segment(index_dir / _SEGMENTS / name)
                    for name in manifest.segments
                ]
                if eager:
                    for seg in segments:
                        seg.load(vectors=settings.vector_store == "faiss")
                store = cls(index_dir, manifest, segments)
                if settings.vector_store == "milvus":
                    from indexer.milvus_store import MilvusBackend

                    store.backend = MilvusBackend(
                        store,
                        _milvus_store(settings, manifest.milvus_collection, manifest.dimension),
                    )
                return store
            except CorruptIndexError:
                # A writer may have committed and cleaned up between reading CURRENT and
                # opening its segments: read CURRENT again before calling the index corrupt.
                if attempt == 4 or read_manifest(index_dir).generation == manifest.generation:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def segment_map(self) -> dict[str, Segment]:
        return {seg.name: seg for seg in self.segments}

    def close(self) -> None:
        for seg in self.segments:
            seg.close()

    def _locate(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        return which, rows - self.offsets[which]

    def search_vectors(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        pushdown: MetadataFilter | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k live rows by inner product, best first (padded with -inf / -1).

        ``allowed`` (bool per row) restricts the search; ``pushdown`` states the same filters
        for a vector store that evaluates them itself (Milvus)."""
        return self.backend.search(queries, k, allowed, pushdown)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """Chunk vectors of ``rows``, in order."""
        return self.backend.vectors_of(rows)

    def local_vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """Chunk vectors of ``rows`` from the segments' own FAISS files."""
        which, local = self._locate(rows)
        out = np.zeros((len(local), self.manifest.dimension), dtype=np.float32)
        for i in np.unique(which):
            picked = which == i
            out[picked] = self.segments[i].vectors(local[picked])
        return out

    def headline_vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The headline vector of each row's article, in order."""
        which, local = self._locate(rows)
        out = np.zeros((len(local), self.manifest.dimension), dtype=np.float32)
        for i in np.unique(which):
            seg, picked = self.segments[i], which == i
            out[picked] = seg.headlines[seg.row_headline[local[picked]]]
        return out

    def chunks(self, rows: Sequence[int]) -> list[ChunkRecord]:
        """Chunk records for ``rows``, in the same order."""
        which, local = self._locate(rows)
        found: dict[int, tuple] = {}
        for i in np.unique(which):
            wanted = [int(r) for r in local[which == i]]
            marks = ",".join("?" * len(wanted))
            for r in self.segments[i].db.execute(
                "SELECT c.row, c.article_id, c.ordinal, c.char_start, c.char_end, "
                "substr(a.text, c.char_start + 1, c.char_end - c.char_start), a.title, a.url, "
                "a.published, a.category, a.source FROM chunks c JOIN articles a "
                f"ON a.id = c.article_id WHERE c.row IN ({marks})",
                wanted,
            ):
                found[int(self.offsets[i]) + r[0]] = r[1:]
        records = []
        for r in rows:
            article_id, ordinal, start, end, text, title, url, published, category, source = found[
                int(r)
            ]
            records.append(
                ChunkRecord(
                    int(r),
                    article_id,
                    ordinal,
                    start,
                    end,
                    text,
                    title,
                    url,
                    _parse_iso(published),
                    category,
                    source,
                )
            )
        return records

    def resolve(self, article_id: str) -> str | None:
        """The live article id that ``article_id`` names (itself, or the kept copy)."""
        if article_id in self.article_segment:
            return article_id
        return self.aliases.get(article_id)

    def article(self, article_id: str) -> Article | None:
        """The article by id; a duplicate's id resolves to the article that was kept."""
        kept = self.resolve(article_id)
        if kept is None:
            return None
        row = (
            self.article_segment[kept]
            .db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (kept,))
            .fetchone()
        )
        return _article(row)

    def article_ids(self) -> list[str]:
        return list(self.article_segment)

    def aliases_of(self, article_ids: Sequence[str]) -> dict[str, list[str]]:
        """Duplicate ids per kept article: eval counts a hit on any of them."""
        out: dict[str, list[str]] = {a: [] for a in article_ids}
        for alias, kept in self.aliases.items():
            if kept in out:
                out[kept].append(alias)
        return out

    def content_hash(self, article_id: str) -> str | None:
        seg = self.article_segment.get(article_id)
        if seg is None:
            return None
        row = seg.db.execute(
            "SELECT content_hash FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return row[0]

    def find_copy(self, article: Article, exclude: Collection[str] = ()) -> str | None:
        """A live article (other than ``article.id`` and ``exclude``) with the same URL or the
        same words."""
        url = normalize_url(article.url) if article.url else None
        key = text_key(article.text)
        for seg in reversed(self.segments):
            for (found,) in seg.db.execute(
                "SELECT id FROM articles WHERE (url_key = ? AND url_key IS NOT NULL) "
                "OR text_key = ?",
                (url, key),
            ):
                if (
                    found != article.id
                    and found not in exclude
                    and self.article_segment.get(found) is seg
                ):
                    return found
        return None


def _article(row: tuple) -> Article:
    return Article(
        id=row[0],
        text=row[1],
        title=row[2],
        url=row[3],
        published=_parse_iso(row[4]),
        category=row[5],
        source=row[6],
        origin=row[7],
    )


def _check(manifest: Manifest, index_dir: Path, expected_model: str | None) -> None:
    if manifest.format_version != FORMAT_VERSION:
        raise IncompatibleIndexError(
            f"index at {index_dir} has format version {manifest.format_version}, this newsqa "
            f"reads version {FORMAT_VERSION}: rebuild it with `newsqa index`"
        )
    if expected_model is not None and manifest.model != expected_model:
        raise IncompatibleIndexError(
            f"index at {index_dir} was built with model {manifest.model!r} but the service is "
            f"configured with {expected_model!r}: rebuild the index or set NEWSQA_EMBED_MODEL "
            "to match"
        )


def _check_milvus(manifest: Manifest, index_dir: Path) -> None:
    if not manifest.milvus_collection or manifest.milvus_generation != manifest.generation:
        raise IncompatibleIndexError(
            f"index at {index_dir} (generation {manifest.generation}) is not in Milvus"
            + (
                f" (collection {manifest.milvus_collection} holds generation "
                f"{manifest.milvus_generation})"
                if manifest.milvus_collection
                else ""
            )
            + ": run `newsqa index` with NEWSQA_VECTOR_STORE=milvus to upload it, or serve it "
            "with NEWSQA_VECTOR_STORE=faiss"
        )


def _milvus_store(settings: Settings, collection: str, dimension: int) -> MilvusVectorStore:
    """The (process-wide) client of ``collection`` on the configured Milvus server."""
    from indexer.milvus_store import open_store

    return open_store(
        settings.milvus_uri,
        collection,
        dimension,
        settings.milvus_index_type,
        settings.milvus_timeout,
    )


def current_generation(index_dir: Path) -> str | None:
    """The committed generation's file name, or None when nothing was ever committed."""
    try:
        name = (index_dir / _CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptIndexError(f"cannot read {index_dir / _CURRENT}: {exc}") from exc
    if not name:
        raise CorruptIndexError(
            f"{index_dir / _CURRENT} is empty: it must name a generation file (gen-N.json) of "
            "that directory; restore it, or remove the directory and rebuild the index"
        )
    return name


def read_manifest(index_dir: Path) -> Manifest:
    name = current_generation(index_dir)
    if name is None:
        raise IndexNotFoundError(
            f"no index in {index_dir}: build one with `newsqa index CORPUS --index-dir {index_dir}`"
        )
    return Manifest.read(index_dir / name)


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# -- writing ----------------------------------------------------------------------------------

HNSW_FROM = 200_000
"""Segments with at least this many chunks get an HNSW graph instead of exact search (see
bench/: exact search time grows with the segment, HNSW's barely, at recall@10 >= 0.95)."""
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128


def vector_index(vectors: np.ndarray):  # type: ignore[no-untyped-def]
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


def search_parameters(index, sel):  # type: ignore[no-untyped-def]
    """Search parameters for ``index``: the filter's ID selector, and HNSW's search depth."""
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=sel, efSearch=HNSW_EF_SEARCH)
    return None if sel is None else faiss.SearchParameters(sel=sel)


@dataclass
class SegmentData:
    """What a new segment holds: ``vectors[i]``/``tokens[i]`` belong to ``chunks[i]``,
    ``headlines[j]`` to ``articles[j]``."""

    articles: list[Article]
    chunks: list[Chunk]
    vectors: np.ndarray
    headlines: np.ndarray
    tokens: list[list[str]] | None = None  # analyzed chunk texts
    bm25: BM25Index | None = None  # instead of tokens, when merging
    aliases: dict[str, str] = field(default_factory=dict)
    hashes: list[str] | None = None  # content hash per article (computed when None)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_segment(segments_dir: Path, data: SegmentData) -> str:
    """Write a segment under a temporary name, fsync it and rename it into place."""

    if len(data.vectors) != len(data.chunks) or len(data.headlines) != len(data.articles):
        raise ValueError("vectors/chunks or headlines/articles lengths differ")
    name = f"seg-{uuid.uuid4().hex[:16]}"
    tmp = segments_dir / f".tmp-{name}"
    try:
        _write_segment_files(tmp, data)
        os.replace(tmp, segments_dir / name)
        _fsync(segments_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a half-written segment is never left behind
        raise
    return name


def _write_segment_files(tmp: Path, data: SegmentData) -> None:
    import faiss

    tmp.mkdir(parents=True)
    faiss.write_index(vector_index(data.vectors), str(tmp / _VECTORS))
    np.save(tmp / _HEADLINES, np.ascontiguousarray(data.headlines, dtype=np.float32))
    bm25 = data.bm25 if data.bm25 is not None else BM25Index.build(data.tokens or [])
    bm25.save(tmp / _BM25)
    hashes = data.hashes or [content_hash(a) for a in data.articles]
    db = sqlite3.connect(tmp / _DB)
    with db:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    a.id,
                    position,
                    a.title,
                    a.url,
                    a.published.isoformat() if a.published else None,
                    to_timestamp(a.published) if a.published else None,
                    a.category,
                    a.source,
                    a.text,
                    a.origin,
                    digest,
                    normalize_url(a.url) if a.url else None,
                    text_key(a.text),
                )
                for position, (a, digest) in enumerate(zip(data.articles, hashes))
            ],
        )
        db.executemany("INSERT INTO aliases VALUES (?,?)", list(data.aliases.items()))
        db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?)",
            [
                (i, c.article_id, c.ordinal, c.char_start, c.char_end)
                for i, c in enumerate(data.chunks)
            ],
        )
    db.close()
    for path in tmp.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync(tmp)


class IndexWriter:
    """The one writer of an index directory: stage changes, then ``commit`` them atomically.

    Holds the directory's file lock from construction to ``close`` (a second writer waits up to
    ``lock_timeout`` seconds, then gets ``IndexBusyError``). The lock is an OS file lock, so a
    killed writer releases it.

    >>> with IndexWriter(Path("var/index"), model, 384) as writer:
    ...     writer.delete(["old-id"]); writer.add(segment_data); writer.commit()
    """

    def __init__(
        self,
        index_dir: Path,
        model: str,
        dimension: int,
        lock_timeout: float = 0.0,
        reuse: dict[str, Segment] | None = None,
        settings: Settings | None = None,
        *,
        create: bool = True,
        max_segments: int = MAX_SEGMENTS,
    ) -> None:
        """``create=False`` refuses a directory with no committed index instead of starting a
        new one there: a service writing into the index it serves must not replace an index
        that vanished under it with one holding only the written articles."""
        settings = settings or get_settings()
        self.index_dir = index_dir
        self.segments_dir = index_dir / _SEGMENTS
        self.max_segments = max_segments
        if not create and not (index_dir / _CURRENT).is_file():
            raise IndexWriteError(_vanished(index_dir))
        try:
            self.segments_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexWriteError(f"cannot create index directory {index_dir}: {exc}") from exc
        self._lock = FileLock(str(index_dir / _LOCK))
        try:
            self._lock.acquire(timeout=lock_timeout)
        except Timeout:
            raise IndexBusyError(
                f"index {index_dir} is being written by another process (lock "
                f"{index_dir / _LOCK}); try again when it is done"
            ) from None
        self._reuse = dict(reuse or {})
        self._opened: list[Segment] = []  # closed with the writer; reused ones are not ours
        self.mirror: MilvusMirror | None = None
        try:
            try:
                self.base: IndexStore | None = IndexStore.open(
                    index_dir,
                    expected_model=model,
                    reuse=self._segments_from(),
                    eager=False,
                    settings=settings.model_copy(update={"vector_store": "faiss"}),
                )
                self._opened += [s for s in self.base.segments if s.name not in self._reuse]
            except IndexNotFoundError:
                if not create:
                    raise IndexWriteError(_vanished(index_dir)) from None
                self.base = None
            if settings.vector_store == "milvus":
                self.mirror = self._open_mirror(settings, dimension)
        except BaseException:
            self._lock.release()
            raise
        self.model = model
        self.dimension = dimension
        self._new: list[str] = []
        self._deleted: dict[str, set[str]] = {}
        # Generation files from this one on are kept by cleanup (see ``_remove_unreferenced``).
        self._keep_from = self.base.manifest.generation if self.base else 0
        self._remove_unreferenced()

    def _open_mirror(self, settings: Settings, dimension: int) -> MilvusMirror:
        from indexer.milvus_store import MilvusMirror, new_collection_name

        collection = (self.base.manifest.milvus_collection if self.base else "") or (
            new_collection_name()
        )
        # The collection may differ from the committed generation: a writer died between its
        # Milvus writes, or the last commit was made without Milvus. The next commit re-syncs.
        base = self.base.manifest if self.base else None
        self._milvus_drifted = (self.index_dir / _MILVUS_PENDING).exists() or (
            base is not None and base.milvus_generation != base.generation
        )
        try:
            return MilvusMirror(_milvus_store(settings, collection, dimension))
        except VectorStoreError as exc:
            raise IndexWriteError(f"{exc}; the committed index is unchanged") from exc

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _segments_from(self) -> dict[str, Segment]:
        known = {seg.name: seg for seg in self._opened}
        return {**self._reuse, **known}

    def close(self) -> None:
        for seg in self._opened:
            seg.close()
        self._opened = []
        self.base = None
        if self._lock.is_locked:
            self._lock.release()

    def add(self, data: SegmentData) -> None:
        """Write ``data`` as a new segment, to be listed by the next commit."""
        if not data.articles and not data.aliases:
            return
        try:
            self._new.append(_write_segment(self.segments_dir, data))
        except (OSError, RuntimeError, sqlite3.Error) as exc:  # faiss raises RuntimeError
            raise IndexWriteError(
                f"could not write to {self.index_dir}: {exc}; the committed index is unchanged"
            ) from exc

    def delete(self, article_ids: Sequence[str]) -> list[str]:
        """Tombstone live articles (and aliases) by id; returns the ids that existed."""
        if self.base is None:
            return []
        done = []
        for article_id in article_ids:
            seg = self.base.article_segment.get(article_id)
            if seg is not None:
                self._deleted.setdefault(seg.name, set()).add(article_id)
                done.append(article_id)
                continue
            # A duplicate's id, if it still resolves: one already deleted, or whose article is
            # gone, stays in its segment's alias table but is no longer in the index.
            if self.base.aliases.get(article_id) is None:
                continue
            for seg in self.base.segments:
                if seg.aliases.get(article_id) is not None:
                    self._deleted.setdefault(seg.name, set()).add(article_id)
            done.append(article_id)
        return done

    def pending_deletes(self) -> set[str]:
        """Ids this writer has tombstoned and not yet committed."""
        return set().union(*self._deleted.values())

    def commit(self, source_hash: str = "") -> Manifest:
        """Make the staged segments and deletions the committed generation (then maybe merge).

        ``source_hash`` names the corpus the index now equals (eval reuses such an index);
        any other change leaves it empty."""
        base = self.base.manifest if self.base else None
        if base is not None and self._unchanged(source_hash):
            return base  # nothing staged: a write that changes nothing makes no generation
        deleted = {name: set(ids) for name, ids in (base.deleted if base else {}).items()}
        for name, ids in self._deleted.items():
            deleted.setdefault(name, set()).update(ids)
        segments = (base.segments if base else []) + self._new
        manifest = self._publish(segments, deleted, source_hash)
        self._new, self._deleted = [], {}
        if len(manifest.segments) > self.max_segments:
            manifest = self._merge(manifest)
        return manifest

    def _unchanged(self, source_hash: str) -> bool:
        assert self.base is not None
        return (
            not self._new
            and not self._deleted
            and source_hash in ("", self.base.manifest.source_hash)
            and not (self.mirror is not None and self._milvus_drifted)
        )

    def _publish(
        self,
        segments: list[str],
        deleted: dict[str, set[str]],
        source_hash: str,
        mirror_rows: bool = True,
    ) -> Manifest:
        """Write the generation file and point ``CURRENT`` at it. With Milvus, the new rows
        are upserted first (a reader of this generation finds them) and the tombstoned ones
        deleted after (a reader of the previous one still found them); a merge changes no
        chunk key, so it sends Milvus nothing (``mirror_rows=False``)."""
        try:
            reuse = self._segments_from()
            draft = Manifest(
                FORMAT_VERSION,
                self.model,
                self.dimension,
                0,
                0,
                0,
                "",
                deleted={k: sorted(v) for k, v in deleted.items() if v and k in segments},
            )
            store = IndexStore(
                self.index_dir,
                draft,
                [reuse.get(name) or Segment(self.segments_dir / name) for name in segments],
            )
            previous = self.base.manifest if self.base else None
            upserted = self._mirror_upserts(store) if mirror_rows else np.zeros(0, np.int64)
            # Above every generation file present, not just the base: after CURRENT was set
            # back to an older generation, base + 1 may name a file that exists.
            generation = max([previous.generation if previous else 0, *self._generations()]) + 1
            manifest = Manifest(
                format_version=FORMAT_VERSION,
                model=self.model,
                dimension=self.dimension,
                articles=len(store.article_segment),
                chunks=int(store.live.sum()),
                duplicates=len(store.aliases),
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                source_hash=source_hash,
                generation=generation,
                segments=segments,
                deleted=store.manifest.deleted,
                milvus_collection=self.mirror.collection
                if self.mirror
                else (previous.milvus_collection if previous else ""),
                milvus_generation=generation
                if self.mirror
                else (previous.milvus_generation if previous else 0),
            )
            name = _generation_file(manifest.generation)
            tmp = self.index_dir / f".{name}.tmp"
            tmp.write_text(json.dumps(asdict(manifest), indent=1))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.index_dir / name)  # unlike a rename, never replaces a file
            finally:
                tmp.unlink(missing_ok=True)
            pointer = self.index_dir / f".{_CURRENT}.tmp"
            pointer.write_text(name + "\n")
            with open(pointer, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(pointer, self.index_dir / _CURRENT)
            _fsync(self.index_dir)
        except OSError as exc:
            raise IndexWriteError(
                f"could not commit to {self.index_dir}: {exc}; the committed index is unchanged"
            ) from exc
        known = {seg.name for seg in self._opened} | set(self._reuse)
        self._opened += [seg for seg in store.segments if seg.name not in known]
        self.base = IndexStore(self.index_dir, manifest, store.segments)
        if mirror_rows:
            self._mirror_deletes(upserted)
        self._remove_unreferenced()
        return manifest

    def _mirror_upserts(self, store: IndexStore) -> np.ndarray:
        """Upsert the live rows of this commit's new segments into Milvus; their keys."""
        if self.mirror is None:
            return np.zeros(0, dtype=np.int64)
        keys = [np.zeros(0, dtype=np.int64)]
        try:
            (self.index_dir / _MILVUS_PENDING).touch()
            for i, seg in enumerate(store.segments):
                if seg.name in self._new:
                    rows = np.flatnonzero(store.lives[i])
                    self.mirror.upsert_rows(seg, rows)
                    keys.append(seg.keys[rows])
            self.mirror.count()  # barrier: readers of the new generation see these rows
        except VectorStoreError as exc:
            raise IndexWriteError(f"{exc}; the committed index is unchanged") from exc
        except OSError as exc:
            raise IndexWriteError(
                f"could not write to {self.index_dir}: {exc}; the committed index is unchanged"
            ) from exc
        return np.concatenate(keys)

    def _mirror_deletes(self, upserted: np.ndarray) -> None:
        """Delete from Milvus the rows this commit tombstoned (unless re-added with the same
        key), then repair any drift (a crash between upsert and publish, a FAISS-mode commit,
        rows lost by the server) with a full sync."""
        if self.mirror is None or self.base is None:
            return
        generation = self.base
        by_name = generation.segment_map()
        gone = [by_name[name].keys_of(sorted(ids)) for name, ids in self._deleted.items()]
        try:
            if gone:
                self.mirror.delete_keys(np.setdiff1d(np.concatenate(gone), upserted))
            if self._milvus_drifted or self.mirror.count() != generation.manifest.chunks:
                added, removed = self.mirror.sync(generation)
                log.warning(
                    "Milvus collection %s re-synced with generation %d: %d chunks upserted, "
                    "%d deleted",
                    self.mirror.collection,
                    generation.manifest.generation,
                    added,
                    removed,
                )
            self._milvus_drifted = False
            (self.index_dir / _MILVUS_PENDING).unlink(missing_ok=True)
        except (VectorStoreError, OSError) as exc:  # committed; readers ignore extra rows
            self._milvus_drifted = True
            log.warning("generation committed, Milvus not fully updated: %s", exc)

    def _merge(self, manifest: Manifest) -> Manifest:
        """Rewrite all segments but the largest (or all) as one, dropping deleted rows."""
        assert self.base is not None
        store = self.base
        live_sizes = [int(live.sum()) for live in store.lives]
        largest = int(np.argmax(live_sizes))
        heavy_deletes = live_sizes[largest] < 0.67 * len(store.segments[largest])
        merge = [i for i in range(len(store.segments)) if heavy_deletes or i != largest]
        articles, chunks, vectors, headlines, parts, hashes = [], [], [], [], [], []
        aliases: dict[str, str] = {}
        for i in merge:
            seg, live = store.segments[i], store.lives[i]
            rows = seg.db.execute(
                f"SELECT {_ARTICLE_COLUMNS}, content_hash FROM articles ORDER BY position"
            ).fetchall()
            kept = [(j, r) for j, r in enumerate(rows) if store.article_segment.get(r[0]) is seg]
            texts = {r[0]: r[1] for _, r in kept}
            articles += [_article(r) for _, r in kept]
            hashes += [r[8] for _, r in kept]
            headlines.append(seg.headlines[[j for j, _ in kept]])
            for r, a_id, ordinal, start, end in seg.db.execute(
                "SELECT row, article_id, ordinal, char_start, char_end FROM chunks ORDER BY row"
            ):
                if live[r]:
                    chunks.append(Chunk(a_id, ordinal, start, end, texts[a_id][start:end]))
            vectors.append(seg.vectors(np.flatnonzero(live)))
            parts.append((seg.bm25, live))
            aliases.update(
                (a, k)
                for a, k in seg.aliases.items()
                if store.aliases.get(a) == k and a not in store.article_segment
            )
        data = SegmentData(
            articles=articles,
            chunks=chunks,
            vectors=np.concatenate(vectors) if vectors else np.zeros((0, self.dimension)),
            headlines=np.concatenate(headlines) if headlines else np.zeros((0, self.dimension)),
            bm25=BM25Index.concat(parts),
            aliases=aliases,
            hashes=hashes,
        )
        self._new = []
        self.add(data)
        merged = [store.segments[i].name for i in merge]
        segments = [name for name in manifest.segments if name not in merged] + self._new
        deleted = {k: set(v) for k, v in manifest.deleted.items() if k not in merged}
        self._new = []
        return self._publish(segments, deleted, manifest.source_hash, mirror_rows=False)

    def _generations(self) -> list[int]:
        """Numbers of the generation files in the directory."""
        numbers = []
        for path in self.index_dir.glob("gen-*.json"):
            number = path.stem.removeprefix("gen-")
            if number.isdigit():
                numbers.append(int(number))
        return numbers

    def _remove_unreferenced(self) -> None:
        """Drop generation files older than the one this writer opened and the one before it
        (a service may still serve that one until it reloads), and the segments no kept
        generation names. Newer files stay even when CURRENT was set back past them: an
        operator's rollback is theirs to undo, and any CURRENT may point at them again."""
        numbers = sorted(self._generations())
        older = [n for n in numbers if n < self._keep_from]
        keep_from = older[-1] if older else self._keep_from
        referenced = set(self._new)
        for number in numbers:
            path = self.index_dir / _generation_file(number)
            if number < keep_from:
                path.unlink(missing_ok=True)
                continue
            try:
                referenced.update(Manifest.read(path).segments)
            except CorruptIndexError:
                continue
        for path in self.segments_dir.iterdir():
            if path.name not in referenced:
                shutil.rmtree(path, ignore_errors=True)


def _generation_file(number: int) -> str:
    return f"gen-{number:06d}.json"


def _vanished(index_dir: Path) -> str:
    return (
        f"no committed index in {index_dir} (was the directory or its CURRENT file removed?): "
        "refusing to start a new index in its place; rebuild it with `newsqa index`"
    )
