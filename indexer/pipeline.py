"""Corpus files -> committed index generation, with a report of what was kept and skipped."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from filelock import FileLock

from indexer.analyzer import analyze
from indexer.chunking import Chunker
from indexer.dedup import DedupResult, dedupe
from indexer.documents import Article, SkippedRecord, searchable_text
from indexer.embedder import Embedder
from indexer.sources import has_articles_to_read, read_articles
from indexer.store import (
    FORMAT_VERSION,
    MAX_SEGMENTS,
    DenseConfig,
    IndexStore,
    IndexWriter,
    Manifest,
    SegmentData,
    content_hash,
)
from newsqa.errors import ArticleNotFoundError, NothingIndexedError, UnreadSourceError

EMBED_BATCH = 256
"""Chunks handed to the embedder per call: large enough for length bucketing, small enough to
move the progress bar."""

Engine = Literal["local", "ray"]
"""Where chunk embedding runs when ``workers > 1``: processes on this machine (``local``,
indexer/parallel.py) or Ray actors (``ray``, the ``ray`` extra)."""


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


class ProgressSink(Protocol):
    """Where indexing reports its progress: a rich ``Progress`` on the CLI, a job's progress
    file in the HTTP write worker (``service.write_worker.ProgressFile``)."""

    def add_task(self, description: str, total: float | None = None) -> Any: ...

    def advance(self, task_id: Any, advance: float = 1) -> None: ...

    def update(self, task_id: Any, *, total: float | None = None) -> None: ...


@dataclass
class IndexReport:
    """What one `newsqa index` run (or one HTTP write) did; printed as the summary table."""

    articles: int = 0  # live articles in the index after the run
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    duplicates: dict[str, str] = field(default_factory=dict)
    skipped: list[SkippedRecord] = field(default_factory=list)
    chunks: int = 0  # chunks embedded by this run
    seconds: float = 0.0
    manifest: Manifest | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    """Each staged article's fate: added, updated or unchanged (duplicates: ``duplicates``)."""
    missing: list[str] = field(default_factory=list)
    """Ids asked to be deleted that the index did not hold (``write_articles``' ``missing_ok``)."""


def embed_headlines(embedder: Embedder, titles: Sequence[str]) -> np.ndarray:
    """One vector per article headline (zeros where there is none): the retriever scores how
    well a question matches the headline, which is how readers summarise a story."""
    out = np.zeros((len(titles), embedder.dimension), dtype=np.float32)
    present = [i for i, title in enumerate(titles) if title.strip()]
    if present:
        out[present] = embedder.embed_passages([titles[i] for i in present])
    return out


def embed_chunks(
    embedder: Embedder,
    texts: Sequence[str],
    progress: ProgressSink | None = None,
    workers: int = 1,
    engine: Engine = "local",
) -> np.ndarray:
    """Chunk vectors: in this process (``engine="local"``, ``workers == 1``), or spread over
    ``workers`` processes (``local``) or Ray actors (``ray``, any ``workers``) that load the
    model ``embedder`` was loaded from (``Embedder.config``)."""
    if engine not in ("local", "ray"):
        raise ValueError(f"engine must be local or ray, got {engine!r}")
    task = progress.add_task("chunks embedded", total=len(texts)) if progress else None

    def advance(n: int) -> None:
        if progress is not None and task is not None:
            progress.advance(task, n)

    if texts and (engine == "ray" or workers > 1):
        from indexer import parallel

        config = embedder.config
        if engine == "ray":
            vectors = parallel.embed_passages_ray(texts, config, max(1, workers))
            advance(len(texts))
            return vectors
        return parallel.embed_passages_parallel(
            texts, config, workers, EMBED_BATCH, on_batch=advance
        )
    parts = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = texts[start : start + EMBED_BATCH]
        parts.append(embedder.embed_passages(batch))
        advance(len(batch))
    if not parts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.concatenate(parts)


# Over 50 lines on purpose: the incremental rules (unchanged, updated, copies) must see each
# other's decisions in one loop.
def stage_articles(
    writer: IndexWriter,
    embedder: Embedder,
    articles: Sequence[Article],
    report: IndexReport,
    chunker: Chunker | None = None,
    progress: ProgressSink | None = None,
    aliases: dict[str, str] | None = None,
    workers: int = 1,
    engine: Engine = "local",
) -> None:
    """Stage new and changed articles (and duplicate ids) as a segment of ``writer``.

    An article whose content hash is unchanged costs nothing; a changed one is re-embedded and
    its old version tombstoned; a new one with the URL or words of a live article becomes an
    alias of it. Only what changed is chunked and embedded; ``workers`` and ``engine`` as in
    ``embed_chunks``.
    """
    base = writer.base
    fresh: list[Article] = []
    new_aliases = {
        alias: kept
        for alias, kept in (aliases or {}).items()
        if not (base and base.aliases.get(alias) == kept)
    }
    # Updated articles first: their old text is on its way out and is no one's original.
    stored = {a.id: base.content_hash(a.id) if base else None for a in articles}
    hashes = {a.id: content_hash(a) for a in articles}
    writer.delete([a.id for a in articles if stored[a.id] not in (None, hashes[a.id])])
    leaving = writer.pending_deletes()  # also what the caller deletes (``--prune``)
    for article in articles:
        existing = stored[article.id]
        if existing == hashes[article.id]:
            report.unchanged += 1
            report.outcomes[article.id] = "unchanged"
            continue
        if existing is None:
            copy = base.find_copy(article, exclude=leaving) if base else None
            if copy is not None:
                new_aliases[article.id] = copy
                report.duplicates[article.id] = copy
                continue
            report.added += 1
            report.outcomes[article.id] = "added"
        else:
            report.updated += 1
            report.outcomes[article.id] = "updated"
        fresh.append(article)
    _follow_copies(new_aliases, report)
    chunker = chunker or Chunker()
    chunks = [chunk for article in fresh for chunk in chunker.split(article)]
    titles = {article.id: article.title for article in fresh}
    texts = [searchable_text(titles[c.article_id], c.text) for c in chunks]
    writer.add(
        SegmentData(
            articles=fresh,
            chunks=chunks,
            vectors=embed_chunks(embedder, texts, progress, workers, engine),
            headlines=embed_headlines(embedder, [article.title for article in fresh]),
            tokens=[analyze(text) for text in texts],
            aliases=new_aliases,
        )
    )
    report.chunks += len(chunks)


def _follow_copies(aliases: dict[str, str], report: IndexReport) -> None:
    """A copy of a batch article that turned out to copy a live one names that live one."""
    for alias, kept in aliases.items():
        seen = {alias}
        while kept in aliases and kept not in seen:
            seen.add(kept)
            kept = aliases[kept]
        aliases[alias] = kept
        if alias in report.duplicates:
            report.duplicates[alias] = kept


def _read_corpus(
    paths: Sequence[Path], report: IndexReport, progress: ProgressSink | None
) -> list[Article]:
    """The articles of ``paths``; the records that could not be read go to the report."""
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
    return articles


def _first_reasons(skipped: Sequence[SkippedRecord], shown: int = 3) -> str:
    """The first reasons, for the error that ends the run: `newsqa index` prints no table of
    skipped records then, and "1 record(s) skipped" alone does not say that a path was
    mistyped."""
    if not skipped:
        return ""
    where = [f"{r.path}{f' line {r.line}' if r.line else ''}: {r.reason}" for r in skipped[:shown]]
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return " (" + "; ".join(where) + more + ")"


def _origin_file(origin: str) -> tuple[str, str]:
    """The file and line (``""`` for a page) of an article's origin (``path`` or
    ``path:line``)."""
    path, _, line = origin.rpartition(":")
    if not (path and line.isdigit()):
        path, line = origin, ""
    return path, line


def _read_deduped(
    paths: Sequence[Path], report: IndexReport, progress: ProgressSink | None
) -> tuple[list[Article], DedupResult]:
    """The articles of ``paths`` and their deduplication, both recorded in ``report``."""
    articles = _read_corpus(paths, report, progress)
    deduped = dedupe(articles)
    report.duplicates = dict(deduped.duplicates)
    report.skipped += _id_conflicts(deduped)
    return articles, deduped


def _held_by_another_file(base: IndexStore, articles: Sequence[Article]) -> bool:
    """Whether an article of ``articles`` is stored from another file that is still there:
    which of the two keeps the id is decided by reading the whole folder."""
    for article in articles:
        if base.resolve(article.id) != article.id:
            continue
        stored = base.article(article.id)
        held = _origin_file(stored.origin)[0] if stored is not None else ""
        here = _origin_file(article.origin)[0]
        if held and os.path.realpath(held) != os.path.realpath(here) and os.path.isfile(held):
            return True
    return False


def _id_conflicts(deduped: DedupResult) -> list[SkippedRecord]:
    """The records left out because an earlier one has their id and other text, each where it
    was read (``path:line`` for JSONL): a second article under a reused id must not vanish
    without a word."""
    skipped = []
    for conflict in deduped.conflicts:
        path, line = _origin_file(conflict.article.origin)
        reason = (
            f"id {conflict.article.id!r} was read before with other text: ids must be unique, "
            "the first record is kept"
        )
        skipped.append(
            SkippedRecord(path, int(line) if line else None, reason, conflict.article.id)
        )
    return skipped


# Over 50 lines on purpose: read, dedupe, prune, stage, commit under one writer lock; the lock's
# scope is the function.
def build_index(
    paths: Sequence[Path],
    index_dir: Path,
    embedder: Embedder,
    chunker: Chunker | None = None,
    progress: ProgressSink | None = None,
    source_hash: str = "",
    prune: bool = False,
    lock_timeout: float = 0.0,
    workers: int = 1,
    dense: DenseConfig | None = None,
    engine: Engine = "local",
    max_segments: int = MAX_SEGMENTS,
    lock: FileLock | None = None,
    create: bool = True,
    within: Path | None = None,
) -> IndexReport:
    """Read, clean and deduplicate ``paths`` and bring the index in ``index_dir`` up to date.

    A new directory gets a full index; an existing one gets only what changed (see
    ``stage_articles``), and with ``prune`` loses the articles no longer in ``paths``. Bad
    records are skipped and reported; the run fails only when nothing could be read, and then
    the committed index stays as it was. ``workers > 1`` embeds the chunks in that many
    processes (``engine="local"``); ``engine="ray"`` in that many Ray actors (``embed_chunks``).
    ``dense`` with Milvus mirrors the commit to its collection (``IndexWriter``). ``lock``:
    the directory's lock, held by the caller already (``lock_index``). ``create=False``
    refuses a directory with no committed index (``IndexWriter``). ``within``: the folder
    ``paths`` (some of its files) lie in, for ``newsqa watch``: where one of their articles is
    stored from another file still there (one id in two files), the whole folder is read, so
    that the first file in path order keeps the id as ``newsqa index FOLDER`` keeps it (the
    file changed last won, and the stored version flipped with the command run last).
    """
    started = time.perf_counter()
    report = IndexReport()
    articles, deduped = _read_deduped(paths, report, progress)
    if not deduped.kept:
        # an empty folder or file said only "0 record(s) skipped": say what was looked for
        found = (
            f"{len(report.skipped)} record(s) skipped{_first_reasons(report.skipped)}"
            if report.skipped
            else "no article found (no .jsonl line, .txt or .html page)"
        )
        raise NothingIndexedError(f"nothing to index in {', '.join(map(str, paths))}: {found}")
    if prune and (unread := _unread_sources(paths, report.skipped)):
        raise UnreadSourceError(
            f"--prune would remove every article of {', '.join(unread)}, which could not be "
            "read (missing, unreadable or empty): nothing was indexed or removed. Mend the "
            "path, or leave it out, or run without --prune"
        )
    with IndexWriter(
        index_dir,
        embedder.name,
        embedder.dimension,
        lock_timeout,
        dense=dense,
        max_segments=max_segments,
        lock=lock,
        create=create,
    ) as writer:
        base = writer.base
        if within is not None and base is not None and _held_by_another_file(base, deduped.kept):
            report = IndexReport()
            articles, deduped = _read_deduped([within], report, progress)
        if prune and writer.base is not None:
            # Before staging: a new article that copies one leaving now is no duplicate. A
            # record that names its id but cannot be read (a half-written file, a bad field)
            # is still in the sources: its indexed version stays.
            present = {a.id for a in articles}
            present |= {s.article_id for s in report.skipped if s.article_id}
            gone = [a for a in writer.base.article_ids() if a not in present]
            gone += [a for a in writer.base.aliases if a not in present]
            report.removed = len(writer.delete(gone))
        stage_articles(
            writer,
            embedder,
            deduped.kept,
            report,
            chunker,
            progress,
            deduped.duplicates,
            workers=workers,
            engine=engine,
        )
        report.manifest = writer.commit(source_hash)
    report.articles = report.manifest.articles
    report.seconds = time.perf_counter() - started
    return report


def _unread_sources(paths: Sequence[Path], skipped: Sequence[SkippedRecord]) -> list[str]:
    """The sources of a run that gave nothing to read: a file or folder that could not be
    opened (missing, no permission) and a folder without one file of a known type (a share
    that came unmounted). A prune would take their articles for gone. A page that cannot be
    opened names its article by its file name, which a prune keeps: it is no reason to refuse
    (one dangling link or root-owned page in a watched folder stopped every later update)."""
    unread = [
        s.path
        for s in skipped
        if s.line is None and s.article_id is None and s.reason.startswith("cannot read")
    ]
    unread += [str(p) for p in paths if p.is_dir() and not has_articles_to_read(p)]
    return sorted(set(unread))


def write_articles(
    index_dir: Path,
    embedder: Embedder,
    upsert: Sequence[Article] = (),
    delete: Sequence[str] = (),
    lock_timeout: float = 0.0,
    dense: DenseConfig | None = None,
    progress: ProgressSink | None = None,
    missing_ok: bool = False,
    lock: FileLock | None = None,
) -> IndexReport:
    """Add or replace ``upsert`` and remove ``delete`` (ids) in one generation of the index
    in ``index_dir``, which must already exist (an HTTP write: see ``IndexWriter``'s
    ``create``). ``ArticleNotFoundError`` names a deleted id that is not in the index, and
    then nothing is written; with ``missing_ok`` such ids are listed in the report's
    ``missing`` instead, as found once the writer holds the lock (so a delete sent after a
    write that adds the id, and waiting behind it, deletes it). A write that changes nothing
    commits no generation. ``lock``: the directory's lock, held by the caller already
    (``lock_index``)."""
    started = time.perf_counter()
    report = IndexReport()
    with IndexWriter(
        index_dir,
        embedder.name,
        embedder.dimension,
        lock_timeout,
        dense=dense,
        create=False,
        lock=lock,
    ) as writer:
        missing = [a for a in dict.fromkeys(delete) if not writer.delete([a])]
        if missing and not missing_ok:
            raise ArticleNotFoundError(f"no article with id {missing[0]!r}")
        report.missing = missing
        report.removed = len(set(delete)) - len(missing)
        deduped = dedupe(list(upsert))
        report.duplicates = dict(deduped.duplicates)
        stage_articles(
            writer, embedder, deduped.kept, report, progress=progress, aliases=deduped.duplicates
        )
        report.manifest = writer.commit()
    report.articles = report.manifest.articles
    report.seconds = time.perf_counter() - started
    return report
