"""Answering and searching over one loaded index, for every caller: the HTTP routes, `newsqa
ask` and the in-process eval.

No FastAPI here: the CLI and the eval answer a question the way POST /ask does without
importing the web app, and the app's routes stay a thin layer of request parsing and
response shaping over these functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np

from indexer.embedder import Embedder
from indexer.openmp import on_openmp_thread
from indexer.store import IndexStore
from newsqa.settings import Settings
from service.answer import Answer, AnswerBuilder
from service.generative import GenerativeAnswerer, chat_model_from_settings
from service.index_open import open_embedder, open_store
from service.input_text import as_read
from service.news_layout import outlet_question
from service.outlets import answer_outlets
from service.reader_answer import ReaderAnswerBuilder, load_reader_answerer
from service.retrieval import ArticleHit, Filters, HybridRetriever
from service.timeline import TimelineEntry, build_timeline


@dataclass
class Components:
    """Everything a request needs, built once per app."""

    settings: Settings
    embedder: Embedder
    store: IndexStore
    retriever: HybridRetriever
    answerer: AnswerBuilder | ReaderAnswerBuilder | GenerativeAnswerer


def build_components(settings: Settings, embedder: Embedder | None = None) -> Components:
    """Load the index (refusing one built for another model) and wire the pipeline."""
    store = open_store(settings)
    embedder = embedder or open_embedder(settings, passage_model_now=embeds_passages(settings))
    return Components(
        settings=settings,
        embedder=embedder,
        store=store,
        retriever=HybridRetriever(store, embedder),
        answerer=make_answerer(settings, embedder),
    )


def embeds_passages(settings: Settings) -> bool:
    """Whether answering embeds passages: the sentence builder ranks sentences by their
    vectors and the generative answerer checks claims with them; the reader reads tokens."""
    return settings.answer_mode != "reader" or settings.llm_base_url is not None


def make_answerer(
    settings: Settings, embedder: Embedder, generative: bool | None = None
) -> AnswerBuilder | ReaderAnswerBuilder | GenerativeAnswerer:
    """The reader by default (``NEWSQA_ANSWER_MODE``); generative when an LLM endpoint is
    configured (or asked for), over the extractive answer as its evidence and fallback."""
    extractive: AnswerBuilder | ReaderAnswerBuilder
    if settings.answer_mode == "reader":
        extractive = load_reader_answerer(settings)
    else:
        extractive = AnswerBuilder(embedder, abstain_threshold=settings.abstain_threshold)
    if generative is None:
        generative = settings.llm_base_url is not None
    if not generative:
        return extractive
    return GenerativeAnswerer(
        chat_model_from_settings(settings), extractive=extractive, embedder=embedder
    )


def answer_question(
    c: Components,
    question: str,
    k: int,
    filters: Filters | None,
    as_of: date | None = None,
    collapse: bool = True,
) -> Answer:
    """The one code path behind POST /ask, `newsqa ask` and the in-process eval. ``as_of``:
    the day "kemarin" or "tahun lalu" in the question counts from; ``collapse``: each story
    once (``HybridRetriever.retrieve_batch``)."""
    return answer_questions(c, [question], k, filters, as_of, collapse)[0]


def answer_questions(
    c: Components,
    questions: list[str],
    k: int,
    filters: Filters | None,
    as_of: date | None = None,
    collapse: bool = True,
) -> list[Answer]:
    """``answer_question`` for several questions at once (POST /ask/batch): one embedding
    batch, one retrieval batch and one reader batch, which is what makes a batch cheaper than
    as many requests. Each answer's ``timings_ms`` are the batch's."""
    started = time.perf_counter()
    asked = [as_read(q) for q in questions]

    def retrieve() -> tuple[np.ndarray, list[list[ArticleHit]]]:
        vectors = c.embedder.embed_queries(asked)  # shared by retrieval and answer scoring
        found = c.retriever.retrieve_batch(asked, k, filters, vectors, as_of, collapse)
        return vectors, found

    # Not the answer step: a generative answerer waits seconds for its model server.
    vectors, hits = on_openmp_thread(retrieve)
    retrieved = time.perf_counter()
    answers = _answer_batch(c, asked, hits, vectors)
    done = time.perf_counter()
    for answer, question in zip(answers, questions):
        answer.question = question  # as the user typed it
        answer.timings_ms = {  # the answerer's own stages (the reader's), then the request's
            **answer.timings_ms,
            "retrieve": round((retrieved - started) * 1000, 1),
            "answer": round((done - retrieved) * 1000, 1),
            "total": round((done - started) * 1000, 1),
        }
    return answers


def _answer_batch(
    c: Components, asked: list[str], hits: list[list[ArticleHit]], vectors: np.ndarray
) -> list[Answer]:
    """The answerer's answers, except to questions asking which outlet reported the story:
    those are read off the articles' outlets (``service.outlets``) whatever the answer mode,
    since no reader or model finds an outlet the text may not even name. Where no outlet is
    known (a corpus without sources, URLs or datelines), the answerer answers as before."""
    answers: list[Answer | None] = [
        None
        if (kind := outlet_question(q)) is None
        else answer_outlets(q, kind, h, c.store.article, c.store.stories)
        for q, h in zip(asked, hits)
    ]
    rest = [i for i, a in enumerate(answers) if a is None or a.abstained]
    if rest:
        found = c.answerer.answer_batch(
            [asked[i] for i in rest], [hits[i] for i in rest], question_vectors=vectors[rest]
        )
        for i, answer in zip(rest, found):
            answers[i] = answer
    return [a for a in answers if a is not None]


def search(
    c: Components,
    query: str,
    k: int,
    filters: Filters,
    as_of: date | None = None,
    collapse: bool = True,
) -> list[ArticleHit]:
    """The ranked articles behind GET /search."""
    # on the OpenMP thread, where the question is embedded: handing it the embedding alone
    # and taking the vector back cost about 2 ms per request (``indexer.openmp``)
    return on_openmp_thread(
        c.retriever.retrieve, query, k=k, filters=filters, as_of=as_of, collapse=collapse
    )


def timeline(
    c: Components, query: str, k: int, filters: Filters, as_of: date | None = None
) -> list[TimelineEntry]:
    """The dated sentences of the articles GET /search would return (each story once),
    behind GET /timeline."""
    return build_timeline(c.store, search(c, query, k, filters, as_of))
