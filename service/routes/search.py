"""GET /search: ranked passages for a query, without an answer."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response

from service import qa, schemas
from service.deps import ComponentsDep
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
    started = time.perf_counter()
    k = k or c.settings.default_k  # NEWSQA_DEFAULT_K
    hits = qa.search(c, q, k, filters, as_of, collapse)
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return json_response(
        schemas.SearchResponse(
            query=q, passages=passages_out(c.store, hits, q), timings_ms={"total": elapsed}
        )
    )
