"""Hybrid retrieval: dense (FAISS) and BM25 candidates, fused per article by its best chunk.

Candidates are the union of the top dense and top BM25 chunks. Each candidate gets one score,
a weighted sum of its cosine with the question, its article headline's cosine with the
question, its BM25 score relative to the best one for this question (weighted more for longer
questions), and the share of the question's word pairs (bigrams) it contains, which rewards
passages that repeat a question's exact phrasing (names, titles of programmes). An article
ranks by its best chunk: summing all its chunks would favour long articles. A year named in
the question adds a small bonus to articles published that year, never a filter. Finally the
best candidate lends its evidence to the rest (pseudo-relevance feedback, ``_feedback``).
The weights were tuned on facqa-train and detik-summary-dev (README, "Retrieval quality").
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

import numpy as np

from indexer.analyzer import analyze, fast_tokens
from indexer.dates import to_timestamp
from indexer.documents import searchable_text
from indexer.embedder import Embedder
from indexer.event_time import publication_day, question_times
from indexer.query_lexicon import query_terms
from indexer.store import ChunkRecord, IndexStore, MetadataFilter
from service.input_text import as_read

Mode = Literal["hybrid", "dense", "bm25"]


class ReversedRangeError(ValueError):
    """A filter range that ends before it starts; ``field`` names where it starts."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Filters:
    """Hard filters on article metadata; ``None`` means no constraint. ``source`` and
    ``category`` take one value or several (any of them matches, case-insensitively)."""

    published_from: datetime | None = None
    published_to: datetime | None = None
    source: str | Sequence[str] | None = None
    category: str | Sequence[str] | None = None
    event_from: date | None = None
    """Articles that name a time ("Senin (20/10)", "tahun lalu") overlapping [event_from,
    event_to] (``indexer.event_time``, stored per segment)."""
    event_to: date | None = None

    def __post_init__(self) -> None:
        self._check_types()
        # A range that ends before it starts matches nothing; a user who swapped the bounds
        # should hear so, not get an empty result that looks like "no such news".
        published = [
            to_timestamp(d) if d else None for d in (self.published_from, self.published_to)
        ]
        for (low, high), (low_name, high_name) in (
            (published, ("published_from", "published_to")),
            ((self.event_from, self.event_to), ("event_from", "event_to")),
        ):
            if low is not None and high is not None and low > high:
                raise ReversedRangeError(
                    low_name,
                    f"{low_name} ({getattr(self, low_name).isoformat()}) is after "
                    f"{high_name} ({getattr(self, high_name).isoformat()}): nothing can match",
                )

    def _check_types(self) -> None:
        """``newsqa.Filters`` is public (``Index.search(filters=Filters(...))``): a value of
        another type failed far from where it was given, "'str' object has no attribute
        'tzinfo'" for ``published_from="2025-01-01"`` or a ``date``, "'int' object is not
        iterable" for ``category=5``. The dict form of filters reads ISO text and dates."""
        for name, kind, what in (
            ("published_from", datetime, "a datetime"),
            ("published_to", datetime, "a datetime"),
            ("event_from", date, "a date"),
            ("event_to", date, "a date"),
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise TypeError(
                    f"Filters.{name} must be {what}, not {value!r} (filters given as a dict, "
                    f"{{{name!r}: ...}}, also take ISO text and dates)"
                )
        for name in ("source", "category"):
            value = getattr(self, name)
            if value is None or isinstance(value, str):
                continue
            if isinstance(value, bytes | Mapping) or not isinstance(value, Collection):
                raise TypeError(f"Filters.{name} must be text or a list of texts, not {value!r}")
            if not all(isinstance(v, str) for v in value):
                raise TypeError(f"Filters.{name} must be text or a list of texts, not {value!r}")

    def is_empty(self) -> bool:
        return not any(
            (
                self.published_from,
                self.published_to,
                _values(self.source),
                _values(self.category),
                self.event_from,
                self.event_to,
            )
        )

    def mask(self, store: IndexStore) -> np.ndarray | None:
        """Rows of ``store`` that pass (live ones only), or None when nothing is filtered: the
        store evaluates its own filters (``IndexStore.rows_matching``)."""
        return store.rows_matching(self.pushdown())

    def pushdown(self) -> MetadataFilter | None:
        """The filters as timestamps: what the store and a vector store that filters itself
        (Milvus) apply."""
        if self.is_empty():
            return None
        return MetadataFilter(
            published_from=to_timestamp(self.published_from) if self.published_from else None,
            published_to=to_timestamp(self.published_to) if self.published_to else None,
            source=_values(self.source),
            category=_values(self.category),
            event_from=self.event_from.toordinal() if self.event_from else None,
            event_to=self.event_to.toordinal() if self.event_to else None,
        )


def _headline_scores(headlines: np.ndarray, q_vec: np.ndarray) -> np.ndarray:
    """Each candidate's headline cosine with the question; a candidate whose article has no
    headline (its vector is zeros) scores as the median titled candidate does. With zero, an
    untitled article (wire copy, a CMS record without one) lost the headline's weight that
    every titled candidate had, and did not reach the top 10 even for its own words; with the
    median it competes on its text. A corpus all titled, or all untitled (FacQA's passages),
    ranks as before."""
    scores = headlines @ q_vec
    titled = headlines.any(axis=1)
    if titled.any() and not titled.all():
        scores[~titled] = np.median(scores[titled])
    return scores


def _values(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """One value or several as a tuple, blank ones left out and runs of whitespace made one
    space (as an article's own are on write); None when unconstrained."""
    if value is None:
        return None
    values = (" ".join(v.split()) for v in ((value,) if isinstance(value, str) else value))
    return tuple(v for v in values if v) or None


@dataclass
class Passage:
    """A retrieved chunk with the scores that put it there."""

    chunk: ChunkRecord
    dense_score: float | None = None
    lexical_score: float | None = None


@dataclass(frozen=True)
class StoryCopy:
    """Another article of a hit's story: what a result shows of it."""

    article_id: str
    title: str
    source: str | None
    url: str | None
    published: datetime | None


@dataclass
class ArticleHit:
    """One article in the fused ranking, with its best passages (best first)."""

    article_id: str
    score: float
    passages: list[Passage] = field(default_factory=list)
    also_reported_by: list[StoryCopy] = field(default_factory=list)
    """The other articles of its story (copies: ``indexer.stories``), shown with this one."""


@dataclass(frozen=True)
class FusionWeights:
    """Weights of the hybrid score; dense-only and BM25-only modes use one feature each."""

    dense: float = 1.0
    headline: float = 0.5
    bigram: float = 0.2
    # A time in the question ("pada 2020", "Oktober 2025", "tahun lalu"): a chunk naming a time
    # inside it gets ``event``; otherwise an article published in it gets ``published``, less.
    # 5-fold cross-validation on facqa-train's 422 dated questions (``eval/tune_time.py``):
    # MRR@10 0.8382 without, 0.8379 with event 0.03, 0.8367 with 0.06 (facqa's sibling
    # passages name the same years); the smallest step kept the event lift, as asked.
    event: float = 0.03
    published: float = 0.015
    # BM25 gets more say the more terms a question has: a long query's BM25 score is reliable,
    # a three-word one's is not. Weight = clip(slope * (terms - pivot), low, high).
    lexical_low: float = 0.1
    lexical_high: float = 0.3
    lexical_slope: float = 0.02
    lexical_pivot: float = 5.0
    # Feedback from the best candidate (``HybridRetriever._feedback``).
    feedback_dense: float = 0.5
    feedback_lexical: float = 0.3
    feedback_terms: int = 20

    def lexical(self, terms: int) -> float:
        weight = self.lexical_slope * (terms - self.lexical_pivot)
        return min(self.lexical_high, max(self.lexical_low, weight))


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
        candidates: int = 30,
        passages_per_article: int = 3,
        weights: FusionWeights | None = None,
        translate_english: bool = True,
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
        # BM25 also looks for the Indonesian words of an English question's words
        # (``indexer.query_lexicon``)
        self.translate_english = translate_english

    def retrieve(
        self,
        question: str,
        k: int = 5,
        filters: Filters | None = None,
        as_of: date | None = None,
        collapse: bool = True,
    ) -> list[ArticleHit]:
        return self.retrieve_batch([question], k, filters, as_of=as_of, collapse=collapse)[0]

    def retrieve_batch(
        self,
        questions: Sequence[str],
        k: int = 5,
        filters: Filters | None = None,
        query_vectors: np.ndarray | None = None,
        as_of: date | None = None,
        collapse: bool = True,
    ) -> list[list[ArticleHit]]:
        """Ranked articles per question; pass ``query_vectors`` if the caller embedded them.
        ``as_of``: the day relative times in a question count from ("tahun lalu"); the newest
        publication day in the index when None. ``collapse``: each story once, its copies in
        the hit's ``also_reported_by`` (``IndexStore.stories``)."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        # a question in capitals, as every caller reads it (``service.input_text.unshouted``):
        # POST /ask, GET /search and the LangChain retrievers rank alike
        # and without the invisible characters cleaning drops from articles (``as_read``)
        questions = [as_read(q) for q in questions]
        filters = filters or Filters()
        allowed = filters.mask(self.store)
        if self.store.manifest.chunks == 0 or (allowed is not None and not allowed.any()):
            return [[] for _ in questions]
        # Dense and BM25 each nominate ``pool`` chunks. 30 ranks facqa-valid and
        # detik-summary-dev exactly as 50 and 100 did (facqa-train: one question of 2,495
        # leaves the top 10), at a third of the cost of scoring 100; a large k still gets two
        # chunks per wanted article.
        pool = max(self.candidates, 2 * k)
        # A story's copies a filter excludes are not named in ``also_reported_by`` either: a
        # response under published_to=2025-08-18 listed a copy dated 2025-08-19.
        shown = (
            None
            if allowed is None or not collapse
            else frozenset(self.store.row_article[allowed].tolist())
        )
        vectors = None
        if self.mode != "bm25":
            vectors = (
                query_vectors
                if query_vectors is not None
                else self.embedder.embed_queries(questions)
            )
            mask = self.store.searchable(allowed)  # the dense backend: FAISS or Milvus
            pushdown = self.store.pushdown(filters.pushdown(), allowed)
            _, dense_rows = self.store.backend.search(vectors, pool, mask, pushdown)
        results = []
        for i, question in enumerate(questions):
            rows: set[int] = set()
            if vectors is not None:
                rows.update(int(r) for r in dense_rows[i] if r >= 0)
            own = analyze(question)
            # weighted by the question's own terms, not the translations
            weight = self.weights.lexical(len(set(own)))
            terms = query_terms(question, own) if self.translate_english else own
            if self.mode != "dense":
                # Only membership matters here: scores are recomputed per candidate.
                rows.update(self.store.bm25.top(terms, pool, allowed).tolist())
            q_vec = vectors[i] if vectors is not None else None
            lexical = terms if self.mode != "dense" else None
            results.append(
                self._rank(
                    question, q_vec, lexical, weight, sorted(rows), k, as_of, collapse, shown
                )
            )
        return results

    # Over 50 lines on purpose: every feature of the fusion in one place, where the weights that
    # combine them are.
    def _rank(
        self,
        question: str,
        q_vec: np.ndarray | None,
        lexical: list[str] | None,
        lexical_weight: float,
        rows: list[int],
        k: int,
        as_of: date | None = None,
        collapse: bool = True,
        shown: frozenset[str] | None = None,
    ) -> list[ArticleHit]:
        """``lexical``: the question's BM25 terms, or None when BM25 takes no part.
        ``shown``: the articles the request's filters let through (None: all), the only
        copies ``also_reported_by`` may name."""
        if not rows:
            return []
        w = self.weights
        records = self.store.chunks(rows)
        ids = np.array(rows, dtype=np.int64)
        vectors = self.store.vectors_of(ids) if q_vec is not None else None
        dense = vectors @ q_vec if vectors is not None else None
        lex = None
        if lexical is not None:
            # relative to the best BM25 score of all chunks, which is among the candidates
            raw = self.store.bm25.scores_of(ids, lexical)
            best = float(raw.max())
            lex = raw / best if best > 0 else np.zeros(len(ids))
        if self.mode == "dense":
            scores = dense
        elif self.mode == "bm25":
            scores = lex
        else:
            headline = _headline_scores(self.store.headline_vectors_of(ids), q_vec)
            pairs = self._pair_shares(question, records)
            scores = (
                w.dense * dense + lexical_weight * lex + w.bigram * pairs + w.headline * headline
            )
            scores = scores + self._feedback(scores, ids, vectors, records)
        scores = np.asarray(scores, dtype=np.float64) + self._time_bonus(question, records, as_of)

        passages: dict[str, list[Passage]] = {}
        best_score: dict[str, float] = {}
        for j in np.argsort(-scores, kind="stable"):
            record = records[j]
            passage = Passage(
                chunk=record,
                dense_score=None if dense is None else round(float(dense[j]), 6),
                lexical_score=None if lex is None else round(float(lex[j]), 6),
            )
            passages.setdefault(record.article_id, []).append(passage)
            best_score.setdefault(record.article_id, float(scores[j]))
        ranked = sorted(best_score, key=lambda a: -best_score[a])
        if not collapse:
            return [
                ArticleHit(a, best_score[a], passages[a][: self.passages_per_article])
                for a in ranked[:k]
            ]
        hits: list[ArticleHit] = []
        seen: set[str] = set()
        for a in ranked:  # each story once: its best-ranked member is the hit
            story = self.store.stories.get(a, a)
            if story in seen:
                continue
            seen.add(story)
            members = self.store.story_members(a)[1:]
            also = [self._copy(m) for m in members if shown is None or m in shown]
            hits.append(
                ArticleHit(a, best_score[a], passages[a][: self.passages_per_article], also)
            )
            if len(hits) == k:
                break
        return hits

    def _copy(self, article_id: str) -> StoryCopy:
        a = self.store.article(article_id)
        assert a is not None, article_id  # a story member is a live article of this store
        return StoryCopy(a.id, a.title, a.source, a.url, a.published)

    def _feedback(
        self, scores: np.ndarray, ids: np.ndarray, vectors: np.ndarray, records: list[ChunkRecord]
    ) -> np.ndarray:
        """Pseudo-relevance feedback: how much each candidate resembles the best one, by
        cosine and by BM25 on the best one's rarest terms. A question often names the story
        while the fact it asks for sits in a sibling passage that does not repeat the name
        (facqa: "Balawan" in one passage, "bersama kelompoknya, Batuan Ethnic Fusion" in the
        next); that passage shares the story's words and topic with the best candidate."""
        w = self.weights
        best = int(np.argmax(scores))
        out = w.feedback_dense * (vectors @ vectors[best])
        if w.feedback_lexical:
            top = records[best]
            terms = analyze(searchable_text(top.title, top.text))
            lexical = self.store.bm25.scores_of(
                ids, self.store.bm25.rarest(terms, w.feedback_terms)
            )
            if lexical.max() > 0:
                out += w.feedback_lexical * lexical / lexical.max()
        return out

    def _pair_shares(self, question: str, records: list[ChunkRecord]) -> np.ndarray:
        """The share of the question's word pairs each candidate contains."""
        q_pairs = _bigrams(question)
        if not q_pairs:
            return np.zeros(len(records))
        joined = [_joined_tokens(searchable_text(r.title, r.text)) for r in records]
        return np.array([sum(pair in text for pair in q_pairs) for text in joined]) / len(q_pairs)

    def _time_bonus(
        self, question: str, records: list[ChunkRecord], as_of: date | None
    ) -> np.ndarray:
        """A time in the question lifts the chunks that name a time inside it (the event:
        "diresmikan tahun lalu" in a 2021 article is about 2020), and less, the articles
        published in it. A soft signal: nothing is filtered out."""
        w = self.weights
        asked = question_times(question, as_of or self.store.newest_day)
        out = np.zeros(len(records))
        if not asked or not (w.event or w.published):
            return out
        spans = np.array([(a.toordinal(), b.toordinal()) for a, b in asked])
        for j, (record, events) in enumerate(zip(records, self.store.chunk_events(records))):
            if (
                len(events)
                and (
                    (events[:, None, 1] >= spans[None, :, 0])
                    & (events[:, None, 0] <= spans[None, :, 1])
                ).any()
            ):
                out[j] = w.event
            elif record.published is not None:
                day = publication_day(record.published).toordinal()
                out[j] = w.published * bool(((spans[:, 0] <= day) & (day <= spans[:, 1])).any())
        return out


def _bigrams(question: str) -> frozenset[str]:
    """The question's distinct word pairs, each as " a b " (see ``_joined_tokens``)."""
    tokens = fast_tokens(question)
    return frozenset(f" {a} {b} " for a, b in zip(tokens, tokens[1:]))


@lru_cache(maxsize=4096)
def _joined_tokens(text: str) -> str:
    """`` t1 t2 ... tn ``: a pair " a b " occurs in it exactly when b follows a in ``text``.
    One substring search per question pair is cheaper than building every candidate's pair
    set; cached because the same candidate chunks recur."""
    return f" {' '.join(fast_tokens(text))} "
