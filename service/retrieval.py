"""Hybrid retrieval: dense (FAISS) and BM25 candidates fused per article by reciprocal rank.

Both retrievers rank chunks; an article's rank in each list is the rank of its best chunk
(summing all chunks would favour long articles), and the two article rankings are fused with
weighted reciprocal rank fusion. A year named in the question nudges articles published that
year upwards without filtering anything out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

from indexer.analyzer import analyze
from indexer.embedder import Embedder
from indexer.store import ChunkRecord, IndexStore

Mode = Literal["hybrid", "dense", "bm25"]
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


@dataclass(frozen=True)
class Filters:
    """Hard filters on article metadata; ``None`` means no constraint."""

    published_from: datetime | None = None
    published_to: datetime | None = None
    source: str | None = None
    category: str | None = None

    def is_empty(self) -> bool:
        return not any((self.published_from, self.published_to, self.source, self.category))

    def mask(self, store: IndexStore) -> np.ndarray | None:
        """Chunk rows that pass, or None when nothing is filtered."""
        if self.is_empty():
            return None
        allowed = np.ones(store.manifest.chunks, dtype=bool)
        published = store.row_published
        if self.published_from is not None:
            allowed &= published >= self.published_from.timestamp()
        if self.published_to is not None:
            allowed &= published <= self.published_to.timestamp()
        if self.source is not None:
            allowed &= _casefold_equal(store.row_source, self.source)
        if self.category is not None:
            allowed &= _casefold_equal(store.row_category, self.category)
        return allowed


def _casefold_equal(values: np.ndarray, wanted: str) -> np.ndarray:
    target = wanted.casefold()
    return np.fromiter((v.casefold() == target for v in values), dtype=bool, count=len(values))


@dataclass
class Passage:
    """A retrieved chunk with the scores that put it there."""

    chunk: ChunkRecord
    dense_score: float | None = None
    lexical_score: float | None = None


@dataclass
class ArticleHit:
    """One article in the fused ranking, with its best passages (best first)."""

    article_id: str
    score: float
    passages: list[Passage] = field(default_factory=list)


@dataclass(frozen=True)
class FusionWeights:
    """Tuned on facqa-train and detik (see README, "Retrieval quality")."""

    dense: float = 1.0
    lexical: float = 1.0
    rrf_k: float = 60.0
    year_boost: float = 0.5


class HybridRetriever:
    """Ranks articles for a question.

    >>> retriever = HybridRetriever(store, embedder)
    >>> hits = retriever.retrieve("which Palembang programs won 2020 awards", k=5)
    >>> hits[0].passages[0].chunk.title
    """

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        mode: Mode = "hybrid",
        candidates: int = 100,
        passages_per_article: int = 3,
        weights: FusionWeights | None = None,
    ) -> None:
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}")
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"mode must be hybrid, dense or bm25, got {mode!r}")
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self.candidates = candidates
        self.passages_per_article = passages_per_article
        self.weights = weights or FusionWeights()

    def retrieve(self, question: str, k: int = 5, filters: Filters | None = None) -> list[ArticleHit]:
        return self.retrieve_batch([question], k, filters)[0]

    def retrieve_batch(
        self, questions: Sequence[str], k: int = 5, filters: Filters | None = None
    ) -> list[list[ArticleHit]]:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        allowed = (filters or Filters()).mask(self.store)
        if allowed is not None and not allowed.any():
            return [[] for _ in questions]
        dense: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.zeros(0, np.int64))] * len(
            questions
        )
        if self.mode in ("hybrid", "dense"):
            vectors = self.embedder.embed_queries(questions)
            scores, rows = self.store.search_vectors(vectors, self.candidates, allowed)
            dense = [(s[r >= 0], r[r >= 0]) for s, r in zip(scores, rows)]
        results = []
        for question, (d_scores, d_rows) in zip(questions, dense):
            l_rows, l_scores = np.zeros(0, np.int64), np.zeros(0)
            if self.mode in ("hybrid", "bm25"):
                l_rows, l_scores = self.store.bm25.search(
                    analyze(question), self.candidates, allowed
                )
            results.append(self._fuse(question, d_rows, d_scores, l_rows, l_scores, k))
        return results

    def _fuse(
        self,
        question: str,
        d_rows: np.ndarray,
        d_scores: np.ndarray,
        l_rows: np.ndarray,
        l_scores: np.ndarray,
        k: int,
    ) -> list[ArticleHit]:
        w = self.weights
        passages: dict[int, Passage] = {}
        article_score: dict[str, float] = {}
        for rows, scores, weight, attr in (
            (d_rows, d_scores, w.dense, "dense_score"),
            (l_rows, l_scores, w.lexical, "lexical_score"),
        ):
            seen: set[str] = set()
            for row, score in zip(rows.tolist(), scores.tolist()):
                passage = passages.setdefault(row, Passage(chunk=None))  # type: ignore[arg-type]
                setattr(passage, attr, float(score))
                article = self.store.row_article[row]
                if article in seen:
                    continue
                seen.add(article)
                rank = len(seen)
                article_score[article] = article_score.get(article, 0.0) + weight / (w.rrf_k + rank)
        if not article_score:
            return []
        years = {int(y) for y in _YEAR.findall(question)}
        if years and w.year_boost:
            bonus = w.year_boost * (w.dense + w.lexical) / (w.rrf_k + 1)
            for row in passages:
                article = self.store.row_article[row]
                ts = self.store.row_published[row]
                if not np.isnan(ts) and datetime.fromtimestamp(ts).year in years:
                    article_score[article] += bonus / max(1, len(years))
        ranked = sorted(article_score.items(), key=lambda kv: -kv[1])[:k]
        chosen = {a for a, _ in ranked}
        rows = [r for r in passages if self.store.row_article[r] in chosen]
        for record in self.store.chunks(rows):
            passages[record.row].chunk = record
        by_article: dict[str, list[Passage]] = {a: [] for a in chosen}
        for row in rows:
            by_article[self.store.row_article[row]].append(passages[row])
        hits = []
        for article, score in ranked:
            best = sorted(by_article[article], key=_passage_order)[: self.passages_per_article]
            hits.append(ArticleHit(article_id=article, score=score, passages=best))
        return hits


def _passage_order(p: Passage) -> tuple[float, float]:
    """Best passage first: by dense score, then lexical, missing scores last."""
    return (
        -(p.dense_score if p.dense_score is not None else -1.0),
        -(p.lexical_score if p.lexical_score is not None else -1.0),
    )
