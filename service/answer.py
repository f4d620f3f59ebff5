"""Extractive answers: verbatim sentences from the retrieved passages, each with its citation.

Every sentence of the best passages is scored against the question with the embedder (cosine,
works across English and Indonesian) plus lexical overlap of analyzed terms (exact names and
numbers), plus a small prior for the article's retrieval rank. The best one or two sentences
form the answer, each followed by its marker ``[n]``. A citation's offsets point into the
article's canonical text, and ``quote == text[char_start:char_end]`` holds by construction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from indexer.analyzer import analyze
from indexer.embedder import Embedder
from indexer.language import text_language
from indexer.sentences import split_sentences
from indexer.store import ChunkRecord
from service.retrieval import ArticleHit

# What kind of answer a question asks for, by its question words (Indonesian and English).
_ASKS_QUANTITY = re.compile(
    r"\b(berapa|berapakah|jumlah|how (much|many|long|large|big|far|old)|what (percentage|"
    r"share|price|time)|jam berapa|kapan|kapankah|when|tanggal|tahun berapa|what year)\b",
    re.IGNORECASE,
)
_ASKS_NAME = re.compile(r"\b(siapa|siapakah|who|whom|whose)\b", re.IGNORECASE)
_DIGITS = re.compile(r"\d+(?:[.,:]\d+)*")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")


@dataclass(frozen=True)
class Citation:
    """One quoted span: ``quote == article.text[char_start:char_end]``."""

    n: int
    article_id: str
    title: str
    url: str | None
    published: datetime | None
    quote: str
    char_start: int
    char_end: int
    score: float

    @classmethod
    def of(cls, n: int, chunk: ChunkRecord, start: int, end: int, score: float) -> Citation:
        """Cite ``chunk``'s article at the absolute offsets ``start:end`` (inside the chunk)."""
        return cls(
            n=n,
            article_id=chunk.article_id,
            title=chunk.title,
            url=chunk.url,
            published=chunk.published,
            quote=chunk.text[start - chunk.char_start : end - chunk.char_start],
            char_start=start,
            char_end=end,
            score=score,
        )


@dataclass(frozen=True)
class ShortAnswer:
    """The answer itself, a span of a cited article: ``text == article.text[char_start:char_end]``;
    ``n`` is the citation whose quote holds it."""

    text: str
    n: int
    article_id: str
    char_start: int
    char_end: int
    score: float


@dataclass
class Answer:
    question: str
    answer: str | None
    abstained: bool
    citations: list[Citation]
    hits: list[ArticleHit]
    confidence: float
    evidence_language: str | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    short_answers: list[ShortAnswer] = field(default_factory=list)

    @classmethod
    def cited(
        cls,
        question: str,
        parts: list[str],
        citations: list[Citation],
        hits: list[ArticleHit],
        confidence: float,
    ) -> Answer:
        """An answer made of ``parts`` (each ending in its markers) and their citations."""
        return cls(
            question=question,
            answer=" ".join(parts),
            abstained=False,
            citations=citations,
            hits=hits,
            confidence=confidence,
            evidence_language=text_language(c.quote for c in citations),
        )


@dataclass(frozen=True)
class _Candidate:
    rank: int  # article rank in the retrieval
    hit: ArticleHit
    chunk: ChunkRecord
    start: int  # offsets into the article's canonical text
    end: int
    text: str


def _offers_answer_type(question: str, sentence: str) -> bool:
    """Does the sentence hold what the question asks for, beyond what the question says?

    A "berapa / how many / kapan / when" question needs a number the question does not already
    contain, a "siapa / who" question a capitalised name it does not contain. Topic sentences
    that merely restate the question lose to the sentence with the fact.
    """
    if _ASKS_QUANTITY.search(question):
        known = set(_DIGITS.findall(question))
        return any(n not in known for n in _DIGITS.findall(sentence))
    if _ASKS_NAME.search(question):
        known = question.casefold()
        return any(name.casefold() not in known for name in _NAME.findall(sentence))
    return False


class AnswerBuilder:
    """Composes a short cited answer from retrieved articles, or abstains.

    >>> builder = AnswerBuilder(embedder, abstain_threshold=0.80)
    >>> builder.answer("siapa wali kota Palembang?", retriever.retrieve("siapa ...", k=5))
    """

    def __init__(
        self,
        embedder: Embedder,
        abstain_threshold: float = 0.0,
        max_sentences: int = 2,
        passages_considered: int = 4,
        second_sentence_margin: float = 0.05,
        lexical_weight: float = 0.15,
        rank_prior: float = 0.02,
        answer_type_bonus: float = 0.05,
        sentences_embedded: int = 12,
    ) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
        self.embedder = embedder
        self.abstain_threshold = abstain_threshold
        self.max_sentences = max_sentences
        self.passages_considered = passages_considered
        self.second_sentence_margin = second_sentence_margin
        self.lexical_weight = lexical_weight
        self.rank_prior = rank_prior
        self.answer_type_bonus = answer_type_bonus
        self.sentences_embedded = sentences_embedded

    def answer(self, question: str, hits: list[ArticleHit]) -> Answer:
        return self.answer_batch([question], [hits])[0]

    def describe(self) -> str:
        """How answers are composed, for /ready."""
        return "sentences"

    def answer_batch(
        self,
        questions: Sequence[str],
        hits: Sequence[list[ArticleHit]],
        question_vectors: np.ndarray | None = None,
    ) -> list[Answer]:
        """Answers per question; pass ``question_vectors`` if the retriever already made them."""
        shortlists = [self._shortlist(q, self._candidates(h)) for q, h in zip(questions, hits)]
        flat = [c.text for cs in shortlists for c, _ in cs]
        sentence_vectors = self.embedder.embed_passages(flat, cache=True)
        if question_vectors is None:
            question_vectors = self.embedder.embed_queries(list(questions))
        answers, offset = [], 0
        for question, q_vec, cands, h in zip(questions, question_vectors, shortlists, hits):
            vectors = sentence_vectors[offset : offset + len(cands)]
            offset += len(cands)
            answers.append(self._compose(question, q_vec, cands, vectors, h))
        return answers

    def _candidates(self, hits: list[ArticleHit]) -> list[_Candidate]:
        """Sentences of the best passages, in retrieval order, without repeats from overlaps."""
        passages = [(rank, hit, p) for rank, hit in enumerate(hits) for p in hit.passages]
        passages.sort(key=lambda item: item[0])
        out: list[_Candidate] = []
        seen: set[tuple[str, int]] = set()
        for rank, hit, passage in passages[: self.passages_considered]:
            chunk = passage.chunk
            for start, end in split_sentences(chunk.text):
                key = (hit.article_id, chunk.char_start + start)
                if key in seen:
                    continue
                seen.add(key)
                out.append(
                    _Candidate(
                        rank,
                        hit,
                        chunk,
                        chunk.char_start + start,
                        chunk.char_start + end,
                        chunk.text[start:end],
                    )
                )
        return out

    def _shortlist(self, question: str, cands: list[_Candidate]) -> list[tuple[_Candidate, float]]:
        """The candidates worth embedding, each with its lexical score.

        Embedding a sentence is the costly part of answering; a cheap score (term overlap,
        answer type, retrieval rank) keeps the ``sentences_embedded`` most promising ones. Ties,
        as for an English question over Indonesian text with no shared term, keep reading order,
        which favours the best-ranked passages.
        """
        q_terms = set(analyze(question))
        scored = []
        for cand in cands:
            overlap = len(q_terms & set(analyze(cand.text))) / len(q_terms) if q_terms else 0.0
            score = self.lexical_weight * overlap - self.rank_prior * cand.rank
            if _offers_answer_type(question, cand.text):
                score += self.answer_type_bonus
            scored.append((cand, score))
        keep = sorted(range(len(scored)), key=lambda i: -scored[i][1])[: self.sentences_embedded]
        return [scored[i] for i in sorted(keep)]

    def _compose(
        self,
        question: str,
        q_vec: np.ndarray,
        shortlist: list[tuple[_Candidate, float]],
        vectors: np.ndarray,
        hits: list[ArticleHit],
    ) -> Answer:
        if not shortlist:
            return Answer(question, None, True, [], hits, 0.0, None)
        cands = [cand for cand, _ in shortlist]
        semantic = vectors @ q_vec
        scores = [float(sem) + lexical for (_, lexical), sem in zip(shortlist, semantic)]
        order = np.argsort(scores)[::-1]
        confidence = float(semantic[order[0]])
        if confidence < self.abstain_threshold:
            return Answer(question, None, True, [], hits, confidence, None)
        chosen = [int(order[0])]
        for i in order[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if scores[i] >= scores[chosen[0]] - self.second_sentence_margin:
                chosen.append(int(i))
        # Keep reading order within an article so that the answer reads naturally.
        chosen.sort(key=lambda i: (cands[i].rank, cands[i].start))
        citations, parts, numbers = [], [], {}
        for i in chosen:
            cand = cands[i]
            n = numbers.setdefault((cand.hit.article_id, cand.start), len(numbers) + 1)
            citations.append(Citation.of(n, cand.chunk, cand.start, cand.end, round(scores[i], 4)))
            parts.append(f"{cand.text} [{n}]")
        return Answer.cited(question, parts, citations, hits, confidence)
