"""Who may write: the one admin-token check, before any byte of a write's body is read.

``refusal(token, authorization)`` is the single decision, used twice:

* ``WriteAuth``, ASGI middleware installed outside the body limit (``service/limits.py``), so a
  POST/PUT/DELETE under ``/articles`` without the right bearer token is answered 401 (or 403
  when writes are off) as soon as its headers are in: an unauthenticated client cannot make
  the server hold its half-sent 1 MB body, nor wait for it.
* ``service/routes/writes.py::require_admin``, the routes' dependency, which keeps the 401 and
  403 in the OpenAPI document (and guards the routes if they are ever mounted without the
  middleware).

No configured token (``NEWSQA_ADMIN_TOKEN`` unset, empty or blank) means writes are off: 403.
The token is compared in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITE_PREFIX = "/articles"
WRITES_DISABLED = "write endpoints are disabled: set NEWSQA_ADMIN_TOKEN"
WRONG_TOKEN = "missing or wrong bearer token"


@dataclass(frozen=True)
class Refusal:
    """Why a write is refused: the status, the ``detail`` and the headers to answer with."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


def refusal(token: SecretStr | None, authorization: str | None) -> Refusal | None:
    """None when ``authorization`` carries ``Bearer <token>``; otherwise why not."""
    expected = token.get_secret_value().strip().encode() if token is not None else b""
    if not expected:
        return Refusal(403, WRITES_DISABLED)
    scheme, _, given = (authorization or "").partition(" ")
    # Header values arrive decoded as latin-1: encoding back gives the bytes that were sent.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("latin-1", "replace"), expected
    ):
        return Refusal(401, WRONG_TOKEN, {"WWW-Authenticate": "Bearer"})
    return None


def route_path(scope: Scope) -> str:
    """The request's path as the app's routes see it: without the root path.

    Behind a reverse proxy (``NEWSQA_ROOT_PATH=/newsqa``) uvicorn puts the prefix back into
    ``scope["path"]`` (``/newsqa/ask``), and the routes match what follows it. The middleware
    keys on paths too (writes to authenticate, paths to rate-limit, probes not counted in
    flight, the bulk body limit): on the raw path they matched nothing under a root path, and
    every one of them was off."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


def is_write(method: str, path: str, prefix: str = WRITE_PREFIX) -> bool:
    return method in WRITE_METHODS and (path == prefix or path.startswith(prefix + "/"))


class WriteAuth:
    """Refuse unauthenticated writes from their headers alone, with ``Connection: close`` (the
    unread body is not waited for)."""

    def __init__(self, app: ASGIApp, token: SecretStr | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_write(scope["method"], route_path(scope)):
            await self.app(scope, receive, send)
            return
        authorization = None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                authorization = value.decode("latin-1")
                break
        refused = refusal(self.token, authorization)
        if refused is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"detail": refused.detail},
            status_code=refused.status,
            headers={**refused.headers, "Connection": "close"},
        )
        await response(scope, receive, send)
