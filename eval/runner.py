"""Run reference questions through the product's own answer path and score them.

In-process, each question goes through ``service.app.answer_question`` (what POST /ask calls);
with a URL, it goes to a running server's POST /ask. Metrics come from ``eval.metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from eval import metrics
from eval.questions import ReferenceQuestion
from indexer.store import IndexStore


@dataclass
class QuestionResult:
    """What came back for one question, and its scores."""

    question: ReferenceQuestion
    ranked: list[str]
    answer: str | None
    abstained: bool
    citation_ids: list[str]
    citations_valid: list[bool]
    latency_ms: float | None  # None: not timed (answered with a warm vector cache)
    relevant: set[str] = field(default_factory=set)

    @property
    def first_relevant_rank(self) -> int | None:
        return metrics.first_relevant_rank(self.ranked, self.relevant)


@dataclass
class ModeReport:
    """Aggregate metrics of one mode over one question set."""

    name: str
    questions: int
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    results: list[QuestionResult]


AskFn = Callable[[str, int], dict]


def in_process_asker(components) -> AskFn:  # type: ignore[no-untyped-def]
    """Ask through the same function POST /ask uses, returning the response as a dict."""
    from service.app import answer_question, ask_response

    def ask(question: str, k: int) -> dict:
        return ask_response(answer_question(components, question, k, None)).model_dump()

    return ask


def http_asker(url: str, timeout: float = 60.0, retries: int = 10) -> AskFn:
    """POST /ask on a running server. A 429 (rate limit) or 503 (busy) is retried after the
    server's Retry-After: the eval is a client like any other, and the server's limits stay
    on (the latency then includes the wait; for latency figures serve with
    NEWSQA_RATE_LIMIT_PER_MINUTE=0)."""
    client = httpx.Client(base_url=url, timeout=timeout)

    def ask(question: str, k: int) -> dict:
        for _ in range(retries):
            response = client.post("/ask", json={"question": question[:1000], "k": k})
            if response.status_code not in (429, 503):
                break
            time.sleep(_retry_after(response))
        response.raise_for_status()
        return response.json()

    return ask


def _retry_after(response: httpx.Response, ceiling: float = 60.0) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.1), ceiling)
    except ValueError:
        return 1.0


def canonical_relevant(store: IndexStore, ids: frozenset[str]) -> set[str]:
    """Relevant ids as the index knows them: a dropped duplicate counts as its kept article."""
    out = set(ids)
    for article_id in ids:
        article = store.article(article_id)
        if article is not None:
            out.add(article.id)
    return out


def citation_is_valid(citation: dict, store: IndexStore) -> bool:
    """The quote/offset identity: quote == article text[char_start:char_end]."""
    article = store.article(citation["article_id"])
    if article is None:
        return False
    return article.text[citation["char_start"] : citation["char_end"]] == citation["quote"]


def run_questions(
    questions: Sequence[ReferenceQuestion],
    ask: AskFn,
    store: IndexStore,
    k: int = 10,
    on_done: Callable[[], None] | None = None,
) -> list[QuestionResult]:
    results = []
    for q in questions:
        started = time.perf_counter()
        response = ask(q.question, k)
        latency = (time.perf_counter() - started) * 1000
        ranked: list[str] = []
        for passage in response["passages"]:
            if passage["article_id"] not in ranked:
                ranked.append(passage["article_id"])
        citations = response["citations"]
        results.append(
            QuestionResult(
                question=q,
                ranked=ranked,
                answer=response["answer"],
                abstained=response["abstained"],
                citation_ids=[c["article_id"] for c in citations],
                citations_valid=[citation_is_valid(c, store) for c in citations],
                latency_ms=latency,
                relevant=canonical_relevant(store, q.relevant),
            )
        )
        if on_done:
            on_done()
    return results


def score(name: str, results: list[QuestionResult], k: int = 10) -> ModeReport:
    """Aggregate metrics; retrieval metrics over questions with relevant ids, answer metrics
    over those with reference answers, abstention over all."""
    with_relevant = [r for r in results if r.relevant]
    with_answers = [r for r in results if r.question.answers and r.question.answerable]
    per_q = {
        "recall@1": [metrics.recall_at(r.ranked, r.relevant, 1) for r in with_relevant],
        "recall@5": [metrics.recall_at(r.ranked, r.relevant, 5) for r in with_relevant],
        "recall@10": [metrics.recall_at(r.ranked, r.relevant, 10) for r in with_relevant],
        "mrr@10": [metrics.mrr_at(r.ranked, r.relevant, 10) for r in with_relevant],
        "ndcg@10": [metrics.ndcg_at(r.ranked, r.relevant, 10) for r in with_relevant],
        "containment": [
            metrics.contains_answer(r.answer, r.question.answers) for r in with_answers
        ],
        "token_f1": [metrics.token_f1(r.answer, r.question.answers) for r in with_answers],
    }
    values = {name_: sum(v) / len(v) for name_, v in per_q.items() if v}
    precision, recall = metrics.abstention_scores(
        [r.abstained for r in results], [r.question.answerable for r in results]
    )
    values["abstention_precision"] = precision
    values["abstention_recall"] = recall
    cited = [(cid, r) for r in with_relevant for cid in r.citation_ids]
    if cited:
        values["citation_precision"] = sum(cid in r.relevant for cid, r in cited) / len(cited)
    validity = [v for r in results for v in r.citations_valid]
    if validity:
        values["citation_validity"] = sum(validity) / len(validity)
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    values["latency_p50_ms"] = metrics.percentile(latencies, 50)
    values["latency_p95_ms"] = metrics.percentile(latencies, 95)
    intervals = {
        name_: metrics.bootstrap_ci(per_q[name_])
        for name_ in ("mrr@10", "containment")
        if per_q[name_]
    }
    return ModeReport(name, len(results), values, intervals, results)
