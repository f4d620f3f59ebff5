"""Corpus files -> committed index generation, with a report of what was kept and skipped."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import Progress

from indexer.analyzer import analyze
from indexer.chunking import Chunker
from indexer.dedup import dedupe
from indexer.documents import Article, SkippedRecord, searchable_text
from indexer.embedder import Embedder
from indexer.sources import read_articles
from indexer.store import FORMAT_VERSION, Manifest, write_index
from newsqa.errors import NothingIndexedError

EMBED_BATCH = 256
"""Chunks handed to the embedder per call: large enough for length bucketing, small enough to
move the progress bar."""


def source_hash(paths: Sequence[Path], model: str) -> str:
    """Content hash of the corpus files and the model: equal hashes give equal indexes."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}\0{model}\0".encode())
    files = []
    for path in paths:
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.name).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


@dataclass
class IndexReport:
    """What one `newsqa index` run did; printed as the summary table."""

    articles: int = 0
    duplicates: dict[str, str] = field(default_factory=dict)
    skipped: list[SkippedRecord] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    manifest: Manifest | None = None


def embed_headlines(embedder: Embedder, titles: Sequence[str]) -> np.ndarray:
    """One vector per article headline (zeros where there is none): the retriever scores how
    well a question matches the headline, which is how readers summarise a story."""
    out = np.zeros((len(titles), embedder.dimension), dtype=np.float32)
    present = [i for i, title in enumerate(titles) if title.strip()]
    if present:
        out[present] = embedder.embed_passages([titles[i] for i in present])
    return out


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
    source_hash: str = "",
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
    texts = [searchable_text(titles[c.article_id], c.text) for c in chunks]
    vectors = embed_chunks(embedder, texts, progress)
    headlines = embed_headlines(embedder, [article.title for article in kept])
    tokens = [analyze(text) for text in texts]
    report.manifest = write_index(
        index_dir,
        model=embedder.name,
        articles=kept,
        duplicates=report.duplicates,
        chunks=chunks,
        vectors=vectors,
        headline_vectors=headlines,
        chunk_tokens=tokens,
        source_hash=source_hash,
    )
    report.articles = len(kept)
    report.chunks = len(chunks)
    report.seconds = time.perf_counter() - started
    return report
