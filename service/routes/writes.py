"""Write endpoints: add, replace and delete articles in the served index.

They share the index directory's writer lock with `newsqa index` and `newsqa watch`, commit a
new generation, and swap it in before answering, so a 2xx means the change is being served.
Writes need ``Authorization: Bearer <NEWSQA_ADMIN_TOKEN>``; without a configured token they
are disabled (403).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Field

from indexer.documents import Article
from indexer.sources import article_from_record
from service import auth, schemas
from service.deps import ComponentsDep, LiveDep
from service.live_index import LiveIndex
from service.routes.params import known_query_only


def require_admin(c: ComponentsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """The same check as ``service.auth.WriteAuth`` (which already ran before the body was
    read); kept as the routes' dependency so the OpenAPI document lists the 401 and 403."""
    refused = auth.refusal(c.settings.admin_token, authorization)
    if refused is not None:
        raise HTTPException(refused.status, refused.detail, headers=refused.headers or None)


WRITE_ERRORS = {
    401: {"model": schemas.ErrorOut, "description": "Missing or wrong bearer token."},
    403: {"model": schemas.ErrorOut, "description": "Writes disabled (no admin token set)."},
    409: {"model": schemas.ErrorOut, "description": "Another writer holds the index lock."},
}
router = APIRouter(
    tags=["articles"],
    dependencies=[Depends(require_admin), Depends(known_query_only)],
    responses=WRITE_ERRORS,
)


def _invalid(loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    """A 422 in the documented shape (a list of errors, as for every other invalid input),
    for what the request models cannot check themselves."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message}])


def _parse(records: list[schemas.ArticleIn], origin: str, batch: bool) -> list[Article]:
    articles = []
    seen: dict[str, int] = {}
    for i, record in enumerate(records):
        loc: tuple[str | int, ...] = ("body", i) if batch else ("body",)
        if record.id in seen:  # which version should win is the client's call, not ours
            raise _invalid((*loc, "id"), f"id {record.id!r} repeats articles[{seen[record.id]}]")
        seen[record.id] = i
        try:
            articles.append(article_from_record(record.model_dump(), f"{origin}[{i}]"))
        except ValueError as exc:
            raise _invalid(loc, str(exc)) from exc
    return articles


def _upsert(live: LiveIndex, articles: list[Article]) -> schemas.WriteResult:
    return schemas.WriteResult.of(live.write(upsert=articles))


Batch = Annotated[list[schemas.ArticleIn], Field(min_length=1, max_length=1000)]


@router.post(
    "/articles",
    response_model=schemas.WriteResult,
    status_code=201,
    responses={200: {"model": schemas.WriteResult, "description": "Nothing added."}},
)
def add_articles(
    live: LiveDep, body: schemas.ArticleIn | Batch, response: Response
) -> schemas.WriteResult:
    """Add one article or a batch (up to 1,000); existing ids are replaced if changed.
    201 when an article was added, 200 when none was (updated, unchanged or copies), as PUT."""
    records = body if isinstance(body, list) else [body]
    result = _upsert(live, _parse(records, "POST /articles", isinstance(body, list)))
    if not result.added:
        response.status_code = 200
    return result


@router.put(
    "/articles/{article_id}",
    response_model=schemas.WriteResult,
    responses={201: {"model": schemas.WriteResult, "description": "Created."}},
)
def put_article(
    article_id: schemas.ArticleIdPath,
    body: schemas.ArticleUpdate,
    live: LiveDep,
    response: Response,
) -> schemas.WriteResult:
    """Create or replace the article ``article_id``."""
    if body.id is not None and body.id != article_id:
        raise _invalid(("body", "id"), f"{body.id!r} in the body differs from the path")
    record = schemas.ArticleIn(**{**body.model_dump(), "id": article_id})
    result = _upsert(live, _parse([record], f"PUT /articles/{article_id}", False))
    if result.added:
        response.status_code = 201
    return result


@router.delete(
    "/articles/{article_id}",
    response_model=schemas.WriteResult,
    responses={404: {"model": schemas.ErrorOut}},
)
def delete_article(article_id: schemas.ArticleIdPath, live: LiveDep) -> schemas.WriteResult:
    """Remove an article (or a duplicate's id) from the index."""
    return schemas.WriteResult.of(live.write(delete=[article_id]))
