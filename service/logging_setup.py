"""Structured logs: one JSON object per line, each tagged with the request it belongs to.

``newsqa serve`` passes ``uvicorn_log_config()`` to uvicorn, so every line the server writes
(start-up, errors, the access log) is JSON with ``time, level, logger, message`` and, inside a
request, ``request_id``. The access log is written here (logger ``newsqa.access``, one line per
request with ``method, path, route, status, duration_ms, client``) instead of by uvicorn, so it
carries the request id; uvicorn's own access log is off.

The request id is the incoming ``X-Request-ID`` header when it is a short token of safe
characters (letters, digits, ``-_.:``; at most 64), else a new random one; either way it is
echoed in the response's ``X-Request-ID`` header, so a client can quote it and an operator can
find the request's lines. An unexpected exception is answered here, a JSON 500 with that header,
and its traceback logged once, on the request's access line.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.limits import send_json

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
request_id_var: ContextVar[str | None] = ContextVar("newsqa_request_id", default=None)

access_log = logging.getLogger("newsqa.access")

INTERNAL_ERROR_DETAIL = "internal server error: quote the X-Request-ID header to the operator"

# LogRecord attributes that are not user fields (``extra=``).
_RECORD_FIELDS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_UVICORN_NOISE = {"color_message"}


class JsonFormatter(logging.Formatter):
    """``time, level, logger, message`` plus the record's ``extra`` fields, as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            out["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and key not in _UVICORN_NOISE and key not in out:
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn's ``log_config``: JSON on stderr for the
    root logger, uvicorn's loggers propagating to it, uvicorn's access log silenced."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def json_logging_level() -> str | None:
    """The root logger's level name when this process logs JSON (``newsqa serve``), else None:
    what a child process (the write worker) needs to log as its server does."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return logging.getLevelName(root.getEffectiveLevel())
    return None


def log_json_to_stderr(level: str) -> None:
    """In a child process of the server: the same JSON lines on stderr as the server's."""
    logging.config.dictConfig(uvicorn_log_config(level))


def uvicorn_logging(level: str = "INFO") -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``: the JSON log config, uvicorn's access log off
    (``RequestContextMiddleware`` writes one with the request id). Python warnings are routed
    through logging too, so they come out as JSON lines like everything else."""
    logging.captureWarnings(True)
    return {"log_config": uvicorn_log_config(level), "access_log": False}


def valid_request_id(value: str | None) -> str | None:
    if value and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return None


class RequestContextMiddleware:
    """Request id (validated or new) in a context variable and the response header, and one
    access-log line per request."""

    def __init__(self, app: ASGIApp, metrics: Any = None) -> None:
        self.app = app
        self.metrics = metrics  # for the route template in the access line, when installed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope.get("headers", ()):
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = valid_request_id(incoming) or uuid.uuid4().hex
        request_id_var.set(request_id)  # each request runs in its own task: no reset needed
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        failed: BaseException | bool = True  # the exception, for the traceback once caught
        try:
            await self.app(scope, receive, send_with_id)
            failed = False
        except Exception as exc:
            failed = exc
            # Handled here, not re-raised: Starlette's ServerErrorMiddleware (outside every
            # middleware of ours) answered a bare text/plain 500 without the request id, and
            # uvicorn logged the traceback a second time. The access line below logs it once.
            if not responded:
                await send_json(send_with_id, 500, INTERNAL_ERROR_DETAIL)
        finally:
            client = scope.get("client")
            fields = {
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "client": client[0] if client else None,
            }
            if self.metrics is not None:
                fields["route"] = self.metrics.route_of(scope)
            level = logging.ERROR if failed or status >= 500 else logging.INFO
            access_log.log(
                level,
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra=fields,
                exc_info=failed,
            )


def install(app: FastAPI) -> None:
    """Add the request-id and access-log middleware to ``app`` (outermost: it sees every
    answer, the limits' included)."""
    app.add_middleware(RequestContextMiddleware, metrics=getattr(app.state, "metrics", None))
