"""GET /timeline: the dated sentences of the stories a query retrieves, earliest first."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response

from service import qa, schemas
from service.deps import ComponentsDep
from service.routes.params import AsOf, K, QueryFilters, QueryText
from service.routes.responses import json_response

router = APIRouter(tags=["timeline"])


@router.get("/timeline", response_model=schemas.TimelineResponse)
def timeline(
    c: ComponentsDep, q: QueryText, filters: QueryFilters, k: K = None, as_of: AsOf = None
) -> Response:
    """Each sentence of the retrieved articles that names a time, with the interval it names
    and its citation, sorted by that interval."""
    started = time.perf_counter()
    entries = qa.timeline(c, q, k or c.settings.default_k, filters, as_of)
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return json_response(
        schemas.TimelineResponse(
            query=q,
            events=[schemas.TimelineEntryOut(**e.__dict__) for e in entries],
            timings_ms={"total": elapsed},
        )
    )
