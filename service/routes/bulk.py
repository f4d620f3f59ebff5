"""Bulk writes: POST /articles/bulk (a JSON array or NDJSON, written as a background job),
POST /articles/delete (many ids, one generation) and GET /jobs/{id}.

What a CMS loading its archive expects (Elasticsearch's ``_bulk``): one request for thousands
of articles, a job to poll, and a result per record; a bad record is reported and skipped,
it does not sink the batch. Each job commits one generation (``service.jobs``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from indexer.documents import Article
from indexer.sources import UTF16_BOMS, Unreadable, article_from_record, json_record
from newsqa.errors import JobNotFoundError
from service import schemas
from service.deps import LiveDep
from service.jobs import JOBS_DIR, KEEP, Item, JobRunner
from service.routes.params import known_query_only
from service.routes.writes import WRITE_ERRORS, require_admin

MAX_RECORDS = 100_000
NDJSON = "application/x-ndjson"

router = APIRouter(
    tags=["articles"],
    dependencies=[Depends(require_admin), Depends(known_query_only)],
    responses=WRITE_ERRORS,
)


async def get_jobs(request: Request) -> JobRunner:
    return request.app.state.jobs


JobsDep = Annotated[JobRunner, Depends(get_jobs)]


def _records(body: bytes, content_type: str) -> Iterator[tuple[Any, str | None]]:
    """``(record, error)`` per record of a JSON array or of NDJSON (one object per line; a
    line that is not JSON, or not UTF-8, is that record's error, not the request's).

    NDJSON is split into lines as bytes: ``str.splitlines`` also breaks at U+2028 and U+0085,
    which JSON strings may hold unescaped (``json.dumps(..., ensure_ascii=False)`` writes them
    so), and cut such a record in two. A byte order mark before the first line is dropped, as
    ``newsqa index`` drops it from a file."""
    if content_type.split(";")[0].strip().lower() == NDJSON:
        if body.startswith(UTF16_BOMS):  # else a reason per line, none of them the cause
            raise _invalid("the body is UTF-16 text, not UTF-8: send it as UTF-8")
        for number, raw in enumerate(body.removeprefix(b"\xef\xbb\xbf").splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json_record(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield None, f"line {number} is not UTF-8 (byte {exc.start} of the line)"
                continue
            if isinstance(record, Unreadable):
                yield None, f"line {number} is not JSON: {record}"
            else:
                yield record, None
        return
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # BodyLimit refuses it first where it is sent as JSON
        raise _invalid(f"the body is not UTF-8 (byte {exc.start})") from exc
    try:
        records = json.loads(text)
    except ValueError as exc:
        raise _invalid(f"the body is not JSON: {exc}; send a JSON array or NDJSON") from exc
    if not isinstance(records, list):
        raise _invalid(
            "send a JSON array of articles (or NDJSON, Content-Type: application/x-ndjson)"
        )
    yield from ((r, None) for r in records)


def _invalid(message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body",), "msg": message}])


def _read(record: Any, position: int) -> Article | str:
    """The record as an article, or why it cannot be one."""
    try:  # JSON may escape a lone surrogate ("\\ud800"), which no text can hold
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"not valid Unicode: a lone surrogate at character {exc.start}"
    try:
        valid = schemas.ArticleIn.model_validate(record)
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors()
        )
    try:
        return article_from_record(valid.model_dump(), f"POST /articles/bulk[{position}]")
    except ValueError as exc:
        return str(exc)


def _parse(
    records: Iterator[tuple[Any, str | None]],
) -> tuple[list[Article], list[tuple[int, Item]], list[str | None]]:
    """The batch's articles, its rejected records (with their positions) and every record's
    id in order."""
    articles: list[Article] = []
    rejected: list[tuple[int, Item]] = []
    order: list[str | None] = []
    seen: dict[str, int] = {}
    for position, (record, error) in enumerate(records):
        if position >= MAX_RECORDS:
            raise _invalid(f"more than {MAX_RECORDS} records: split the batch")
        record_id = record.get("id") if isinstance(record, dict) else None
        record_id = record_id if isinstance(record_id, str) else None
        order.append(record_id)
        found = error or _read(record, position)
        if isinstance(found, Article) and found.id in seen:
            found = f"id {found.id!r} repeats record {seen[found.id]}"
        if isinstance(found, str):
            rejected.append((position, Item(record_id, "rejected", reason=found)))
            continue
        seen[found.id] = position
        articles.append(found)
    if not order:
        raise _invalid("no records: send at least one article")
    return articles, rejected, order


@router.post(
    "/articles/bulk",
    response_model=schemas.JobOut,
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": schemas.ArticleIn.model_json_schema()}
                },
                NDJSON: {"schema": {"type": "string", "description": "One article per line."}},
            },
        }
    },
)
async def bulk_articles(request: Request, jobs: JobsDep, response: Response) -> schemas.JobOut:
    """Add or replace up to 100,000 articles (a JSON array, or NDJSON with Content-Type
    application/x-ndjson; body up to NEWSQA_BULK_MAX_BODY_BYTES). Answers 202 with a job at
    once; the job writes the batch as one generation, and GET /jobs/{id} reports its progress
    and each record's result. Bad records are rejected one by one, with their reasons."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    # Parsing and cleaning thousands of articles takes a while: off the event loop.
    articles, rejected, order = await run_in_threadpool(
        lambda: _parse(_records(body, content_type))
    )
    job = jobs.submit(articles, rejected, order)
    # under the root path a proxy serves the API at (a bare /jobs/... is the proxy's own path)
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/jobs/{job.id}"
    return job


@router.get(
    "/jobs/{job_id}", response_model=schemas.JobOut, responses={404: {"model": schemas.ErrorOut}}
)
def get_job(job_id: str, jobs: JobsDep) -> schemas.JobOut:
    """A bulk job's state and progress; when it is done, every record's result in order."""
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFoundError(
            f"no job {job_id!r}: the last {KEEP} jobs are kept (in the index directory's "
            f"{JOBS_DIR}/)"
        )
    return job


@router.post("/articles/delete", response_model=schemas.DeleteResult)
def delete_articles(body: schemas.DeleteRequest, live: LiveDep) -> schemas.DeleteResult:
    """Remove many articles (or duplicates' ids) in one generation; ids not in the index are
    listed as missing, not an error, so a sync can send the same delete twice.

    Which ids are there is decided by the writer once it holds the lock, as for DELETE
    /articles/{id}: looked up in the served generation first, the ids a running bulk job was
    adding were answered missing at once and stayed, though the delete came after it."""
    ids = list(dict.fromkeys(body.ids))
    report = live.write(delete=ids, missing_ok=True)
    manifest = report.manifest
    assert manifest is not None
    missing = set(report.missing)
    return schemas.DeleteResult(
        generation=manifest.generation,
        articles=manifest.articles,
        deleted=[a for a in ids if a not in missing],
        missing=report.missing,
    )
