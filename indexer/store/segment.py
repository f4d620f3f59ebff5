"""One segment of an index directory, read: its SQLite metadata, vectors, headlines and BM25."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from indexer.bm25 import BM25Index
from indexer.dense import faiss_backend
from indexer.dense.base import ChunkColumns, chunk_key
from indexer.documents import Article
from indexer.event_time import extract_events, publication_day
from indexer.store.layout import (
    ARTICLE_COLUMNS,
    BM25,
    DB,
    HEADLINES,
    KEY_FIELDS,
    SIGNATURES,
    VECTORS,
)
from indexer.stories import NUM_PERM, signatures
from newsqa.errors import CorruptIndexError


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


@dataclass(frozen=True)
class RowMetadata:
    """Per-row metadata for filters, one entry per chunk row of a segment."""

    article: np.ndarray  # article id
    published: np.ndarray  # timestamp, NaN when undated
    source: np.ndarray  # "" when none
    category: np.ndarray  # "" when none
    headline: np.ndarray  # the article's position, i.e. its row in headlines.npy


@dataclass(frozen=True)
class EventRows:
    """The segment's time expressions, one entry per event, sorted by article position and
    then by where the expression starts (so one article's events are one slice)."""

    article: np.ndarray  # the article's position (``RowMetadata.headline``)
    start: np.ndarray  # first day, proleptic ordinal (``date.toordinal``)
    end: np.ndarray  # last day, inclusive
    char_start: np.ndarray  # where the expression starts in the article text
    char_end: np.ndarray  # where it ends

    def of(self, article: int) -> slice:
        """The entries of one article."""
        lo, hi = np.searchsorted(self.article, [article, article + 1])
        return slice(int(lo), int(hi))

    def within(self, article: int, char_start: int, char_end: int) -> np.ndarray:
        """``(start, end)`` day pairs of the events of one article starting inside a span."""
        at = self.of(article)
        starts = self.char_start[at]
        keep = (starts >= char_start) & (starts < char_end)
        return np.stack([self.start[at][keep], self.end[at][keep]], axis=1)


@dataclass(frozen=True)
class _Loaded:
    headlines: np.ndarray
    bm25: BM25Index


class Segment:
    """One immutable segment, loaded once and shared by every generation that lists it.

    Metadata (SQLite, per-row arrays) is read on open; vectors, headlines and BM25 are read
    on first use (``load``), so a writer that only adds or deletes never reads them, and a
    service whose vectors live in Milvus never reads ``vectors.faiss``.

    >>> seg = Segment(index_dir / "segments" / "seg-0123456789abcdef")
    >>> len(seg), seg.article_ids[:2]
    """

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.path = path
        try:
            # immutable=1: the file never changes, so SQLite takes no locks at all.
            self.db = sqlite3.connect(
                f"file:{path / DB}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
            self.size = self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            self.article_ids = [
                r[0] for r in self.db.execute("SELECT id FROM articles ORDER BY position")
            ]
            self.aliases = dict(self.db.execute("SELECT alias, article_id FROM aliases"))
        except (OSError, sqlite3.Error) as exc:
            raise CorruptIndexError(f"index segment {path} cannot be read: {exc}") from exc
        # Closed as soon as the segment is dropped: a sqlite3 connection is in a reference
        # cycle of its own (its statement cache), so it closed only when the cyclic GC ran. A
        # server kept every segment that writes and merges had removed open, deleted files
        # and their disk space included, until then (dozens after a few hundred writes).
        self._close_db = weakref.finalize(self, self.db.close)
        self._loaded: _Loaded | None = None
        self._index: Any = None
        self._load_lock = threading.Lock()

    def __len__(self) -> int:
        return self.size

    @cached_property
    def rows(self) -> RowMetadata:
        """Per-row metadata for filters, read on first use (a writer seldom needs it)."""
        rows = self.db.execute(
            "SELECT c.row, c.article_id, a.published_ts, a.source, a.category, a.position "
            "FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.row"
        ).fetchall()
        if [r[0] for r in rows] != list(range(self.size)):
            raise CorruptIndexError(f"index segment {self.path} has gaps in its chunk rows")
        return RowMetadata(
            article=np.array([r[1] for r in rows], dtype=object),
            published=np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64),
            source=np.array([r[3] or "" for r in rows], dtype=object),
            category=np.array([r[4] or "" for r in rows], dtype=object),
            headline=np.array([r[5] for r in rows], dtype=np.int64),
        )

    @cached_property
    def events(self) -> EventRows:
        """The events table, read on first use (event filters, ranking, and the events an
        answer shows). A segment written before events were stored has none: its articles'
        events are extracted here instead, the same way the writer does."""
        try:
            rows = self.db.execute(
                "SELECT a.position, e.start_day, e.end_day, e.char_start, e.char_end FROM events e "
                "JOIN articles a ON a.id = e.article_id"
            ).fetchall()
        except sqlite3.OperationalError:  # no events table
            rows = [
                (position, e.start.toordinal(), e.end.toordinal(), e.char_start, e.char_end)
                for position, text, published in self.db.execute(
                    "SELECT position, text, published FROM articles"
                )
                for e in extract_events(text, publication_day(parse_iso(published)))
            ]
        columns = np.array(rows, dtype=np.int64).reshape(-1, 5)
        columns = columns[np.lexsort((columns[:, 3], columns[:, 0]))]
        return EventRows(*(columns[:, i] for i in range(5)))

    @cached_property
    def positions(self) -> dict[str, int]:
        """Each article's position in the segment."""
        return {a: i for i, a in enumerate(self.article_ids)}

    @cached_property
    def signatures(self) -> np.ndarray:
        """Each article's MinHash signature, by position (``indexer.stories``); a segment
        written before signatures were stored computes them from its texts here."""
        path = self.path / SIGNATURES
        if not path.exists():
            texts = [t for (t,) in self.db.execute("SELECT text FROM articles ORDER BY position")]
            return signatures(texts)
        try:
            found = np.load(path)
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(f"index segment {self.path} cannot be read: {exc}") from exc
        if found.shape != (len(self.article_ids), NUM_PERM):
            raise CorruptIndexError(
                f"index segment {self.path} has {found.shape[0]} signatures for "
                f"{len(self.article_ids)} articles"
            )
        return found

    def rows_with_events(self, first: int | None, last: int | None) -> np.ndarray:
        """One bool per row: does the row's article name a time overlapping [first, last]
        (day ordinals, inclusive; None: open)?"""
        ev = self.events
        hit = np.ones(len(ev.article), dtype=bool)
        if first is not None:
            hit &= ev.end >= first
        if last is not None:
            hit &= ev.start <= last
        return np.isin(self.rows.headline, np.unique(ev.article[hit]))

    @cached_property
    def keys(self) -> np.ndarray:
        """The stable chunk key of each row (``indexer.dense.base.chunk_key``)."""
        rows = self.db.execute(f"{KEY_FIELDS} ORDER BY c.row").fetchall()
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
                    f"{KEY_FIELDS} WHERE c.article_id IN ({','.join('?' * len(part))})", part
                )
            ]
        return np.array(keys, dtype=np.int64)

    # -- vectors, headlines, BM25 ---------------------------------------------------------

    def load(self, vectors: bool = True) -> Segment:
        """Read headlines and BM25, and the FAISS vectors unless ``vectors`` is False (once
        each), checking them against the metadata."""
        with self._load_lock:
            if self._loaded is None:
                self.rows  # noqa: B018 - read and check the metadata too
                self._loaded = self._read()
            if vectors and self._index is None:
                self._index = self._read_vectors()
        return self

    def _read(self) -> _Loaded:
        try:
            headlines = np.load(self.path / HEADLINES)
            bm25 = BM25Index.load(self.path / BM25)
        except (OSError, ValueError) as exc:
            raise CorruptIndexError(f"index segment {self.path} cannot be read: {exc}") from exc
        if bm25.num_docs != len(self) or len(headlines) != len(self.article_ids):
            raise CorruptIndexError(
                f"index segment {self.path} is inconsistent: {len(self)} chunks and "
                f"{len(self.article_ids)} articles in SQLite, {bm25.num_docs} BM25 documents, "
                f"{len(headlines)} headline vectors"
            )
        return _Loaded(headlines, bm25)

    def _read_vectors(self) -> Any:
        try:
            index = faiss_backend.read_index(self.path / VECTORS)
        except (RuntimeError, OSError) as exc:
            raise CorruptIndexError(f"index segment {self.path} cannot be read: {exc}") from exc
        if index.ntotal != len(self):
            raise CorruptIndexError(
                f"index segment {self.path} is inconsistent: {len(self)} chunks in SQLite, "
                f"{index.ntotal} vectors"
            )
        return index

    @property
    def index(self) -> Any:
        """The segment's FAISS index (``indexer.dense.faiss_backend`` chose its type)."""
        return self.load()._index

    @property
    def vectors_loaded(self) -> bool:
        """Whether ``vectors.faiss`` has been read (a service on Milvus never reads it)."""
        return self._index is not None

    @property
    def headlines(self) -> np.ndarray:
        return self.load(vectors=False)._loaded.headlines  # type: ignore[union-attr]

    @property
    def bm25(self) -> BM25Index:
        return self.load(vectors=False)._loaded.bm25  # type: ignore[union-attr]

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        return faiss_backend.reconstruct(self.index, rows)

    def columns(self, rows: np.ndarray) -> ChunkColumns:
        """``rows`` as a vector store that filters by itself stores them (a Milvus mirror)."""
        rows = np.asarray(rows, dtype=np.int64)
        meta = self.rows
        return ChunkColumns(
            keys=self.keys[rows],
            vectors=self.vectors(rows),
            article_ids=list(meta.article[rows]),
            published_ts=[None if np.isnan(p) else float(p) for p in meta.published[rows]],
            sources=list(meta.source[rows]),
            categories=list(meta.category[rows]),
        )

    # -- articles and chunks (SQLite) ------------------------------------------------------

    def chunk_records(self, rows: Sequence[int], offset: int) -> dict[int, ChunkRecord]:
        """Records of these rows of the segment, by global row (segment row + ``offset``)."""
        wanted = [int(r) for r in rows]
        found = {}
        for r in self.db.execute(
            "SELECT c.row, c.article_id, c.ordinal, c.char_start, c.char_end, "
            "substr(a.text, c.char_start + 1, c.char_end - c.char_start), a.title, a.url, "
            "a.published, a.category, a.source FROM chunks c JOIN articles a "
            f"ON a.id = c.article_id WHERE c.row IN ({','.join('?' * len(wanted))})",
            wanted,
        ):
            row = offset + r[0]
            found[row] = ChunkRecord(
                row=row,
                article_id=r[1],
                ordinal=r[2],
                char_start=r[3],
                char_end=r[4],
                text=r[5],
                title=r[6],
                url=r[7],
                published=parse_iso(r[8]),
                category=r[9],
                source=r[10],
            )
        return found

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return None if row is None else article_from_row(row)

    def content_hash(self, article_id: str) -> str | None:
        row = self.db.execute(
            "SELECT content_hash FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return None if row is None else row[0]

    def ids_with(self, url_key: str | None, text_key: str) -> list[tuple[str, bool]]:
        """Articles of this segment (deleted ones too) with this URL key or this text key,
        each with whether its text key is this one."""
        return [
            (found, found_key == text_key)
            for found, found_key in self.db.execute(
                "SELECT id, text_key FROM articles WHERE (url_key = ? AND url_key IS NOT NULL) "
                "OR text_key = ?",
                (url_key, text_key),
            )
        ]

    def articles_with_hashes(self) -> list[tuple[Article, str]]:
        """Every article of the segment (deleted ones too) with its content hash, in the
        order of its headline vectors."""
        rows = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS}, content_hash FROM articles ORDER BY position"
        ).fetchall()
        return [(article_from_row(r), r[8]) for r in rows]

    def catalog(self) -> list[tuple[str, str, str | None, str, str, str | None, str | None]]:
        """``(id, title, published, content_hash, indexed_at, source, category)`` of every
        article (deleted ones too), by position: what a listing of the index shows. A
        segment written before the time was stored gives its directory's time."""
        try:
            return self.db.execute(
                "SELECT id, title, published, content_hash, indexed_at, source, category "
                "FROM articles ORDER BY position"
            ).fetchall()
        except sqlite3.OperationalError:  # no indexed_at column
            written = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
            when = written.isoformat(timespec="seconds")
            return [
                (a, t, p, h, when, s, c)
                for a, t, p, h, s, c in self.db.execute(
                    "SELECT id, title, published, content_hash, source, category "
                    "FROM articles ORDER BY position"
                )
            ]

    def chunk_spans(self) -> Iterator[tuple[int, str, int, int, int]]:
        """``(row, article_id, ordinal, char_start, char_end)`` of every row, in row order."""
        yield from self.db.execute(
            "SELECT row, article_id, ordinal, char_start, char_end FROM chunks ORDER BY row"
        )

    def close(self) -> None:
        self._close_db()


def article_from_row(row: tuple) -> Article:
    """An article from a row of ``ARTICLE_COLUMNS``."""
    return Article(
        id=row[0],
        text=row[1],
        title=row[2],
        url=row[3],
        published=parse_iso(row[4]),
        category=row[5],
        source=row[6],
        origin=row[7],
    )


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
