"""The index directory's file layout, its SQLite schema, and how files reach the disk.

    INDEX_DIR/
      CURRENT               name of the committed generation file (replaced atomically)
      gen-<n>.json          a generation: model, dimension, counts, its segments, deleted ids,
                            stories (indexer.stories)
      segments/<name>/      one segment, immutable once written:
        vectors.faiss       normalized chunk vectors, inner product, id = row in the segment
        headlines.npy       normalized headline vector per article (zeros: no headline)
        minhash.npy         MinHash signature per article (indexer.stories: story clusters)
        newsqa.sqlite       articles (content hash, URL and text keys, when indexed),
                            aliases, chunks, events (time expressions, days as
                            proleptic ordinals)
        bm25/               term frequencies of the analyzed chunk texts (indexer.bm25)
      .lock                 held by the one writer (CLI runs and HTTP writes alike)
      .milvus-pending       a Milvus-mode commit is (or died) between its Milvus writes

Nothing outside ``indexer.store`` opens these files.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from indexer.documents import Article

# Written in every generation file and checked first by every reader (manifest.check_format):
# bump it when an index gains anything an older release would misread, so that release refuses
# the index as newer instead of serving or writing it wrong; what it ignores needs no bump.
FORMAT_VERSION = 3

CURRENT = "CURRENT"
SEGMENTS = "segments"
LOCK = ".lock"
MILVUS_PENDING = ".milvus-pending"
VECTORS = "vectors.faiss"
HEADLINES = "headlines.npy"
SIGNATURES = "minhash.npy"
DB = "newsqa.sqlite"
BM25 = "bm25"

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, title TEXT NOT NULL, url TEXT,
    published TEXT, published_ts REAL, category TEXT, source TEXT, text TEXT NOT NULL,
    origin TEXT NOT NULL, content_hash TEXT NOT NULL, url_key TEXT, text_key TEXT NOT NULL,
    indexed_at TEXT
);
CREATE INDEX articles_url ON articles(url_key);
CREATE INDEX articles_text ON articles(text_key);
CREATE TABLE aliases (alias TEXT PRIMARY KEY, article_id TEXT NOT NULL);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, article_id TEXT NOT NULL REFERENCES articles(id),
    ordinal INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL
);
CREATE INDEX chunks_article ON chunks(article_id);
CREATE TABLE events (
    article_id TEXT NOT NULL REFERENCES articles(id), start_day INTEGER NOT NULL,
    end_day INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL
);
CREATE INDEX events_article ON events(article_id);
"""
ARTICLE_COLUMNS = "id, text, title, url, published, category, source, origin"
# What a chunk key is made of (indexer.dense.base.chunk_key), per chunk row.
KEY_FIELDS = (
    "SELECT c.article_id, a.content_hash, c.ordinal FROM chunks c "
    "JOIN articles a ON a.id = c.article_id"
)


def content_hash(article: Article) -> str:
    """What decides whether a re-read article must be re-embedded."""
    fields = [article.title, article.text, article.url or "", str(article.published or "")]
    fields += [article.category or "", article.source or ""]
    return hashlib.sha256("\0".join(fields).encode()).hexdigest()


def generation_file(number: int) -> str:
    return f"gen-{number:06d}.json"


def generation_numbers(index_dir: Path) -> list[int]:
    """Numbers of the generation files in the directory."""
    numbers = []
    for path in index_dir.glob("gen-*.json"):
        number = path.stem.removeprefix("gen-")
        if number.isdigit():
            numbers.append(int(number))
    return numbers


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory: so that a rename into it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(directory: Path, name: str, text: str, *, replace: bool) -> None:
    """Put ``text`` in ``directory/name`` whole or not at all: a temporary file, fsynced, then
    moved into place. ``replace=False`` links instead of renaming: unlike a rename, a link
    never replaces a file that is already there. The caller fsyncs ``directory`` after."""
    tmp = directory / f".{name}.tmp"
    tmp.write_text(text)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    if replace:
        os.replace(tmp, directory / name)
        return
    try:
        os.link(tmp, directory / name)
    finally:
        tmp.unlink(missing_ok=True)
