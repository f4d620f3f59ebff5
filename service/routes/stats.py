"""GET /stats: what the served index holds, counted (per outlet, per section, dates)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from fastapi import APIRouter

from indexer.dates import to_timestamp
from service import schemas
from service.deps import ComponentsDep

router = APIRouter(tags=["articles"])


@router.get("/stats", response_model=schemas.Stats)
def stats(c: ComponentsDep) -> schemas.Stats:
    """Counts of the served generation: articles per source and category, the publication
    date range, chunks, duplicates' ids and stories."""
    entries = c.store.catalog
    dated = [e.published for e in entries if e.published]
    m = c.store.manifest
    return schemas.Stats(
        generation=m.generation,
        articles=m.articles,
        chunks=m.chunks,
        duplicates=m.duplicates,
        stories=len(set(c.store.stories.values())),
        published_from=min(dated, key=_moment, default=None),
        published_to=max(dated, key=_moment, default=None),
        by_source=dict(Counter(e.source or "" for e in entries).most_common()),
        by_category=dict(Counter(e.category or "" for e in entries).most_common()),
    )


def _moment(published: str) -> float:
    """When an article was published, comparable across offsets: its ISO text sorts by the
    local clock ("2025-10-22T05:00:00Z" before "2025-10-22T10:16:00+07:00", two hours
    after it), so the range was off by hours, or days near midnight, for any article whose
    offset was not Jakarta's."""
    return to_timestamp(datetime.fromisoformat(published))
