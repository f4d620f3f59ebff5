"""The FastAPI app: thin routes over the retriever and the answer builder.

``create_app(settings)`` builds an app for one index directory; the model and the index are
loaded in the lifespan (never at import), so tests build apps against temporary indexes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated

import numpy as np
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from indexer.embedder import Embedder
from indexer.openmp import on_openmp_thread
from indexer.store import IndexStore
from newsqa.errors import ArticleNotFoundError, IndexBusyError, NewsqaError
from newsqa.settings import Settings, get_settings
from service import limits, logging_setup, metrics, schemas, web, writes
from service.answer import Answer, AnswerBuilder
from service.generative import GenerativeAnswerer, chat_model_from_settings
from service.highlight import highlight_spans, query_terms
from service.input_text import trim_invisible
from service.live_index import LiveIndex
from service.reader_answer import ReaderAnswerBuilder, load_reader_answerer
from service.retrieval import ArticleHit, Filters, HybridRetriever

log = logging.getLogger(__name__)


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
    store = IndexStore.open(
        settings.index_dir, expected_model=settings.embed_model, settings=settings
    )
    embedder = embedder or Embedder.from_settings(settings)
    return Components(
        settings=settings,
        embedder=embedder,
        store=store,
        retriever=HybridRetriever(store, embedder),
        answerer=make_answerer(settings, embedder),
    )


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


async def get_components(request: Request) -> Components:
    # async: a dependency this small is not worth a hop to the thread pool
    return request.app.state.components


ComponentsDep = Annotated[Components, Depends(get_components)]


def passages_out(hits: list[ArticleHit], query: str) -> list[schemas.PassageOut]:
    out = []
    terms = query_terms(query)
    for hit in hits:
        for passage in hit.passages:
            c = passage.chunk
            out.append(
                schemas.PassageOut(
                    article_id=c.article_id,
                    title=c.title,
                    url=c.url,
                    published=c.published,
                    source=c.source,
                    category=c.category,
                    text=c.text,
                    char_start=c.char_start,
                    char_end=c.char_end,
                    score=round(hit.score, 6),
                    highlights=highlight_spans(c.text, terms),
                )
            )
    return out


def json_response(model: BaseModel) -> Response:
    """The model as JSON, serialized once. A route that returns the model itself has FastAPI
    validate it again against ``response_model`` (in another thread-pool hop for a sync
    route) and serialize it; the models here are built and validated by the route already.
    ``response_model`` stays on the route for the OpenAPI schema."""
    return Response(model.model_dump_json(), media_type="application/json")


def ask_response(answer: Answer) -> schemas.AskResponse:
    return schemas.AskResponse(
        question=answer.question,
        answer=answer.answer,
        abstained=answer.abstained,
        evidence_language=answer.evidence_language,
        confidence=round(answer.confidence, 4),
        short_answers=[schemas.ShortAnswer(**s.__dict__) for s in answer.short_answers],
        citations=[schemas.Citation(**c.__dict__) for c in answer.citations],
        passages=passages_out(answer.hits, answer.question),
        timings_ms=answer.timings_ms,
    )


def answer_question(c: Components, question: str, k: int, filters: Filters | None) -> Answer:
    """The one code path behind POST /ask, `newsqa ask` and the in-process eval."""
    started = time.perf_counter()

    def retrieve() -> tuple[np.ndarray, list[ArticleHit]]:
        vectors = c.embedder.embed_queries([question])  # shared by retrieval and answer scoring
        return vectors, c.retriever.retrieve_batch([question], k, filters, vectors)[0]

    # Not the answer step: a generative answerer waits seconds for its model server.
    vectors, hits = on_openmp_thread(retrieve)
    retrieved = time.perf_counter()
    answer = c.answerer.answer_batch([question], [hits], question_vectors=vectors)[0]
    done = time.perf_counter()
    answer.timings_ms = {  # the answerer's own stages (the reader's), then the request's
        **answer.timings_ms,
        "retrieve": round((retrieved - started) * 1000, 1),
        "answer": round((done - retrieved) * 1000, 1),
        "total": round((done - started) * 1000, 1),
    }
    return answer


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        first = build_components(settings, embedder)

        def build(store: IndexStore) -> Components:
            return replace(first, store=store, retriever=HybridRetriever(store, first.embedder))

        def swap(components: Components) -> None:
            app.state.components = components  # one assignment: requests see old or new
            metrics.record_index_loaded(app)

        live = LiveIndex(first.store, build, swap, settings=settings)
        app.state.live = live
        live.start(settings.reload_interval)
        yield
        live.stop()

    app = FastAPI(
        title="newsqa",
        version="0.1.0",
        description="Semantic search and cited answers over news articles.",
        lifespan=lifespan,
    )
    # Limits, metrics and request logs; the last installed runs first (README, "Limits,
    # metrics and logs"): request id + access log, metrics, rate limit, body size, in flight.
    limits.install(app, settings)
    metrics.install(app)
    logging_setup.install(app)

    @app.exception_handler(ArticleNotFoundError)
    async def not_found(_: Request, exc: ArticleNotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(IndexBusyError)
    async def busy(_: Request, exc: IndexBusyError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(NewsqaError)
    async def domain_error(_: Request, exc: NewsqaError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(exc)})

    app.include_router(writes.router)  # POST/PUT/DELETE /articles (service/writes.py)
    app.include_router(web.router)  # GET / and /read/{id}: the web page (service/web.py)
    app.mount("/static", web.static_files(), name="static")

    @app.post("/ask", response_model=schemas.AskResponse, tags=["answers"])
    def ask(body: schemas.AskRequest, c: ComponentsDep) -> Response:
        """Answer a question with verbatim, cited sentences from the articles (or abstain)."""
        filters = body.filters.to_retrieval() if body.filters else None
        k = body.k if body.k is not None else c.settings.default_k  # NEWSQA_DEFAULT_K
        return json_response(ask_response(answer_question(c, body.question, k, filters)))

    @app.get("/search", response_model=schemas.SearchResponse, tags=["search"])
    def search(
        c: ComponentsDep,
        q: Annotated[
            str,  # pattern: a blank q gets the same 422 shape as every other invalid input
            Query(min_length=1, max_length=1000, pattern=r"\S", description="Query text."),
        ],
        k: Annotated[
            int | None,
            Query(ge=1, le=50, description="Articles (1-50); omitted: NEWSQA_DEFAULT_K."),
        ] = None,
        published_from: datetime | None = None,
        published_to: datetime | None = None,
        source: Annotated[str | None, Query(max_length=200)] = None,
        category: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        """Ranked passages with article metadata and highlighted query terms."""
        # The check POST /ask's question gets (``service/input_text.py``): control and
        # zero-width characters pass the pattern but leave nothing to search for.
        try:
            query = trim_invisible(q)
        except ValueError as exc:
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("query", "q"), "msg": f"Value error, {exc}"}]
            ) from exc
        if k is None:
            k = c.settings.default_k  # NEWSQA_DEFAULT_K
        started = time.perf_counter()
        filters = Filters(published_from, published_to, source, category)
        # on the OpenMP thread, where the question is embedded: handing it the embedding alone
        # and taking the vector back cost about 2 ms per request (``indexer.openmp``)
        hits = on_openmp_thread(c.retriever.retrieve, query, k=k, filters=filters)
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return json_response(
            schemas.SearchResponse(
                query=query, passages=passages_out(hits, query), timings_ms={"total": elapsed}
            )
        )

    @app.get(
        "/articles/{article_id}",
        response_model=schemas.ArticleOut,
        responses={404: {"model": schemas.ErrorOut}},
        tags=["articles"],
    )
    def article(article_id: schemas.ArticleIdPath, c: ComponentsDep) -> schemas.ArticleOut:
        """The cleaned article (the text citations point into); a duplicate's id resolves."""
        found = c.store.article(article_id)
        if found is None:
            raise ArticleNotFoundError(f"no article with id {article_id!r}")
        return schemas.ArticleOut(
            id=found.id,
            title=found.title,
            url=found.url,
            published=found.published,
            source=found.source,
            category=found.category,
            text=found.text,
        )

    @app.get("/health", response_model=schemas.Health, tags=["ops"])
    def health() -> schemas.Health:
        """The process is up."""
        return schemas.Health(status="ok")

    @app.get("/ready", response_model=schemas.Ready, tags=["ops"])
    def ready(c: ComponentsDep) -> schemas.Ready:
        """The index is loaded and answering."""
        m = c.store.manifest
        return schemas.Ready(
            status="ready",
            articles=m.articles,
            chunks=m.chunks,
            model=m.model,
            index_created_at=m.created_at,
            generation=m.generation,
            vector_store=c.store.backend.describe(),
        )

    return app
