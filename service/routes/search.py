"""GET and POST /search: ranked passages for a query, without an answer."""

from __future__ import annotations

import time
from datetime import date

from fastapi import APIRouter
from fastapi.responses import Response

from service import qa, schemas
from service.deps import ComponentsDep
from service.retrieval import Filters
from service.routes.params import AsOf, Collapse, K, QueryFilters, QueryText
from service.routes.responses import json_response, passages_out

router = APIRouter(tags=["search"])


@router.get("/search", response_model=schemas.SearchResponse)
def search(
    c: ComponentsDep,
    q: QueryText,
    filters: QueryFilters,
    k: K = None,
    as_of: AsOf = None,
    collapse: Collapse = True,
) -> Response:
    """Ranked passages with article metadata and highlighted query terms; each story once,
    its copies in ``also_reported_by`` (``collapse=false``: every article)."""
    return _search(c, q, k, filters, as_of, collapse)


@router.post("/search", response_model=schemas.SearchResponse)
def search_post(c: ComponentsDep, body: schemas.SearchRequest) -> Response:
    """GET /search with a JSON body: the same ``filters`` object as POST /ask (a list of
    values for ``source`` or ``category``), for clients that build one request shape."""
    filters = body.filters.to_retrieval() if body.filters else Filters()
    return _search(c, body.q, body.k, filters, body.as_of, body.collapse)


def _search(
    c: ComponentsDep,
    q: str,
    k: int | None,
    filters: Filters,
    as_of: date | None,
    collapse: bool,
) -> Response:
    started = time.perf_counter()
    k = k or c.settings.default_k  # NEWSQA_DEFAULT_K
    hits = qa.search(c, q, k, filters, as_of, collapse)
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return json_response(
        schemas.SearchResponse(
            query=q, passages=passages_out(c.store, hits, q), timings_ms={"total": elapsed}
        )
    )
