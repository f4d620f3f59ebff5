"""Limits that keep the service up under load and hostile input: plain ASGI middleware.

* ``BodyLimit``: a request body over ``max_body_bytes`` gets 413 naming the limit, whether it
  announces its size (Content-Length, refused before reading) or streams it (chunked: bytes are
  counted as they arrive, and reading stops at the limit). A body not complete within
  ``body_timeout`` seconds gets 408 (a client trickling one byte a second holds nothing for
  long). A JSON body that is not UTF-8 gets 400 saying so (FastAPI alone answers a vague "error
  parsing the body").
* ``service.auth.WriteAuth`` runs before the body is read: an unauthenticated write is refused
  from its headers alone.
* ``RateLimit``: a token bucket per client IP on the costly routes (POST /ask, /ask/batch,
  /search, GET /timeline):
  ``rate_limit_per_minute`` sustained, ``rate_limit_burst`` at once; beyond it 429 with
  Retry-After. Keyed by the ASGI client address: the socket's peer, or, for a proxy named in
  ``forwarded_allow_ips`` (``service/server.py``), the client its X-Forwarded-For names.
* ``InFlightLimit``: at most ``max_in_flight`` requests are served at once, and at most
  ``max_in_flight_per_client`` of them for one client address; one more gets 503 with
  Retry-After at once, instead of waiting in an unbounded queue (uvicorn's thread pool), and
  one client's burst cannot take every slot. Health, readiness and metrics are not counted, so
  probes still answer when the server is saturated.

Refusals sent before the body was read (413 by Content-Length, 408) close the connection, so
the rest of the body is never waited for. Connection-level limits (header and keep-alive
timeouts, the number of open connections) are in ``service/server.py``.

The `limits` package was considered for the rate limit: its strategies are windows (fixed,
moving, sliding), which have no separate burst size; a token bucket gives rate and burst in a
few lines. The state is guarded by a ``threading.Lock``, so the middleware is safe whether the
server runs one event loop or several threads.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import anyio
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsqa.settings import Settings
from service.auth import WriteAuth, route_path

# The routes that embed a query and search (/timeline as much as /search): a client sending
# new queries to an unlimited one spent the CPU the limit keeps for everyone else.
RATE_LIMITED_PATHS = frozenset({"/ask", "/ask/batch", "/search", "/timeline"})
NOT_COUNTED_IN_FLIGHT = frozenset({"/health", "/ready", "/metrics"})


async def send_json(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    """A ``{"detail": ...}`` JSON response, the shape of every other error of the API."""
    body = json.dumps({"detail": detail}).encode("utf-8")
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def _is_json(content_type: bytes | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return f"request body too large: the limit is {limit} bytes"


def body_timeout_detail(seconds: float) -> str:
    return f"request body not received in time: the limit is {seconds:g} s for the whole body"


CLOSE = {"Connection": "close"}  # answered before the body was read: do not wait for the rest


async def _receive_by(receive: Receive, deadline: float | None) -> Message | None:
    """The next ASGI message, or None when ``deadline`` (``anyio.current_time()``) passes first."""
    if deadline is None:
        return await receive()
    with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
        return await receive()
    return None


class BodyLimit:
    """413 for bodies over ``max_bytes``; 408 for bodies not in after ``timeout`` seconds; 400
    for JSON bodies that are not UTF-8.

    The body is read here, at most ``max_bytes`` of it, and replayed to the app: that is what
    lets a streamed (chunked) body be refused with a proper 413 before any route sees it, and
    what keeps a slow upload from holding an in-flight slot.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout: float | None = None,
        larger: dict[str, int] | None = None,
    ) -> None:
        """``larger``: paths with a limit of their own (bulk writes)."""
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.larger = larger or {}

    # Over 50 lines on purpose: an ASGI middleware's one entry point: each refusal must happen
    # before the body is read, in this order.
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(route_path(scope), self.max_bytes)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await send_json(send, 413, too_large_detail(max_bytes), CLOSE)
            return

        chunks: list[bytes] = []
        size = 0
        disconnected: Message | None = None
        deadline = None if self.timeout is None else anyio.current_time() + self.timeout
        while True:
            message = await _receive_by(receive, deadline)
            if message is None:
                assert self.timeout is not None
                await send_json(send, 408, body_timeout_detail(self.timeout), CLOSE)
                return
            if message["type"] != "http.request":  # the client went away
                disconnected = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                await send_json(send, 413, too_large_detail(max_bytes), CLOSE)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)

        if body and _is_json(_header(scope, b"content-type")):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                detail = f"request body is not valid UTF-8 (byte {exc.start}); JSON must be UTF-8"
                await send_json(send, 400, detail)
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if disconnected is not None:
                return disconnected
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for a disconnect, as servers do

        await self.app(scope, replay, send)


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens per second, at most ``burst`` stored.

    ``take(key)`` spends a token and returns 0.0, or returns the seconds until one is there.
    Buckets that have refilled completely are forgotten (they equal a new bucket), which keeps
    the table bounded by the clients active in the last ``burst / rate`` seconds.
    """

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def take(self, key: str, cost: int = 1, paid: int = 0) -> float:
        """Spend ``cost`` tokens of ``key``'s bucket and return 0.0, or return the seconds until
        there are enough. ``paid`` of them were already spent (POST /ask/batch pays one before
        its body is read and the rest once it knows how many questions it holds); a refusal
        gives those back. A cost above ``burst`` needs only a full bucket and leaves it in
        debt, so the sustained rate holds whatever the cost and no cost is refused forever."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            need = min(float(cost), self.burst) - paid
            if tokens >= need:
                self._buckets[key] = (tokens - (cost - paid), now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens + paid, now)
                wait = (need - tokens) / self.rate
            if now >= self._next_prune:
                self._prune(now)
        return wait

    def _prune(self, now: float) -> None:
        # A bucket in debt (a batch) is kept until it has refilled: forgetting it earlier
        # would forgive the debt.
        self._buckets = {
            k: (t, at)
            for k, (t, at) in self._buckets.items()
            if t + (now - at) * self.rate < self.burst
        }
        self._next_prune = now + min(self.burst / self.rate, 60.0)

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimit:
    """429 with Retry-After once a client IP has spent its bucket on ``paths``."""

    def __init__(
        self,
        app: ASGIApp,
        per_minute: int,
        burst: int,
        paths: Iterable[str] = RATE_LIMITED_PATHS,
        buckets: TokenBuckets | None = None,
    ) -> None:
        self.app = app
        self.per_minute = per_minute
        self.burst = burst
        self.paths = frozenset(paths)
        self.buckets = buckets if buckets is not None else TokenBuckets(per_minute, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) not in self.paths:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_key(scope))
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            detail = (
                f"rate limit exceeded: {self.per_minute} requests per minute per client "
                f"(burst {self.burst}); retry after {retry_after} s"
            )
            await send_json(send, 429, detail, {"Retry-After": str(retry_after)})
            return
        await self.app(scope, receive, send)


def charge_questions(request: Request, count: int) -> None:
    """Charge a POST /ask/batch of ``count`` questions one rate-limit token per question, as
    many POST /ask requests would be: ``RateLimit`` took one before the body was read, this
    takes the rest (a batch larger than the burst needs a full bucket and leaves it in debt).
    Not enough tokens: 429 with Retry-After, naming the limit and the batch's cost. Before,
    a batch cost one token, so a client got up to 64 times the documented rate in answers."""
    buckets: TokenBuckets | None = getattr(request.app.state, "rate_buckets", None)
    if buckets is None or count <= 1:
        return
    wait = buckets.take(client_key(request.scope), cost=count, paid=1)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        detail = (
            f"rate limit exceeded: {buckets.per_minute:g} requests per minute per client "
            f"(burst {buckets.burst:g}), and a batch of {count} questions counts as {count} "
            f"requests; retry after {retry_after} s"
        )
        raise HTTPException(429, detail, headers={"Retry-After": str(retry_after)})


def client_key(scope: Scope) -> str:
    """The client address the limits key on: the peer, or what a trusted proxy forwarded
    (uvicorn's ProxyHeadersMiddleware has rewritten ``scope["client"]`` by then)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class InFlightLimit:
    """503 with Retry-After when ``limit`` requests are already being served, or when the
    client already has ``per_client`` of them (0 or None: no per-client share)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        per_client: int | None = None,
        retry_after: int = 1,
        exempt: Iterable[str] = NOT_COUNTED_IN_FLIGHT,
    ) -> None:
        self.app = app
        self.limit = limit  # 0: no overall bound
        self.per_client = per_client or 0
        self.retry_after = retry_after
        self.exempt = frozenset(exempt)
        self.in_flight = 0
        self.by_client: dict[str, int] = {}  # only clients with requests in flight
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in self.exempt:
            await self.app(scope, receive, send)
            return
        key = client_key(scope)
        with self._lock:
            mine = self.by_client.get(key, 0)
            if self.per_client and mine >= self.per_client:
                detail = (
                    f"too many requests in flight from this client: the limit is "
                    f"{self.per_client} per client; retry after {self.retry_after} s"
                )
            elif self.limit and self.in_flight >= self.limit:
                detail = (
                    f"server busy: {self.limit} requests already in flight; "
                    f"retry after {self.retry_after} s"
                )
            else:
                detail = None
                self.in_flight += 1
                self.by_client[key] = mine + 1
        if detail is not None:
            await send_json(send, 503, detail, {"Retry-After": str(self.retry_after)})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self.in_flight -= 1
                left = self.by_client[key] - 1
                if left:
                    self.by_client[key] = left
                else:
                    del self.by_client[key]


def _json_safe(value: object) -> object:
    """What FastAPI's 422 echoes back, made encodable: lone surrogates (JSON ``"\\ud800"``)
    become U+FFFD, non-finite numbers (``1e400`` parses as infinity) become strings, and raw
    bytes (a body sent with a non-JSON content type is echoed as bytes, which FastAPI's encoder
    decodes as UTF-8 and fails on) become text with undecodable bytes as ``\\xNN``."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def validation_error_handler(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 body, made safe to encode: its default handler echoes the input, and an
    input holding a lone surrogate or an infinite number made the error response itself fail
    with a 500.

    Built in a worker thread: the echo is as large as the request (a 1 MB body holding a list
    of 500,000 numbers, or a 50 KB query string of 9,000 unknown parameters, each one error),
    and encoding it took a second of CPU on the event loop, during which no other request,
    ``/health`` included, was answered."""
    return await run_in_threadpool(_validation_response, exc.errors())


ERRORS_LISTED = 50
"""Errors a 422 lists one by one; the rest are counted in one more."""
ECHO_MAX_CHARS = 1_000
"""The longest input a 422 error echoes, as JSON text; a longer one is cut and says its size.
Echoed whole, a 1 MB body (a filter of 500,000 values) got a 1 MB answer and a second of CPU."""


def _validation_response(errors: Sequence[object]) -> JSONResponse:
    listed = [_echo_bounded(error) for error in errors[:ERRORS_LISTED]]
    if len(errors) > ERRORS_LISTED:
        listed.append(
            {
                "type": "too_many_errors",
                "loc": [],
                "msg": f"{len(errors) - ERRORS_LISTED} more errors",
            }
        )
    return JSONResponse(status_code=422, content={"detail": listed})


def _echo_bounded(error: object) -> object:
    """One error, encodable (``_json_safe``: bytes first, jsonable_encoder cannot take them
    all), its echoed ``input`` at most ``ECHO_MAX_CHARS`` of JSON."""
    safe = _json_safe(jsonable_encoder(_json_safe(error)))
    if isinstance(safe, dict) and "input" in safe:
        text = json.dumps(safe["input"], ensure_ascii=False)
        if len(text) > ECHO_MAX_CHARS:
            safe["input"] = f"{text[:ECHO_MAX_CHARS]}... ({len(text):,} characters in all)"
    return safe


async def body_error_handler(request: Request, exc: HTTPException) -> Response:
    """FastAPI's 400 for a body ``json.loads`` could not take, naming why where it can: valid
    JSON nested deeper than the parser recurses (``[[[...]]]`` a thousand deep, 2 KB) or a
    number longer than Python reads (4,300 digits) got only "There was an error parsing the
    body", which names nothing a client could fix."""
    if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
        return JSONResponse({"detail": "request body nests too deeply to read"}, 400)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # "Exceeds the limit (4300 digits) for integer string conversion: ...; use
        # sys.set_int_max_str_digits()": the advice after ";" is for the server's code
        why = str(exc.__cause__).split(";", 1)[0]
        return JSONResponse({"detail": f"request body could not be read: {why}"}, 400)
    return await http_exception_handler(request, exc)


# What the limits and the input checks answer, added to the OpenAPI document of every
# operation that can get them (the generated schema knows nothing of middleware).
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
LIMIT_RESPONSES = {
    "400": "Request body is not valid UTF-8 JSON.",
    "408": "Request body not received within `NEWSQA_BODY_TIMEOUT` seconds.",
    "413": "Request body over the limit (`NEWSQA_MAX_BODY_BYTES`).",
    "429": "Rate limit exceeded; the Retry-After header says when to retry.",
    "503": "Server busy (in flight overall or for this client) or index unavailable; the "
    "Retry-After header says when to retry.",
}


def document_limits(schema: dict) -> dict:
    """Add the limits' responses to the operations of an OpenAPI document (in place)."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = []
            if "requestBody" in operation:
                codes += ["400", "408", "413"]
            if path in RATE_LIMITED_PATHS:
                codes.append("429")
            if path not in NOT_COUNTED_IN_FLIGHT:
                codes.append("503")
            for code in codes:
                operation["responses"].setdefault(
                    code,
                    {
                        "description": LIMIT_RESPONSES[code],
                        "content": {"application/json": {"schema": ERROR_SCHEMA}},
                    },
                )
    return schema


def install(app: FastAPI, settings: Settings) -> None:
    """Add the limits to ``app``. The last middleware added runs first: rate limit, the write
    token (before any body byte is read), then the body (read before taking an in-flight slot,
    so a slow upload holds none), then in flight."""
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, body_error_handler)
    if settings.max_in_flight > 0 or settings.max_in_flight_per_client > 0:
        app.add_middleware(
            InFlightLimit,
            limit=settings.max_in_flight,
            per_client=settings.max_in_flight_per_client,
        )
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        timeout=settings.body_timeout,
        larger={"/articles/bulk": settings.bulk_max_body_bytes},
    )
    app.add_middleware(WriteAuth, token=settings.admin_token)
    app.state.rate_buckets = None
    if settings.rate_limit_per_minute > 0:
        # Shared with the POST /ask/batch route, which charges its questions past the first
        # once its body is parsed (``charge_questions``).
        buckets = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
        app.state.rate_buckets = buckets
        app.add_middleware(
            RateLimit,
            per_minute=settings.rate_limit_per_minute,
            burst=settings.rate_limit_burst,
            buckets=buckets,
        )
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = document_limits(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
