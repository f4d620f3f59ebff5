"""Writing a new segment: what it holds (``SegmentData``) and its files, made durable."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from indexer.bm25 import BM25Index
from indexer.dates import to_timestamp
from indexer.dedup import normalize_url, text_key
from indexer.dense import faiss_backend
from indexer.documents import Article, Chunk
from indexer.event_time import extract_events, publication_day
from indexer.store.layout import (
    BM25,
    DB,
    HEADLINES,
    SCHEMA,
    SIGNATURES,
    VECTORS,
    content_hash,
    fsync_path,
)
from indexer.stories import signatures


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
    indexed_at: list[str] | None = None  # when each article was indexed (now when None)


def write_segment(segments_dir: Path, data: SegmentData) -> str:
    """Write a segment under a temporary name, fsync it and rename it into place; its name."""
    if len(data.vectors) != len(data.chunks) or len(data.headlines) != len(data.articles):
        raise ValueError("vectors/chunks or headlines/articles lengths differ")
    name = f"seg-{uuid.uuid4().hex[:16]}"
    tmp = segments_dir / f".tmp-{name}"
    try:
        _write_files(tmp, data)
        os.replace(tmp, segments_dir / name)
        fsync_path(segments_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a half-written segment is never left behind
        raise
    return name


def _write_files(tmp: Path, data: SegmentData) -> None:
    tmp.mkdir(parents=True)
    faiss_backend.write_index(data.vectors, tmp / VECTORS)
    np.save(tmp / HEADLINES, np.ascontiguousarray(data.headlines, dtype=np.float32))
    np.save(tmp / SIGNATURES, signatures([a.text for a in data.articles]))
    bm25 = data.bm25 if data.bm25 is not None else BM25Index.build(data.tokens or [])
    bm25.save(tmp / BM25)
    _write_metadata(tmp / DB, data)
    for path in tmp.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    fsync_path(tmp)


def _write_metadata(path: Path, data: SegmentData) -> None:
    hashes = data.hashes or [content_hash(a) for a in data.articles]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    indexed_at = data.indexed_at or [now] * len(data.articles)
    db = sqlite3.connect(path)
    with db:
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (*_article_row(position, a, digest), when)
                for position, (a, digest, when) in enumerate(zip(data.articles, hashes, indexed_at))
            ],
        )
        db.executemany("INSERT INTO aliases VALUES (?,?)", list(data.aliases.items()))
        db.executemany("INSERT INTO events VALUES (?,?,?,?,?)", _event_rows(data.articles))
        db.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?)",
            [
                (i, c.article_id, c.ordinal, c.char_start, c.char_end)
                for i, c in enumerate(data.chunks)
            ],
        )
    db.close()


def _event_rows(articles: list[Article]) -> list[tuple]:
    """The ``events`` rows: each time expression of each article with its days."""
    return [
        (a.id, e.start.toordinal(), e.end.toordinal(), e.char_start, e.char_end)
        for a in articles
        for e in extract_events(a.text, publication_day(a.published))
    ]


def _article_row(position: int, a: Article, digest: str) -> tuple:
    """The ``articles`` row of ``a`` (the order of ``SCHEMA``'s columns)."""
    return (
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
