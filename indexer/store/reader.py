"""A committed generation opened for reading: ``IndexStore``.

The store owns the row numbering (segments one after the other, deleted rows included, see
``indexer.dense.base``), which rows are live, and metadata filters; callers ask it for rows
(``rows_matching``, ``search_vectors``, ``bm25``) or for the mask of searchable rows that the
dense backend takes (``searchable``), and never read its per-row arrays to build masks of
their own.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from indexer.dates import JAKARTA
from indexer.dedup import normalize_url, same_page, text_key
from indexer.dense.base import DenseBackend, MetadataFilter, locate
from indexer.dense.factory import DenseConfig, open_backend
from indexer.documents import Article
from indexer.event_time import EventTime
from indexer.lexical import LexicalIndex
from indexer.store.layout import SEGMENTS
from indexer.store.manifest import (
    Committed,
    Manifest,
    check_compatible,
    check_in_milvus,
    committed,
    read_manifest,
)
from indexer.store.segment import ChunkRecord, Segment
from indexer.stories import NUM_PERM, find_stories, story_map
from newsqa.errors import CorruptIndexError


@dataclass(frozen=True)
class CatalogEntry:
    """What a listing shows of an article."""

    id: str
    title: str
    published: str | None  # ISO
    content_hash: str
    indexed_at: str  # ISO, UTC: when this version of the article was written
    source: str | None
    category: str | None


class IndexStore:
    """A committed generation opened for reading (thread-safe for concurrent queries).

    Rows are numbered across the generation's segments in order; deleted rows stay in the
    numbering but never come out of a search (``live``).

    >>> store = IndexStore.open(Path("var/index"), expected_model="bundled:multilingual-e5-small")
    >>> store.manifest.chunks
    """

    def __init__(
        self,
        index_dir: Path,
        manifest: Manifest,
        segments: list[Segment],
        dense: DenseConfig | None = None,
        at: Committed | None = None,
    ) -> None:
        """``dense`` says where dense search runs (default: the segments' FAISS files);
        ``at``: the ``CURRENT`` this generation was opened from, which a reader compares with
        the one there now to know whether it is behind."""
        self.path = index_dir
        self.manifest = manifest
        self.committed = at
        self.segments = segments
        self.lives: list[np.ndarray] = []
        aliases: dict[str, str] = {}
        self.article_segment: dict[str, Segment] = {}
        for seg in segments:
            deleted = set(manifest.deleted.get(seg.name, ()))
            self.lives.append(
                np.ones(len(seg), dtype=bool)
                if not deleted
                else ~np.isin(seg.rows.article, list(deleted))
            )
            for article_id in seg.article_ids:
                if article_id not in deleted:
                    self.article_segment[article_id] = seg
            aliases.update((a, k) for a, k in seg.aliases.items() if a not in deleted)
        self.aliases = {a: k for a, k in aliases.items() if k in self.article_segment}
        sizes = [len(seg) for seg in segments]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.live = np.concatenate(self.lives) if segments else np.zeros(0, dtype=bool)
        self.bm25 = LexicalIndex(segments, self.lives, self.offsets)
        self.backend: DenseBackend = open_backend(
            dense or DenseConfig(),
            segments,
            self.offsets,
            manifest.dimension,
            live=self.live,
            row_keys=lambda: self.row_keys,
            collection=manifest.milvus_collection,
        )

    @classmethod
    def open(
        cls,
        index_dir: Path,
        expected_model: str | None = None,
        reuse: dict[str, Segment] | None = None,
        eager: bool = True,
        dense: DenseConfig | None = None,
    ) -> IndexStore:
        """Open the committed generation; refuse an index built for another model or format.

        ``reuse`` holds segments already loaded by a previous generation (only new segments
        are read from disk, so a reload costs what changed). ``eager`` reads every segment's
        vectors and BM25 now (a service) rather than on first use (a writer). Dense search
        goes where ``dense`` says (default: the segments' FAISS files).
        """
        dense = dense or DenseConfig()
        for attempt in range(5):
            at = committed(index_dir)
            manifest = read_manifest(index_dir, at)
            check_compatible(manifest, index_dir, expected_model)
            if dense.milvus:
                check_in_milvus(manifest, index_dir)
            try:
                segments = [
                    (reuse or {}).get(name) or Segment(index_dir / SEGMENTS / name)
                    for name in manifest.segments
                ]
                if eager:
                    for seg in segments:
                        seg.load(vectors=not dense.milvus)
                return cls(index_dir, manifest, segments, dense, at)
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

    # -- rows and filters -------------------------------------------------------------------

    # Per-row metadata kept in memory so that filters never touch SQLite on the hot path.
    @cached_property
    def row_article(self) -> np.ndarray:
        return self._concat("article", object)

    @cached_property
    def row_published(self) -> np.ndarray:
        return self._concat("published", np.float64)

    @cached_property
    def row_source(self) -> np.ndarray:
        return self._concat("source", object)

    @cached_property
    def row_category(self) -> np.ndarray:
        return self._concat("category", object)

    @cached_property
    def row_keys(self) -> np.ndarray:
        """The chunk key of every row (``indexer.dense.base.chunk_key``)."""
        if not self.segments:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([seg.keys for seg in self.segments])

    @cached_property
    def _row_source_folded(self) -> np.ndarray:
        return np.array([v.casefold() for v in self.row_source], dtype=object)

    @cached_property
    def _row_category_folded(self) -> np.ndarray:
        return np.array([v.casefold() for v in self.row_category], dtype=object)

    def _concat(self, name: str, dtype: type) -> np.ndarray:
        if not self.segments:
            return np.zeros(0, dtype=dtype)
        return np.concatenate([getattr(seg.rows, name) for seg in self.segments])

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
            allowed &= np.isin(self._row_source_folded, [v.casefold() for v in where.source])
        if where.category is not None:
            allowed &= np.isin(self._row_category_folded, [v.casefold() for v in where.category])
        if where.has_events:
            allowed &= np.concatenate(
                [seg.rows_with_events(where.event_from, where.event_to) for seg in self.segments]
                or [np.zeros(0, dtype=bool)]
            )
        return allowed

    def chunk_events(self, records: Sequence[ChunkRecord]) -> list[np.ndarray]:
        """Per chunk, the ``(start, end)`` days (ordinals) of the time expressions inside it."""
        which, local = locate(self.offsets, [r.row for r in records])
        out = []
        for seg_index, row, record in zip(which, local, records):
            seg = self.segments[seg_index]
            article = int(seg.rows.headline[row])
            out.append(seg.events.within(article, record.char_start, record.char_end))
        return out

    def events_in(self, article_id: str, text: str, offset: int = 0) -> list[EventTime]:
        """The stored events of a live article inside ``text``, which is its text from
        ``offset`` on (a passage, a quote, the whole article): what a response shows beside
        that text, and exactly what event filters and ranking used."""
        seg = self.article_segment[article_id]
        ev = seg.events
        at = ev.of(seg.positions[article_id])
        end = offset + len(text)
        columns = (ev.start[at], ev.end[at], ev.char_start[at], ev.char_end[at])
        return [
            EventTime(
                start=date.fromordinal(first),
                end=date.fromordinal(last),
                char_start=a,
                char_end=b,
                text=text[a - offset : b - offset],
            )
            for first, last, a, b in zip(*(c.tolist() for c in columns))
            if a >= offset and b <= end
        ]

    @cached_property
    def newest_day(self) -> date | None:
        """The newest publication day among live articles: what "tahun lalu" in a question
        is counted from when the request names no ``as_of``."""
        published = self.row_published[self.live]
        published = published[~np.isnan(published)]
        if not len(published):
            return None
        return datetime.fromtimestamp(float(published.max()), JAKARTA).date()

    def pushdown(
        self, where: MetadataFilter | None, allowed: np.ndarray | None
    ) -> MetadataFilter | None:
        """``where`` as a vector store that filters by itself evaluates it: event filters
        become the ids of the articles that pass them (``allowed``, from ``rows_matching``)."""
        if where is None or not where.has_events or allowed is None:
            return where
        return replace(where, article_ids=tuple(sorted(set(self.row_article[allowed]))))

    # -- vectors -----------------------------------------------------------------------------

    def search_vectors(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        pushdown: MetadataFilter | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k live rows by inner product, best first (padded with -inf / -1).

        ``allowed`` (bool per row, ``rows_matching``) restricts the search; ``pushdown``
        states the same filters for a vector store that evaluates them itself (Milvus)."""
        return self.backend.search(
            queries, k, self.searchable(allowed), self.pushdown(pushdown, allowed)
        )

    def searchable(self, allowed: np.ndarray | None = None) -> np.ndarray:
        """One bool per row, live and in ``allowed`` (when given): the mask that
        ``self.backend.search`` takes, so retrieval can call the backend itself."""
        return self.live if allowed is None else self.live & allowed

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """Chunk vectors of ``rows``, in order."""
        return self.backend.vectors_of(rows)

    def headline_vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The headline vector of each row's article, in order."""
        which, local = locate(self.offsets, rows)
        out = np.zeros((len(local), self.manifest.dimension), dtype=np.float32)
        for i in np.unique(which):
            seg, picked = self.segments[i], which == i
            out[picked] = seg.headlines[seg.rows.headline[local[picked]]]
        return out

    # -- chunks and articles ----------------------------------------------------------------

    def chunks(self, rows: Sequence[int]) -> list[ChunkRecord]:
        """Chunk records for ``rows``, in the same order."""
        which, local = locate(self.offsets, rows)
        found: dict[int, ChunkRecord] = {}
        for i in np.unique(which):
            found.update(self.segments[i].chunk_records(local[which == i], int(self.offsets[i])))
        return [found[int(r)] for r in rows]

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
        return self.article_segment[kept].article(kept)

    def article_ids(self) -> list[str]:
        return list(self.article_segment)

    @cached_property
    def stories(self) -> dict[str, str]:
        """``{article_id: story_id}`` for live articles that are copies of one another
        (``indexer.stories``), as the generation's commit placed them."""
        if self.manifest.stories is not None:
            return story_map(self.manifest.stories)
        ids, found = self.live_signatures()
        return find_stories(ids, found, self.text_of)

    def live_signatures(self) -> tuple[list[str], np.ndarray]:
        """The live article ids and their MinHash signatures, row for row."""
        ids: list[str] = []
        rows: list[np.ndarray] = []
        for seg in self.segments:
            here = [i for i, a in enumerate(seg.article_ids) if self.article_segment.get(a) is seg]
            ids += [seg.article_ids[i] for i in here]
            rows.append(seg.signatures[here])
        found = np.concatenate(rows) if rows else np.zeros((0, NUM_PERM), dtype=np.uint64)
        return ids, found

    def text_of(self, article_id: str) -> str:
        """A live article's text."""
        return self.article_segment[article_id].article(article_id).text

    @cached_property
    def _story_members(self) -> dict[str, list[str]]:
        members: dict[str, list[str]] = {}
        for article_id, story in sorted(self.stories.items()):
            members.setdefault(story, []).append(article_id)
        return members

    def story_members(self, article_id: str) -> list[str]:
        """The articles of ``article_id``'s story (itself first), or just itself."""
        story = self.stories.get(article_id)
        if story is None:
            return [article_id]
        return [article_id] + [a for a in self._story_members[story] if a != article_id]

    @cached_property
    def catalog(self) -> list[CatalogEntry]:
        """Every live article's listing fields, sorted by id (GET /articles pages through it
        by id, GET /stats counts it); built once per generation."""
        entries = [
            CatalogEntry(*row)
            for seg in self.segments
            for row in seg.catalog()
            if self.article_segment.get(row[0]) is seg
        ]
        return sorted(entries, key=lambda e: e.id)

    def aliases_of(self, article_ids: Sequence[str]) -> dict[str, list[str]]:
        """Duplicate ids per kept article: eval counts a hit on any of them."""
        out: dict[str, list[str]] = {a: [] for a in article_ids}
        for alias, kept in self.aliases.items():
            if kept in out:
                out[kept].append(alias)
        return out

    def content_hash(self, article_id: str) -> str | None:
        seg = self.article_segment.get(article_id)
        return None if seg is None else seg.content_hash(article_id)

    def find_copy(self, article: Article, exclude: Collection[str] = ()) -> str | None:
        """A live article (other than ``article.id`` and ``exclude``) with the same words, or
        with the same URL and the same page's text (``indexer.dedup.same_page``)."""
        url = normalize_url(article.url) if article.url else None
        key = text_key(article.text)
        for seg in reversed(self.segments):
            for found, same_words in seg.ids_with(url, key):
                if (
                    found != article.id
                    and found not in exclude
                    and self.article_segment.get(found) is seg
                    and (same_words or _same_page(article, seg.article(found)))
                ):
                    return found
        return None


def _same_page(article: Article, found: Article | None) -> bool:
    return found is not None and same_page(article.text, found.text)
