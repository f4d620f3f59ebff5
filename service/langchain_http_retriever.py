"""A LangChain retriever over a running newsqa server (GET /search), for chains that run where
the index and the model are not: it needs only httpx and langchain-core.

Its Documents are those of the in-process ``NewsqaRetriever`` for the same index and query
(``service.langchain_documents``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field, field_validator

from newsqa.errors import NewsqaError
from service.http_errors import error_detail
from service.langchain_documents import PassageFields, check_k, ranked_documents

FILTER_NAMES = (
    "published_from",
    "published_to",
    "source",
    "category",
    "event_from",
    "event_to",
)
"""GET /search's filter parameters (``service/routes/params.py``)."""
SERVER_MAX_K = 50
"""The largest ``k`` (articles) GET /search accepts, and so the largest ``k`` (passages) of the
retriever: 50 articles may bring only 50 passages. A larger ``k`` was sent as 50 and returned
fewer Documents than asked for (79 of 150), and, past the 50th article, not those the
in-process retriever returns, which asks for ``k`` articles."""
_K_LIMIT = " over HTTP (GET /search returns at most 50 articles, each one passage or more)"

FilterValue = str | list[str] | date | datetime
"""A list (``source``, ``category``): several values, any of which matches."""
QueryFilters = dict[str, FilterValue]


@functools.cache
def _shared_client() -> httpx.Client:
    """One client, and its kept-alive connections, for every retriever of this process (httpx
    clients may be shared between threads): a new client per call built an SSL context, 31 ms
    of CPU where the server's /search takes about 20, and opened a new connection. Module
    level, not a field: a retriever stays copyable (a client is not)."""
    return httpx.Client(verify=_ssl_context())


# A forked child (a prefork worker pool) must not share the parent's kept-alive sockets: it
# builds its own client.
os.register_at_fork(after_in_child=_shared_client.cache_clear)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Built once: an async client belongs to its event loop, so each async call makes its own,
    and without this each would build a context again (28 ms of CPU)."""
    return httpx.create_ssl_context()


class NewsqaHTTPError(NewsqaError):
    """The server could not be reached, or answered with an error or with something that is not
    a newsqa search response (the URL of another service)."""


class NewsqaHTTPRetriever(BaseRetriever):
    """The ``k`` best passages from a newsqa server's GET /search as ``Document``s.

    ``k`` counts passages, as ``NewsqaRetriever``'s does, at most 50 (``SERVER_MAX_K``);
    ``invoke(q, k=2)`` overrides it for one call. ``filters`` takes GET /search's filter
    parameters (``FILTER_NAMES``); ``headers`` go with every request (a gateway's credentials).

    >>> retriever = NewsqaHTTPRetriever(url="http://127.0.0.1:8000", k=5)
    >>> docs = retriever.invoke("which Palembang programs won 2020 awards")
    """

    url: str = Field(description="The server's base URL; requests go to {url}/search.")
    k: int = Field(5, ge=1, le=SERVER_MAX_K, description="Passages (Documents) to return.")
    filters: QueryFilters | None = None
    timeout: float = Field(30.0, gt=0, description="Seconds per request.")
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("filters", mode="before")
    @classmethod
    def _filter_types(cls, filters: object) -> object:
        """A number is no filter value: pydantic would read ``2020`` as a time 2020 seconds
        after 1970, sent as ``published_from=1970-01-01T00:33:40``, matching everything; nor is
        an empty list."""
        for name, value in filters.items() if isinstance(filters, dict) else ():
            if value == []:
                # httpx sends no parameter for an empty list: the filter was dropped and every
                # article matched, where POST /search and ``Index.search`` refuse it
                raise ValueError(
                    f"filter {name!r} is an empty list: give one value or more, or leave it out"
                )
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str | date) for v in values):  # datetime is a date
                raise ValueError(
                    f"filter {name!r} must be text, a date or a date-time (or a list of "
                    f"texts), not {value!r}"
                )
        return filters

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, filters: QueryFilters | None) -> QueryFilters | None:
        # The server ignores unknown query parameters: a misspelt filter would silently match
        # everything.
        unknown = sorted(set(filters or ()) - set(FILTER_NAMES))
        if unknown:
            raise ValueError(f"unknown filters {unknown}; GET /search takes {list(FILTER_NAMES)}")
        return filters

    @property
    def endpoint(self) -> str:
        return f"{self.url.rstrip('/')}/search"

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        wanted = check_k(self.k if k is None else k, SERVER_MAX_K, _K_LIMIT)
        params = self._params(query, wanted)
        with self._transport_errors():
            try:
                response = self._get(params)
            except httpx.RemoteProtocolError:
                # the server closed a kept-alive connection as this request went out: a GET
                # can be sent again, on a new connection
                response = self._get(params)
        return self._documents(response, wanted)

    def _get(self, params: dict[str, str | int | list[str]]) -> httpx.Response:
        return _shared_client().get(
            self.endpoint, params=params, headers=self.headers, timeout=self.timeout
        )

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        wanted = check_k(self.k if k is None else k, SERVER_MAX_K, _K_LIMIT)
        with self._transport_errors():
            async with httpx.AsyncClient(
                headers=self.headers, timeout=self.timeout, verify=_ssl_context()
            ) as client:
                response = await client.get(self.endpoint, params=self._params(query, wanted))
        return self._documents(response, wanted)

    def _params(self, query: str, wanted: int) -> dict[str, str | int | list[str]]:
        """The server's ``k`` counts articles of one or more passages each: ``wanted`` articles
        fill ``wanted`` passages whenever the index has that many."""
        params: dict[str, str | int | list[str]] = {"q": query, "k": wanted}
        for name, value in (self.filters or {}).items():
            # a list goes as the parameter repeated (httpx)
            params[name] = value if isinstance(value, str | list) else value.isoformat()
        return params

    @contextlib.contextmanager
    def _transport_errors(self) -> Iterator[None]:
        """httpx's own message ("All connection attempts failed") does not say which server."""
        try:
            yield
        except httpx.TransportError as exc:
            # httpx's async timeouts carry no message: "ReadTimeout: " said nothing of the wait.
            detail = str(exc) or (
                f"no reply within {self.timeout} s"
                if isinstance(exc, httpx.TimeoutException)
                else ""
            )
            raise NewsqaHTTPError(
                f"newsqa server at {self.endpoint} unreachable: {type(exc).__name__}: {detail}"
            ) from exc

    def _documents(self, response: httpx.Response, wanted: int) -> list[Document]:
        if response.status_code != 200:
            raise NewsqaHTTPError(
                f"newsqa server at {self.endpoint} answered HTTP {response.status_code}: "
                f"{error_detail(response)}"
            )
        try:
            passages = [_passage(p) for p in response.json()["passages"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise NewsqaHTTPError(
                f"{self.endpoint} did not answer like a newsqa server's GET /search: {exc!r}"
            ) from exc
        return ranked_documents(passages, wanted)


def _passage(p: dict[str, Any]) -> PassageFields:
    """One element of the response's ``passages`` (``schemas.PassageOut``)."""
    published = p["published"]
    return PassageFields(
        article_id=p["article_id"],
        title=p["title"],
        url=p["url"],
        published=datetime.fromisoformat(published) if published else None,
        source=p["source"],
        category=p["category"],
        text=p["text"],
        char_start=p["char_start"],
        char_end=p["char_end"],
        score=p["score"],
        also_reported_by=tuple(m["article_id"] for m in p["also_reported_by"]),
    )
