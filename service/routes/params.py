"""Query parameters that GET /search and GET /timeline share: the query, k and the filters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError

from service.input_text import trim_invisible
from service.retrieval import Filters
from service.schemas import FilterValue


def query_text(
    q: Annotated[
        str,  # pattern: a blank q gets the same 422 shape as every other invalid input
        Query(min_length=1, max_length=1000, pattern=r"\S", description="Query text."),
    ],
) -> str:
    """``q`` with the check POST /ask's question gets (``service/input_text.py``): control and
    zero-width characters pass the pattern but leave nothing to search for."""
    try:
        return trim_invisible(q)
    except ValueError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "q"), "msg": f"Value error, {exc}"}]
        ) from exc


def query_filters(
    published_from: datetime | None = None,
    published_to: datetime | None = None,
    source: Annotated[
        list[FilterValue] | None,
        Query(max_length=50, description="Outlet; repeat it for several (any matches)."),
    ] = None,
    category: Annotated[
        list[FilterValue] | None,
        Query(max_length=50, description="Section; repeat it for several (any matches)."),
    ] = None,
    event_from: Annotated[
        date | None, Query(description="Articles naming a time that ends on or after this day.")
    ] = None,
    event_to: Annotated[
        date | None, Query(description="... and starts on or before this day.")
    ] = None,
) -> Filters:
    return Filters(published_from, published_to, source, category, event_from, event_to)


AsOf = Annotated[
    date | None,
    Query(
        description="The day relative times in q count from ('tahun lalu'); omitted: the "
        "newest publication day in the index."
    ),
]
Collapse = Annotated[
    bool,
    Query(description="Each story once, its copies in also_reported_by; false: every article."),
]
QueryText = Annotated[str, Depends(query_text)]
QueryFilters = Annotated[Filters, Depends(query_filters)]
K = Annotated[
    int | None, Query(ge=1, le=50, description="Articles (1-50); omitted: NEWSQA_DEFAULT_K.")
]
