"""The search-and-answer web page: ``GET /`` and the article reader ``GET /read/{article_id}``.

Plain HTML, CSS and a little JavaScript in ``service/static/`` (no build step), served as they
are. The pages call the JSON API (``POST /ask``, ``GET /articles/{id}``) and build their DOM with
``textContent`` only, never ``innerHTML``, so whatever an article contains is shown as text. The
Content-Security-Policy on the pages backs that up: only the pages' own files load and run.

The reader page takes a citation's offsets, ``/read/{article_id}?char_start=..&char_end=..&n=..``,
and highlights ``text[char_start:char_end]`` of the cleaned article (the text citations point
into), so the highlighted span is exactly the citation's quote.

Behind a reverse proxy serving the service under a prefix (``NEWSQA_ROOT_PATH=/newsqa``) the
pages' links and scripts must carry it: ``/static/app.js`` and ``fetch("/ask")`` went to the
proxy's root, and the page loaded without its script or styles. The pages are sent with the
root path before their own absolute URLs and in ``<meta name="newsqa-root">``, which the
scripts put before every URL they build (``ROOT`` in ``common.js``).
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
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


def page(name: str, request: Request, status: int = 200) -> HTMLResponse:
    """The page ``service/static/<name>`` with the request's root path before its absolute
    URLs and in its ``newsqa-root`` meta tag (the root path is the server's setting, never a
    request header; escaped all the same)."""
    root = html.escape(request.scope.get("root_path", ""), quote=True)
    text = (STATIC_DIR / name).read_text(encoding="utf-8")
    text = text.replace('href="/', f'href="{root}/').replace('src="/', f'src="{root}/')
    text = text.replace("<head>", f'<head>\n  <meta name="newsqa-root" content="{root}">', 1)
    return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)


@router.get("/")
def index_page(request: Request) -> HTMLResponse:
    """The question page: ask, filter, read the cited answer or the nearest passages."""
    return page("index.html", request)


@router.get("/read/{article_id}")
def reader_page(article_id: str, request: Request, c: ComponentsDep) -> HTMLResponse:
    """The cleaned article with a citation's span highlighted (offsets in the query string).

    The page itself fetches ``/articles/{id}``; the status here is 404 for an unknown id so
    that links to missing articles are visible as such (the page then says so too).
    """
    status = 200 if c.store.article(article_id) is not None else 404
    return page("read.html", request, status)


def static_files() -> StaticFiles:
    """The pages' scripts and stylesheet, mounted at ``/static``."""
    return StaticFiles(directory=STATIC_DIR)
