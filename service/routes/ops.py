"""GET /health and GET /ready, for probes. ``GET /metrics`` comes with the metrics middleware
(``service/metrics.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from service import schemas
from service.deps import ComponentsDep

router = APIRouter(tags=["ops"])


# HEAD too: probes (load balancers, uptime checks) often send it, and got 405.
@router.api_route("/health", methods=["GET", "HEAD"], response_model=schemas.Health)
def health() -> schemas.Health:
    """The process is up."""
    return schemas.Health(status="ok")


@router.api_route("/ready", methods=["GET", "HEAD"], response_model=schemas.Ready)
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
        answerer=c.answerer.describe(),
    )
