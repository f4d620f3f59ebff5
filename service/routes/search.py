"""GET /search: ranked passages for a query, without an answer."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from service import qa, schemas
from service.deps import ComponentsDep
from service.input_text import trim_invisible
from service.retrieval import Filters
from service.routes.responses import json_response, passages_out

router = APIRouter(tags=["search"])


@router.get("/search", response_model=schemas.SearchResponse)
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
    hits = qa.search(c, query, k, Filters(published_from, published_to, source, category))
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return json_response(
        schemas.SearchResponse(
            query=query, passages=passages_out(hits, query), timings_ms={"total": elapsed}
        )
    )
