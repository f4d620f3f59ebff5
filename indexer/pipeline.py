"""Corpus files -> committed index generation, with a report of what was kept and skipped."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import Progress

from indexer.analyzer import analyze
from indexer.chunking import Chunker
from indexer.dedup import dedupe
from indexer.documents import Article, Chunk, SkippedRecord
from indexer.embedder import Embedder
from indexer.sources import read_articles
from indexer.store import Manifest, write_index
from newsqa.errors import NothingIndexedError

EMBED_BATCH = 256
"""Chunks handed to the embedder per call: large enough for length bucketing, small enough to
move the progress bar."""


@dataclass
class IndexReport:
    """What one `newsqa index` run did; printed as the summary table."""

    articles: int = 0
    duplicates: dict[str, str] = field(default_factory=dict)
    skipped: list[SkippedRecord] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    manifest: Manifest | None = None


def searchable_text(title: str, chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: the headline carries the story's gist
    (and on detik-summary-dev lifts Recall@1 by about 3 points), the chunk carries the facts."""
    return f"{title}\n{chunk.text}" if title else chunk.text


def embed_chunks(
    embedder: Embedder, texts: Sequence[str], progress: Progress | None = None
) -> np.ndarray:
    task = progress.add_task("chunks embedded", total=len(texts)) if progress else None
    parts = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = texts[start : start + EMBED_BATCH]
        parts.append(embedder.embed_passages(batch))
        if progress is not None and task is not None:
            progress.advance(task, len(batch))
    if not parts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.concatenate(parts)


def build_index(
    paths: Sequence[Path],
    index_dir: Path,
    embedder: Embedder,
    chunker: Chunker | None = None,
    progress: Progress | None = None,
) -> IndexReport:
    """Read, clean, deduplicate, chunk, embed and commit ``paths`` as the index in ``index_dir``.

    Bad records are skipped and reported; the run fails only when nothing could be indexed, and
    then the previously committed index stays in place.
    """
    started = time.perf_counter()
    chunker = chunker or Chunker()
    report = IndexReport()

    read_task = progress.add_task("articles read", total=None) if progress else None
    articles: list[Article] = []
    for item in read_articles(list(paths)):
        if isinstance(item, SkippedRecord):
            report.skipped.append(item)
        else:
            articles.append(item)
        if progress is not None and read_task is not None:
            progress.advance(read_task)
    if progress is not None and read_task is not None:
        progress.update(read_task, total=len(articles) + len(report.skipped))

    deduped = dedupe(articles)
    report.duplicates = deduped.duplicates
    kept = deduped.kept
    if not kept:
        raise NothingIndexedError(
            f"nothing to index in {', '.join(map(str, paths))}: "
            f"{len(report.skipped)} record(s) skipped"
        )

    chunks = [chunk for article in kept for chunk in chunker.split(article)]
    titles = {article.id: article.title for article in kept}
    texts = [searchable_text(titles[c.article_id], c) for c in chunks]
    vectors = embed_chunks(embedder, texts, progress)
    tokens = [analyze(text) for text in texts]
    report.manifest = write_index(
        index_dir,
        model=embedder.name,
        articles=kept,
        duplicates=report.duplicates,
        chunks=chunks,
        vectors=vectors,
        chunk_tokens=tokens,
    )
    report.articles = len(kept)
    report.chunks = len(chunks)
    report.seconds = time.perf_counter() - started
    return report
