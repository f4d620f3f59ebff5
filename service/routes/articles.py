"""GET /articles/{article_id}: the cleaned text that citations point into; GET /articles:
the index's articles, page by page (a CMS syncing with the index).

Adding, replacing and deleting articles are in ``service/routes/writes.py``: they need the
admin token, reading does not.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from indexer.store import CatalogEntry
from newsqa.errors import ArticleNotFoundError
from service import schemas
from service.deps import ComponentsDep
from service.routes.responses import events_out

router = APIRouter(tags=["articles"])


@router.get("/articles", response_model=schemas.ArticleList)
def list_articles(
    c: ComponentsDep,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    since: Annotated[
        schemas.MaybeMoment,
        Query(description="Only articles written (added or changed) at or after this time."),
    ] = None,
    source: Annotated[list[schemas.FilterValue] | None, Query(max_length=50)] = None,
    category: Annotated[list[schemas.FilterValue] | None, Query(max_length=50)] = None,
) -> schemas.ArticleList:
    """Live articles sorted by id, ``limit`` at a time: id, title, dates and content hash, so a
    CMS can tell what the index holds and what changed ``since`` its last sync. The cursor is
    the last id of a page, so pages stay stable while the index is written."""
    entries = c.store.catalog
    start = bisect_right(entries, cursor, key=lambda e: e.id) if cursor is not None else 0
    wanted = _matcher(since, source, category)
    page: list[CatalogEntry] = []
    more = False
    for entry in entries[start:]:
        if wanted(entry):
            if len(page) == limit:  # one match past a full page: there is a next page
                more = True
                break
            page.append(entry)
    # Looked ahead, not "the page is full": a filtered page that exactly fills ``limit`` is
    # the last one too, and its cursor led to an empty page where README promises null.
    return schemas.ArticleList(
        articles=[schemas.ArticleListItem(**e.__dict__) for e in page],
        next_cursor=page[-1].id if more else None,
    )


def _matcher(
    since: datetime | None, source: list[str] | None, category: list[str] | None
) -> Callable[[CatalogEntry], bool]:
    after = _utc(since).isoformat(timespec="seconds") if since is not None else None
    sources = {v.casefold() for v in source or () if v.strip()} or None  # blank: any
    categories = {v.casefold() for v in category or () if v.strip()} or None

    def wanted(e: CatalogEntry) -> bool:
        return (
            (after is None or e.indexed_at >= after)
            and (sources is None or (e.source or "").casefold() in sources)
            and (categories is None or (e.category or "").casefold() in categories)
        )

    return wanted


def _utc(moment: datetime) -> datetime:
    """A naive time is UTC (``indexed_at`` is stored in UTC). A time whose UTC falls outside
    the years 1-9999 (``9999-12-31T23:59:59-05:00``) is the range's edge: every stored
    ``indexed_at`` lies inside it, so it compares the same; ``astimezone`` raised
    OverflowError, a 500."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.max if moment.year == datetime.max.year else datetime.min
        return edge.replace(tzinfo=UTC)


@router.get(
    "/articles/{article_id}",
    response_model=schemas.ArticleOut,
    responses={404: {"model": schemas.ErrorOut}},
)
def article(article_id: schemas.ArticleIdPath, c: ComponentsDep) -> schemas.ArticleOut:
    """The cleaned article (the text citations point into) and its time expressions; a
    duplicate's id resolves."""
    found = c.store.article(article_id)
    if found is None:
        raise ArticleNotFoundError(f"no article with id {article_id!r}")
    return schemas.ArticleOut(
        id=found.id,
        title=found.title,
        url=found.url,
        published=found.published,
        source=found.source,
        category=found.category,
        text=found.text,
        events=events_out(c.store, found.id, found.text, 0),
        story=_story(c, found.id),
    )


def _story(c: ComponentsDep, article_id: str) -> schemas.Story | None:
    members = c.store.story_members(article_id)
    if len(members) < 2:
        return None
    articles = [a for a in (c.store.article(m) for m in members) if a is not None]
    return schemas.Story(
        id=c.store.stories[article_id],
        members=[
            schemas.StoryMember(
                article_id=a.id, title=a.title, source=a.source, url=a.url, published=a.published
            )
            for a in articles
        ],
    )
