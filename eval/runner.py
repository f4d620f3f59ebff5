"""Run reference questions through the product's own answer path and score them.

In-process, each question goes through ``service.qa.answer_question`` (what POST /ask calls);
with a URL, it goes to a running server's POST /ask. Metrics come from ``eval.metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel, ValidationError

from eval import metrics
from eval.questions import ReferenceQuestion
from indexer.language import question_language
from indexer.store import IndexStore
from newsqa.errors import NewsqaError
from service.http_errors import error_detail

if TYPE_CHECKING:
    from newsqa.api import Index
    from service.qa import Components


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
    short_answers: list[str] = field(default_factory=list)  # best first; [] from older servers
    # The cited articles' stories (``story_of``), the ids ``relevant`` holds; None: the same as
    # ``citation_ids`` (results built without a store). A citation of a story's copy that is
    # not its smallest id is still a citation of the relevant story.
    citation_stories: list[str] | None = None

    @property
    def cited_stories(self) -> list[str]:
        return self.citation_ids if self.citation_stories is None else self.citation_stories

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
    # The same figures per question language ("en", "id"), plus a "questions" count: a model
    # can do well on Indonesian questions and poorly on English ones (or the reverse), and the
    # overall figure hides it.
    by_language: dict[str, dict[str, float]] = field(default_factory=dict)
    # Questions behind each mean figure (``PER_QUESTION``): a figure applies to some questions
    # only (retrieval to those with relevant ids, list recall to list questions), and 0.500
    # over one question reads like 0.500 over the set unless the count is shown beside it.
    scored: dict[str, int] = field(default_factory=dict)


AskFn = Callable[[str, int], dict]


def in_process_asker(index: Index) -> AskFn:
    """Ask through the Python API (``newsqa.Index.ask``, the code path of POST /ask),
    returning the response as POST /ask would serialise it."""
    from service.routes.responses import ask_response

    def ask(question: str, k: int) -> dict:
        return ask_response(index.store, index.ask(question, k)).model_dump()

    return ask


class AskFailedError(NewsqaError):
    """A question got no answer to score (the server refused it, could not be reached, or
    answered with something that is not a POST /ask response): the run stops, naming the
    question, rather than scoring a failed request as a miss or an abstention."""


class _AskPassage(BaseModel):
    article_id: str


class _AskCitation(BaseModel):
    article_id: str
    char_start: int
    char_end: int
    quote: str


class _AskReply(BaseModel):
    """What the eval reads of a POST /ask response (``service.schemas.AskResponse``), checked
    before scoring: a reply of another shape (a proxy's page, another service at --url) ended
    in a KeyError traceback, and a 200 ``{}`` would have been scored."""

    answer: str | None
    abstained: bool
    citations: list[_AskCitation]
    passages: list[_AskPassage]


def http_asker(
    url: str, timeout: float = 120.0, retries: int = 10, max_wait: float = 300.0
) -> AskFn:
    """POST /ask on a running server. A 429 (rate limit) or 503 (busy, reloading) is retried
    after the server's Retry-After: the eval is a client like any other, and the server's
    limits stay on (the latency then includes the wait; for latency figures serve with
    NEWSQA_RATE_LIMIT_PER_MINUTE=0). At most ``retries`` tries and ``max_wait`` seconds of
    waiting per question: a Retry-After beyond what is left fails at once instead of sleeping
    into a run that cannot finish. ``timeout``: seconds for one answer (an LLM-mode server
    may take twice ``NEWSQA_LLM_TIMEOUT`` before it falls back). Anything else that is not an
    answer raises ``AskFailedError`` with the status and the server's ``detail``."""
    client = httpx.Client(base_url=url, timeout=timeout)
    endpoint = f"{url.rstrip('/')}/ask"

    def post(question: str, k: int) -> httpx.Response:
        body = {"question": question, "k": k}
        try:
            try:
                return client.post("/ask", json=body)
            except httpx.RemoteProtocolError:
                # a kept-alive connection closed as the request went out (the server's idle
                # timeout, after a Retry-After wait): /ask changes nothing, so ask again
                return client.post("/ask", json=body)
        except httpx.TimeoutException as exc:
            raise AskFailedError(
                f"{endpoint}: no answer within {timeout:g} s ({type(exc).__name__}); "
                "give a longer --timeout if the server is just slow"
            ) from exc
        except httpx.TransportError as exc:
            raise AskFailedError(
                f"{endpoint} unreachable: {type(exc).__name__}: {exc or 'connection lost'}"
            ) from exc

    def ask(question: str, k: int) -> dict:
        waited = 0.0
        for attempt in range(1, retries + 1):
            response = post(question, k)
            if response.status_code not in (429, 503):
                break
            pause = _retry_after(response)
            if attempt == retries or waited + pause > max_wait:
                why = (
                    f"{attempt} tries"
                    if attempt == retries
                    else f"Retry-After {pause:g} s would pass {max_wait:g} s of waiting"
                )
                raise AskFailedError(
                    f"{endpoint} answered HTTP {response.status_code}: {error_detail(response)} "
                    f"(retried, {waited:.0f} s waited, gave up: {why})"
                )
            time.sleep(pause)
            waited += pause
        if response.status_code != 200:
            raise AskFailedError(
                f"{endpoint} answered HTTP {response.status_code}: {error_detail(response)}"
            )
        try:
            data = response.json()
            _AskReply.model_validate(data)
        except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
            raise AskFailedError(
                f"{endpoint} did not answer like a newsqa server's POST /ask: "
                f"{_first_line(exc)} (the body began {response.text[:80]!r})"
            ) from exc
        return data

    return ask


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _retry_after(response: httpx.Response, ceiling: float = 60.0) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.1), ceiling)
    except ValueError:
        return 1.0


def canonical_relevant(store: IndexStore, ids: frozenset[str]) -> set[str]:
    """The relevant ids that can be retrieved: each as the story of the article the index
    kept (``story_of``).

    A dropped duplicate's id is never ranked (its kept article is), so keeping it in the set
    made an ideal ranking that no retriever can produce, and capped nDCG and recall below 1
    (nDCG@10 about 0.96 on detik-summary-dev). An id the index does not know cannot be
    retrieved either, so it is left out; a question left with none drops out of the retrieval
    figures. Results show each story once (its copies under the hit), so a story counts as
    found when it is shown, whichever of its copies is the hit.
    """
    out = set()
    for article_id in ids:
        article = store.article(article_id)
        if article is not None:
            out.add(story_of(store, article.id))
    return out


def story_of(store: IndexStore, article_id: str) -> str:
    """The story an article is shown under: its story id, or itself when it has no copies."""
    return store.stories.get(article_id, article_id)


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
        try:
            response = ask(q.question, k)
        except NewsqaError as exc:  # one clear line naming the question, not a traceback
            raise AskFailedError(f"question {q.id!r}: {exc}") from exc
        latency = (time.perf_counter() - started) * 1000
        ranked: list[str] = []
        for passage in response["passages"]:
            story = story_of(store, passage["article_id"])
            if story not in ranked:
                ranked.append(story)
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
                short_answers=[s["text"] for s in response.get("short_answers") or []],
                citation_stories=[story_of(store, c["article_id"]) for c in citations],
            )
        )
        if on_done:
            on_done()
    return results


PER_QUESTION = (
    "success@1",
    "success@5",
    "success@10",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "containment",
    "token_f1",
    "exact_match",
    "short_f1",
    "list_recall",
    "answered",
)
"""The figures that are means of per-question values (``question_scores``), in report order."""


def question_scores(r: QuestionResult) -> dict[str, float]:
    """The per-question values behind the mean figures, only those that apply to ``r``.

    One function for both the means (``_figures``) and the per-question export
    (``eval.exports``), so that the mean of an exported column is the reported figure.
    Retrieval metrics apply to questions with relevant ids, answer metrics to answerable ones
    with reference answers, list recall to those asking for every answer, the answer rate
    (answered, right or wrong) to every answerable one.
    """
    q = r.question
    scores: dict[str, float] = {}
    if r.relevant:
        scores["success@1"] = metrics.success_at(r.ranked, r.relevant, 1)
        scores["success@5"] = metrics.success_at(r.ranked, r.relevant, 5)
        scores["success@10"] = metrics.success_at(r.ranked, r.relevant, 10)
        scores["recall@5"] = metrics.recall_at(r.ranked, r.relevant, 5)
        scores["recall@10"] = metrics.recall_at(r.ranked, r.relevant, 10)
        scores["mrr@10"] = metrics.mrr_at(r.ranked, r.relevant, 10)
        scores["ndcg@10"] = metrics.ndcg_at(r.ranked, r.relevant, 10)
    if q.answerable and q.answers:
        # An abstention scores 0 even if a server sent a short answer with it.
        short = None if r.abstained or not r.short_answers else r.short_answers[0]
        scores["containment"] = metrics.contains_answer(r.answer, q.answers)
        scores["token_f1"] = metrics.token_f1(r.answer, q.answers)
        scores["exact_match"] = metrics.exact_match(short, q.answers)
        scores["short_f1"] = metrics.short_f1(short, q.answers)
        if q.asks_for_all:
            found = [] if r.abstained else r.short_answers
            scores["list_recall"] = metrics.list_recall(found, q.answers)
    if q.answerable:
        scores["answered"] = float(not r.abstained)
    return scores


def _figures(results: Sequence[QuestionResult]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Mean figures and the per-question values behind them (``question_scores``);
    abstention and citation figures are over all questions."""
    with_relevant = [r for r in results if r.relevant]
    scored = [question_scores(r) for r in results]
    per_q = {name_: [s[name_] for s in scored if name_ in s] for name_ in PER_QUESTION}
    values = {name_: sum(v) / len(v) for name_, v in per_q.items() if v}
    precision, recall = metrics.abstention_scores(
        [r.abstained for r in results], [r.question.answerable for r in results]
    )
    if precision is not None:  # undefined (never abstained): "-", not a perfect score
        values["abstention_precision"] = precision
    if recall is not None:  # undefined (nothing unanswerable): "-", not a perfect score
        values["abstention_recall"] = recall
    # by story, as ``relevant`` is: a hit (and so its citation) may be any copy of the story
    cited = [(story, r) for r in with_relevant for story in r.cited_stories]
    if cited:
        values["citation_precision"] = sum(story in r.relevant for story, r in cited) / len(cited)
    validity = [v for r in results for v in r.citations_valid]
    if validity:
        values["citation_validity"] = sum(validity) / len(validity)
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    values["latency_p50_ms"] = metrics.percentile(latencies, 50)
    values["latency_p95_ms"] = metrics.percentile(latencies, 95)
    return values, per_q


def score(name: str, results: list[QuestionResult], k: int = 10) -> ModeReport:
    """Aggregate metrics, overall and per question language."""
    values, per_q = _figures(results)
    intervals = {
        name_: metrics.bootstrap_ci(per_q[name_])
        for name_ in ("mrr@10", "containment")
        if per_q[name_]
    }
    by_language: dict[str, list[QuestionResult]] = {}
    for r in results:
        by_language.setdefault(question_language(r.question.question), []).append(r)
    languages = {
        language: {"questions": len(group), **_figures(group)[0]}
        for language, group in sorted(by_language.items())
    }
    scored = {name_: len(v) for name_, v in per_q.items() if v}
    timed = sum(r.latency_ms is not None for r in results)  # the first LATENCY_SAMPLE
    scored |= {"latency_p50_ms": timed, "latency_p95_ms": timed}
    return ModeReport(name, len(results), values, intervals, results, languages, scored)


def negative_results(
    components: Components, questions: Sequence[ReferenceQuestion], k: int = 10
) -> dict[str, float]:
    """Share of abstentions per question language when the relevant articles are withheld.

    The question sets have few unanswerable questions, and those differ from the answerable
    ones in topic and wording; withholding the articles that answer a real question makes a
    negative that looks exactly like a positive, so the service must notice that the evidence
    left does not answer it (an honest "not found" instead of a confident answer from a
    neighbouring article). Runs in process (``components`` as ``service.qa.Components``),
    through the same retriever and answerer as POST /ask. Returns ``{"all": share, "id":
    share, "en": share}`` (languages present only; {} when no question qualifies);
    ``add_negatives`` puts it into a report.
    """
    abstained: dict[str, list[bool]] = {}
    for q in questions:
        if not q.answerable:
            continue
        relevant = canonical_relevant(components.store, q.relevant)
        if not relevant:
            continue
        hits = components.retriever.retrieve_batch([q.question], k)[0]
        rest = [hit for hit in hits if story_of(components.store, hit.article_id) not in relevant]
        if any(metrics.contains_answer(p.chunk.text, q.answers) for h in rest for p in h.passages):
            continue  # a sibling passage states the answer too: not a negative
        answer = components.answerer.answer_batch([q.question], [rest])[0]
        language = question_language(q.question)
        abstained.setdefault(language, []).append(answer.abstained)
    everything = [a for group in abstained.values() for a in group]
    if not everything:
        return {}
    shares = {"all": sum(everything) / len(everything)}
    shares.update({lang: sum(a) / len(a) for lang, a in sorted(abstained.items())})
    return shares


def add_negatives(report: ModeReport, shares: dict[str, float]) -> None:
    """Record ``negative_results`` as ``abstention_on_negatives`` beside the other figures."""
    if "all" in shares:
        report.values["abstention_on_negatives"] = shares["all"]
    for language, share in shares.items():
        if language in report.by_language:
            report.by_language[language]["abstention_on_negatives"] = share
