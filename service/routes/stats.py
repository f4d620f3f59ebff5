"""GET /stats: what the served index holds, counted (per outlet, per section, dates)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from service import schemas
from service.deps import ComponentsDep

router = APIRouter(tags=["articles"])


@router.get("/stats", response_model=schemas.Stats)
def stats(c: ComponentsDep) -> schemas.Stats:
    """Counts of the served generation: articles per source and category, the publication
    date range, chunks, duplicates' ids and stories."""
    entries = c.store.catalog
    dates = sorted(e.published for e in entries if e.published)
    m = c.store.manifest
    return schemas.Stats(
        generation=m.generation,
        articles=m.articles,
        chunks=m.chunks,
        duplicates=m.duplicates,
        stories=len(set(c.store.stories.values())),
        published_from=dates[0] if dates else None,
        published_to=dates[-1] if dates else None,
        by_source=dict(Counter(e.source or "" for e in entries).most_common()),
        by_category=dict(Counter(e.category or "" for e in entries).most_common()),
    )
