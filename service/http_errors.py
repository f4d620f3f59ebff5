"""What a newsqa error response says, for the clients of the API in this project (the LangChain
HTTP retriever, ``newsqa eval --url``)."""

from __future__ import annotations

import httpx


def error_detail(response: httpx.Response, limit: int = 300) -> str:
    """The body's ``detail``, else the start of the body (a proxy's page).

    FastAPI's 422 ``detail`` is a list of errors, each echoing its input: shown as Python's repr
    it read ``[{'type': 'string_too_long', 'loc': ['query', 'q'], ..., 'input': '"xxxx...``, a
    few hundred characters of the query before the message. Each error is shown as
    ``where: message``, here ``q: String should have at most 1000 characters``.
    """
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return response.text[:limit].strip() or response.reason_phrase
    if isinstance(detail, list) and all(isinstance(e, dict) and "msg" in e for e in detail):
        return "; ".join(_validation_error(e) for e in detail)[:limit]
    return str(detail)[:limit]


def _validation_error(error: dict) -> str:
    # loc starts with where the value came from ("query", "body"); the name after it is what
    # the user gave
    loc = [str(part) for part in error.get("loc") or ()]
    where = ".".join(loc[1:] if len(loc) > 1 else loc)
    return f"{where}: {error['msg']}" if where else str(error["msg"])
