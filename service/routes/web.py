"""The search-and-answer web page: ``GET /`` and the article reader ``GET /read/{article_id}``.

Plain HTML, CSS and a little JavaScript in ``service/static/`` (no build step), served as they
are. The pages call the JSON API (``POST /ask``, ``GET /articles/{id}``) and build their DOM with
``textContent`` only, never ``innerHTML``, so whatever an article contains is shown as text. The
Content-Security-Policy on the pages backs that up: only the pages' own files load and run.

The reader page takes a citation's offsets, ``/read/{article_id}?char_start=..&char_end=..&n=..``,
and highlights ``text[char_start:char_end]`` of the cleaned article (the text citations point
into), so the highlighted span is exactly the citation's quote.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from service.deps import ComponentsDep

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"  # service/static

# Only the page's own scripts, styles and API calls; nothing inline, no plugins, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def index_page() -> FileResponse:
    """The question page: ask, filter, read the cited answer or the nearest passages."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/read/{article_id}")
def reader_page(article_id: str, c: ComponentsDep) -> FileResponse:
    """The cleaned article with a citation's span highlighted (offsets in the query string).

    The page itself fetches ``/articles/{id}``; the status here is 404 for an unknown id so
    that links to missing articles are visible as such (the page then says so too).
    """
    status = 200 if c.store.article(article_id) is not None else 404
    return FileResponse(
        STATIC_DIR / "read.html", status_code=status, media_type="text/html", headers=PAGE_HEADERS
    )


def static_files() -> StaticFiles:
    """The pages' scripts and stylesheet, mounted at ``/static``."""
    return StaticFiles(directory=STATIC_DIR)
