"""Query parameters that GET /search and GET /timeline share: the query, k and the filters;
and the check every API route makes that it knows each query parameter it is sent."""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Union, get_args, get_origin
from urllib.parse import unquote_to_bytes

from fastapi import Depends, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from service.input_text import trim_invisible
from service.retrieval import Filters, ReversedRangeError
from service.schemas import FilterValue, MaybeDay, MaybeMoment, MaybePublishedTo


def query_text(
    request: Request,
    q: Annotated[
        str,  # pattern: a blank q gets the same 422 shape as every other invalid input
        Query(min_length=1, max_length=1000, pattern=r"\S", description="Query text."),
    ],
) -> str:
    """``q`` with the check POST /ask's question gets (``service/input_text.py``): control and
    zero-width characters pass the pattern but leave nothing to search for."""
    try:
        if "\ufffd" in q and not _utf8_q(request.scope.get("query_string", b"")):
            raise ValueError("is not UTF-8 once its %-escapes are decoded")
        return trim_invisible(q)
    except ValueError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "q"), "msg": f"Value error, {exc}"}]
        ) from exc


def _utf8_q(query_string: bytes) -> bool:
    """Whether every ``q`` of the raw query string is UTF-8. Starlette decodes bytes that are
    not (``%ff``, a lone surrogate's ``%ED%A0%80``) to U+FFFD, so "q=%ff%fe" was searched as
    "\ufffd\ufffd" and answered passages for it; a U+FFFD typed as such (``%EF%BF%BD``) is
    UTF-8 and still searched."""
    for part in query_string.split(b"&"):
        name, _, value = part.partition(b"=")
        if unquote_to_bytes(name.replace(b"+", b" ")) != b"q":
            continue
        try:
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def query_filters(
    published_from: MaybeMoment = None,
    published_to: Annotated[
        MaybePublishedTo,
        Query(description="Latest publication time; a day alone is the whole day."),
    ] = None,
    source: Annotated[
        list[FilterValue] | None,
        Query(max_length=50, description="Outlet; repeat it for several (any matches)."),
    ] = None,
    category: Annotated[
        list[FilterValue] | None,
        Query(max_length=50, description="Section; repeat it for several (any matches)."),
    ] = None,
    event_from: Annotated[
        MaybeDay, Query(description="Articles naming a time that ends on or after this day.")
    ] = None,
    event_to: Annotated[
        MaybeDay, Query(description="... and starts on or before this day.")
    ] = None,
) -> Filters:
    try:
        return Filters(published_from, published_to, source, category, event_from, event_to)
    except ReversedRangeError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", exc.field), "msg": f"Value error, {exc}"}]
        ) from exc


AsOf = Annotated[
    MaybeDay,
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


def _query_aliases(dependant: Dependant) -> dict[str, bool]:
    """Each query parameter's name, and whether it takes several values (a list)."""
    names = {field.alias: _is_list(field.field_info.annotation) for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_aliases(sub)
    return names


def _is_list(annotation: object) -> bool:
    """``list[str] | None`` is; ``int | None`` and ``Annotated[date, ...] | None`` are not."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(_is_list(arg) for arg in get_args(annotation))
    if origin is Annotated:
        return _is_list(get_args(annotation)[0])
    return origin in (list, tuple, set, frozenset)


UNKNOWN_LISTED = 20
"""The unknown query parameters a 422 names one by one; the rest are counted. Each error
repeats what the route takes (about 200 bytes): a 50 KB query string of 9,000 one-letter
names got a 1.8 MB answer that took half a second of CPU to build."""


async def known_query_only(request: Request) -> None:
    """A 422 naming each query parameter the route does not take, and each that takes one
    value but was given several. FastAPI ignores both, the first entirely and the second but
    for its last value, so a misspelt filter (``published_since=``, ``catgory=``) would
    answer unfiltered, and ``q=banjir&q=harga`` or ``published_from=`` twice answer for one
    of them, each looking like the answer asked for; JSON bodies already refuse unknown
    fields and a list where one value goes."""
    route: APIRoute = request.scope["route"]
    known = _query_aliases(route.dependant)  # a few dozen objects: not worth a cache
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        errors: list[dict[str, object]] = [
            {
                "type": "extra_forbidden",
                "loc": ("query", name),
                "msg": f"Unknown query parameter; this endpoint takes: {takes}",
                "input": request.query_params[name],
            }
            for name in unknown[:UNKNOWN_LISTED]
        ]
        if len(unknown) > UNKNOWN_LISTED:
            errors.append(
                {
                    "type": "extra_forbidden",
                    "loc": ("query",),
                    "msg": f"{len(unknown) - UNKNOWN_LISTED} more unknown query parameters",
                }
            )
        raise RequestValidationError(errors)
    repeated = sorted(
        name
        for name, several in known.items()
        if not several and len(request.query_params.getlist(name)) > 1
    )
    if repeated:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("query", name),
                    "msg": "Query parameter given more than once; it takes one value",
                    "input": request.query_params.getlist(name),
                }
                for name in repeated
            ]
        )
