"""The index directory: the only module that knows its file layout.

    INDEX_DIR/
      CURRENT                  name of the committed generation (replaced atomically)
      gen-<n>/manifest.json    model, dimension, counts, creation time, format version
      gen-<n>/vectors.faiss    normalized chunk vectors, inner product, id = chunk row
      gen-<n>/headlines.npy    normalized headline vector per article (zeros: no headline)
      gen-<n>/newsqa.sqlite    articles, duplicate ids, chunks (offsets into article text)
      gen-<n>/bm25/            BM25 over the analyzed chunk texts, doc position = chunk row

A build writes a new generation folder and then swaps ``CURRENT``; readers only ever open the
generation ``CURRENT`` names, so a crash mid-build leaves the previous index serving.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from indexer.bm25 import BM25Index
from indexer.documents import Article, Chunk
from newsqa.errors import CorruptIndexError, IncompatibleIndexError, IndexNotFoundError

FORMAT_VERSION = 2
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_VECTORS = "vectors.faiss"
_HEADLINES = "headlines.npy"
_DB = "newsqa.sqlite"
_BM25 = "bm25"

_SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, title TEXT NOT NULL, url TEXT,
    published TEXT, published_ts REAL,
    category TEXT, source TEXT, text TEXT NOT NULL, origin TEXT NOT NULL
);
CREATE TABLE aliases (alias TEXT PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id));
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    ordinal INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL
);
CREATE INDEX chunks_article ON chunks(article_id);
"""


@dataclass(frozen=True)
class Manifest:
    """What the index was built with; the service refuses a mismatch instead of answering wrong."""

    format_version: int
    model: str
    dimension: int
    articles: int
    chunks: int
    duplicates: int
    created_at: str
    source_hash: str = ""

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise CorruptIndexError(f"unreadable index manifest {path}: {exc}") from exc


def _published_ts(article: Article) -> float | None:
    return article.published.timestamp() if article.published else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_index(
    index_dir: Path,
    *,
    model: str,
    articles: Sequence[Article],
    duplicates: dict[str, str],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    headline_vectors: np.ndarray,
    chunk_tokens: Sequence[list[str]],
    source_hash: str = "",
) -> Manifest:
    """Write a complete new generation and make it the committed one.

    ``vectors[i]`` and ``chunk_tokens[i]`` belong to ``chunks[i]``; the chunk row is ``i``.
    ``headline_vectors[j]`` belongs to ``articles[j]``.
    """
    import faiss

    if len(vectors) != len(chunks) or len(chunk_tokens) != len(chunks):
        raise ValueError("vectors, chunk_tokens and chunks must have the same length")
    if len(headline_vectors) != len(articles):
        raise ValueError("headline_vectors and articles must have the same length")
    index_dir.mkdir(parents=True, exist_ok=True)
    previous = _current_generation(index_dir)
    number = int(previous.name.split("-")[1]) + 1 if previous else 1
    gen = index_dir / f"gen-{number:06d}"
    if gen.exists():  # left over by a build that died before its commit
        shutil.rmtree(gen)
    gen.mkdir()

    dimension = int(vectors.shape[1])
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    flat.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.arange(len(chunks)))
    faiss.write_index(flat, str(gen / _VECTORS))
    np.save(gen / _HEADLINES, np.ascontiguousarray(headline_vectors, dtype=np.float32))

    BM25Index.build(list(chunk_tokens)).save(gen / _BM25)

    db = sqlite3.connect(gen / _DB)
    with db:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    a.id,
                    position,
                    a.title,
                    a.url,
                    a.published.isoformat() if a.published else None,
                    _published_ts(a),
                    a.category,
                    a.source,
                    a.text,
                    a.origin,
                )
                for position, a in enumerate(articles)
            ],
        )
        db.executemany("INSERT INTO aliases VALUES (?,?)", list(duplicates.items()))
        db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?)",
            [(i, c.article_id, c.ordinal, c.char_start, c.char_end) for i, c in enumerate(chunks)],
        )
    db.close()

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=model,
        dimension=dimension,
        articles=len(articles),
        chunks=len(chunks),
        duplicates=len(duplicates),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source_hash=source_hash,
    )
    (gen / _MANIFEST).write_text(json.dumps(manifest.__dict__, indent=2))
    for path in gen.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    _fsync_dir(gen)

    pointer = index_dir / f".{_CURRENT}.tmp"
    pointer.write_text(gen.name + "\n")
    with open(pointer, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer, index_dir / _CURRENT)
    _fsync_dir(index_dir)

    for old in index_dir.glob("gen-*"):
        if old != gen:
            shutil.rmtree(old, ignore_errors=True)
    return manifest


def _current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / _CURRENT
    if not pointer.is_file():
        return None
    gen = index_dir / pointer.read_text().strip()
    return gen if gen.is_dir() else None


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


class IndexStore:
    """A committed index generation opened for reading (thread-safe for concurrent queries).

    >>> store = IndexStore.open(Path("var/index"), expected_model="bundled:multilingual-e5-small")
    >>> store.manifest.chunks
    """

    def __init__(self, path: Path, manifest: Manifest) -> None:
        import faiss

        self.path = path
        self.manifest = manifest
        try:
            self.vectors = faiss.read_index(str(path / _VECTORS))
            self.headlines = np.load(path / _HEADLINES)
            self.bm25 = BM25Index.load(path / _BM25)
            self.db = sqlite3.connect(
                f"file:{path / _DB}?mode=ro", uri=True, check_same_thread=False
            )
            rows = self.db.execute(
                "SELECT c.row, c.article_id, a.published_ts, a.source, a.category, a.position "
                "FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.row"
            ).fetchall()
        except (RuntimeError, OSError, sqlite3.Error, ValueError) as exc:
            raise CorruptIndexError(f"index at {path} cannot be read: {exc}") from exc
        if len(rows) != manifest.chunks or self.vectors.ntotal != manifest.chunks:
            raise CorruptIndexError(
                f"index at {path} is inconsistent: manifest says {manifest.chunks} chunks, "
                f"found {len(rows)} in SQLite and {self.vectors.ntotal} vectors"
            )
        # Per-row metadata kept in memory so that filters never touch SQLite on the hot path.
        self.row_article = np.array([r[1] for r in rows], dtype=object)
        self.row_published = np.array(
            [np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64
        )
        self.row_source = np.array([r[3] or "" for r in rows], dtype=object)
        self.row_category = np.array([r[4] or "" for r in rows], dtype=object)
        self.row_headline = np.array([r[5] for r in rows], dtype=np.int64)

    @classmethod
    def open(cls, index_dir: Path, expected_model: str | None = None) -> IndexStore:
        """Open the committed generation; refuse an index built for another model or format."""
        gen = _current_generation(index_dir)
        if gen is None:
            raise IndexNotFoundError(
                f"no index in {index_dir}: build one with `newsqa index CORPUS --index-dir "
                f"{index_dir}`"
            )
        manifest = Manifest.read(gen / _MANIFEST)
        if manifest.format_version != FORMAT_VERSION:
            raise IncompatibleIndexError(
                f"index at {index_dir} has format version {manifest.format_version}, this "
                f"newsqa reads version {FORMAT_VERSION}: rebuild it with `newsqa index`"
            )
        if expected_model is not None and manifest.model != expected_model:
            raise IncompatibleIndexError(
                f"index at {index_dir} was built with model {manifest.model!r} but the service "
                f"is configured with {expected_model!r}: rebuild the index or set "
                "NEWSQA_EMBED_MODEL to match"
            )
        return cls(gen, manifest)

    def close(self) -> None:
        self.db.close()

    def search_vectors(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunk rows by inner product; ``allowed`` (bool per row) restricts the search."""
        import faiss

        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(allowed)))
        k = min(k, self.manifest.chunks)
        if k == 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        scores, rows = self.vectors.search(queries, k, params=params)
        return scores, rows

    def chunks(self, rows: Sequence[int]) -> list[ChunkRecord]:
        """Chunk records for ``rows``, in the same order."""
        if not len(rows):
            return []
        marks = ",".join("?" * len(rows))
        found = {
            r[0]: r
            for r in self.db.execute(
                "SELECT c.row, c.article_id, c.ordinal, c.char_start, c.char_end, "
                "substr(a.text, c.char_start + 1, c.char_end - c.char_start), a.title, a.url, "
                "a.published, a.category, a.source FROM chunks c JOIN articles a "
                f"ON a.id = c.article_id WHERE c.row IN ({marks})",
                [int(r) for r in rows],
            )
        }
        records = []
        for r in rows:
            row, article_id, ordinal, start, end, text, title, url, published, category, source = (
                found[int(r)]
            )
            records.append(
                ChunkRecord(
                    row,
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

    def article(self, article_id: str) -> Article | None:
        """The article by id; a duplicate's id resolves to the article that was kept."""
        row = self.db.execute(
            "SELECT id, text, title, url, published, category, source, origin FROM articles "
            "WHERE id = COALESCE((SELECT article_id FROM aliases WHERE alias = ?), ?)",
            (article_id, article_id),
        ).fetchone()
        if row is None:
            return None
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

    def aliases_of(self, article_ids: Sequence[str]) -> dict[str, list[str]]:
        """Duplicate ids per kept article: eval counts a hit on any of them."""
        marks = ",".join("?" * len(article_ids))
        out: dict[str, list[str]] = {a: [] for a in article_ids}
        for alias, kept in self.db.execute(
            f"SELECT alias, article_id FROM aliases WHERE article_id IN ({marks})",
            list(article_ids),
        ):
            out[kept].append(alias)
        return out


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
