"""GET /articles/{article_id}: the cleaned text that citations point into.

Adding, replacing and deleting articles are in ``service/routes/writes.py``: they need the
admin token, reading does not.
"""

from __future__ import annotations

from fastapi import APIRouter

from newsqa.errors import ArticleNotFoundError
from service import schemas
from service.deps import ComponentsDep
from service.routes.responses import events_out

router = APIRouter(tags=["articles"])


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
