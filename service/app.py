"""The FastAPI app: the lifespan, middleware, error statuses and routers, wired together.

``create_app(settings)`` builds an app for one index directory; the model and the index are
loaded in the lifespan (never at import), so tests build apps against temporary indexes. The
routes are in ``service/routes/``; what they call to search and answer is ``service/qa.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from indexer.embedder import Embedder
from indexer.store import IndexStore
from newsqa.errors import ArticleNotFoundError, IndexBusyError, JobNotFoundError, NewsqaError
from newsqa.settings import Settings, get_settings
from service import limits, logging_setup, metrics
from service.jobs import JobRunner
from service.live_index import LiveIndex
from service.qa import Components, build_components
from service.retrieval import HybridRetriever
from service.routes import (
    articles,
    ask,
    bulk,
    docs,
    ops,
    search,
    stats,
    timeline,
    web,
    writes,
)
from service.routes.params import known_query_only

__all__ = ["create_app"]

# Domain errors (newsqa/errors.py) get their HTTP status here and nowhere else; as for
# Starlette's handler lookup, the nearest class in the exception's MRO decides.
ERROR_STATUS: dict[type[NewsqaError], int] = {
    ArticleNotFoundError: 404,
    JobNotFoundError: 404,
    IndexBusyError: 409,
    NewsqaError: 503,
}


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="newsqa",
        version="0.1.0",
        description="Semantic search and cited answers over news articles.",
        lifespan=_lifespan(settings, embedder),
        docs_url=None,  # service/routes/docs.py: the same pages, loading nothing from a CDN
        redoc_url=None,
    )
    # Limits, metrics and request logs; the last installed runs first (README, "Limits,
    # metrics and logs"): request id + access log, metrics, rate limit, body size, in flight.
    limits.install(app, settings)
    metrics.install(app)
    logging_setup.install(app)
    if settings.cors_origins:  # outermost: a preflight is answered before any limit runs
        app.add_middleware(
            CORSMiddleware,
            allow_origins=[o.strip() for o in settings.cors_origins.split(",") if o.strip()],
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Location", "Retry-After", "X-Request-ID"],
            max_age=600,
        )

    for error in ERROR_STATUS:
        app.add_exception_handler(error, _domain_error)

    # API routes refuse query parameters they do not take (the write routes check after
    # authentication); the web page and probes take any
    api = [Depends(known_query_only)]
    # In this order the paths appear in the OpenAPI document, as before the routes moved out.
    app.include_router(writes.router)  # POST/PUT/DELETE /articles (service/routes/writes.py)
    app.include_router(bulk.router)  # POST /articles/bulk, /articles/delete; GET /jobs/{id}
    app.include_router(web.router)  # GET / and /read/{id}: the web page (service/routes/web.py)
    app.mount("/static", web.static_files(), name="static")
    app.include_router(ask.router, dependencies=api)  # POST /ask
    app.include_router(search.router, dependencies=api)  # GET /search
    app.include_router(timeline.router, dependencies=api)  # GET /timeline
    app.include_router(articles.router, dependencies=api)  # GET /articles, /articles/{id}
    app.include_router(stats.router, dependencies=api)  # GET /stats
    app.include_router(ops.router)  # GET /health, /ready (GET /metrics: metrics.install)
    app.include_router(docs.router)  # GET /docs, /redoc (service/routes/docs.py)
    app.mount(docs.ASSETS, docs.assets(), name="docs-assets")
    return app


def _lifespan(
    settings: Settings, embedder: Embedder | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Loads the index and the model when the app starts, and keeps the index current."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        first = build_components(settings, embedder)
        # What every generation shares, without the first one's store: holding ``first``
        # here (or in this frame) kept the startup generation, its vectors in memory and its
        # segment files open after a merge deleted them, for as long as the server ran.
        model, answerer = first.embedder, first.answerer

        def build(store: IndexStore) -> Components:
            return Components(
                settings=settings,
                embedder=model,
                store=store,
                retriever=HybridRetriever(store, model),
                answerer=answerer,
            )

        def swap(components: Components) -> None:
            app.state.components = components  # one assignment: requests see old or new
            metrics.record_index_loaded(app)

        live = LiveIndex(first.store, build, swap, settings=settings)
        del first
        app.state.live = live
        app.state.jobs = JobRunner(live)
        live.start(settings.reload_interval)
        yield
        app.state.jobs.close()
        live.stop()

    return lifespan


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    status = next(ERROR_STATUS[c] for c in type(exc).__mro__ if c in ERROR_STATUS)
    return JSONResponse(status_code=status, content={"detail": str(exc)})
