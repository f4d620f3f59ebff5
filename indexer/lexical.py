"""BM25 over every segment of a generation, with corpus-wide statistics.

Each segment keeps its own term frequencies (``indexer.bm25``); a question is scored against
all of them with IDF and average length taken over the live chunks of the whole generation,
so an index grown by small segments ranks like one built at once. Rows are the store's global
row numbers (``indexer.dense.base``: segments one after the other, deleted rows included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property, lru_cache
from typing import Protocol

import numpy as np

from indexer.bm25 import BM25Index, CorpusStats
from indexer.dense.base import locate


class LexicalSegment(Protocol):
    """A segment as BM25 reads it (``indexer.store.Segment`` is one)."""

    @property
    def bm25(self) -> BM25Index:
        """The segment's term frequencies, read on first use."""
        ...


class LexicalIndex:
    """BM25 over all segments of a generation with corpus-wide statistics.

    >>> lexical = LexicalIndex(segments, lives, offsets)
    >>> rows = lexical.top(analyze("harga cabai"), 30)
    >>> scores = lexical.scores_of(rows, analyze("harga cabai"))
    """

    def __init__(
        self,
        segments: Sequence[LexicalSegment],
        lives: Sequence[np.ndarray],
        offsets: np.ndarray,
    ) -> None:
        """``lives[i]``: which rows of ``segments[i]`` are live; ``offsets[i]``: the global
        row of its first row. BM25 files are read on first use, not here."""
        self.segments = segments
        self.lives = lives
        self.offsets = offsets

    @cached_property
    def _parts(self) -> list[tuple[BM25Index, np.ndarray | None]]:
        # None for a segment without deletions: statistics then skip the mask entirely.
        return [
            (seg.bm25, None if live.all() else live) for seg, live in zip(self.segments, self.lives)
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
        # The cached function holds the parts, not ``self``: a lambda over ``self`` kept in
        # ``self`` made a reference cycle, so a generation a server had swapped out kept its
        # segments (SQLite files deleted by merges included) until the cyclic GC ran.
        parts, totals = self._parts, self._totals
        return lru_cache(maxsize=256)(lambda terms: CorpusStats.of(parts, terms, totals))

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
        for (bm25, live), start, end in zip(self._parts, self.offsets[:-1], self.offsets[1:]):
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
        which, local = locate(self.offsets, rows)
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
