"""Prometheus metrics at ``GET /metrics`` (prometheus-client, text exposition format).

* ``newsqa_requests_total{method,route,status}`` and
  ``newsqa_request_duration_seconds{method,route,status}``: every HTTP request, labelled by
  the route's template (``/articles/{article_id}``), never the raw path, so ids and probes for
  random URLs do not each make a series (unmatched paths are ``route="<unmatched>"``; the
  files of a mount, ``/static/app.js``, are ``route="/static/{path}"``).
  Requests the limits answer (413, 429, 503) count under the route they were aimed at.
* ``newsqa_index_articles``, ``newsqa_index_chunks``, ``newsqa_index_generation``: the
  loaded index, read from ``app.state.components`` at each scrape, so a reloaded index shows
  at once.
* ``newsqa_index_loaded_timestamp_seconds``: when the serving index was loaded (unix time);
  ``newsqa_index_created_timestamp_seconds``: when it was built (the manifest's created_at).
  Whatever swaps ``app.state.components`` may call ``record_index_loaded``; otherwise a new
  components object is stamped the first time a request or scrape sees it.
* ``newsqa_answers_total{outcome}``: questions of POST /ask and /ask/batch, ``answered`` or
  ``abstained`` (no passage states an answer), so the abstention rate can be watched.
* ``newsqa_embedding_seconds{kind}`` and ``newsqa_embedded_texts_total{kind}``: time in the
  embedding model (``kind`` is ``query`` or ``passage``; vectors served from the embedder's
  cache cost nothing and are not counted), through ``Embedder.on_embed``.

Each app has its own registry, so apps built side by side (tests) do not share counters.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "<unmatched>"
ROUTE_LABEL = "newsqa.route"  # scope key: the route label the metrics gave the request


class ServiceMetrics:
    """The metrics of one app; ``app.state.metrics``."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "newsqa_requests",
            "HTTP requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "newsqa_request_duration_seconds",
            "HTTP request latency by route template and status (until the response is sent).",
            ["method", "route", "status"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.embed_seconds = Histogram(
            "newsqa_embedding_seconds",
            "Seconds per embedding-model call (cache hits excluded).",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.embedded = Counter(
            "newsqa_embedded_texts",
            "Texts embedded by the model (cache hits excluded).",
            ["kind"],
            registry=self.registry,
        )
        self.answers = Counter(
            "newsqa_answers",
            "Questions answered by POST /ask and /ask/batch, by outcome (answered, abstained).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("answered", "abstained"):  # both series from the start: a rate of 0
            self.answers.labels(outcome)
        self._lock = threading.Lock()
        self._components: weakref.ref[Any] | None = None
        self.index_loaded_at = 0.0
        self.registry.register(_IndexCollector(self))

    def observe_embedding(self, kind: str, texts: int, seconds: float) -> None:
        self.embed_seconds.labels(kind).observe(seconds)
        self.embedded.labels(kind).inc(texts)

    def count_answers(self, abstained: Iterable[bool]) -> None:
        """Count questions answered (``False``) and abstained on (``True``)."""
        for each in abstained:
            self.answers.labels("abstained" if each else "answered").inc()

    def record_index_loaded(self, components: Any, when: float | None = None) -> None:
        """Stamp ``components`` as the serving index, loaded at ``when`` (default: now)."""
        with self._lock:
            self._components = weakref.ref(components)
            self.index_loaded_at = time.time() if when is None else when
        embedder = getattr(components, "embedder", None)
        if embedder is not None:
            embedder.on_embed = self.observe_embedding

    def current_components(self) -> Any | None:
        """``app.state.components``, stamped as loaded now if it is new to these metrics."""
        components = getattr(self.app.state, "components", None)
        if components is None:
            return None
        known = self._components() if self._components is not None else None
        if known is not components:
            self.record_index_loaded(components)
        return components

    def route_of(self, scope: Scope, arrived: Scope | None = None) -> str:
        """The route template of the request of ``scope``, once it is answered; ``arrived``: the
        scope as the request came in. What ``MetricsMiddleware`` found is kept in the scope, so
        the access log outside it labels the request the same."""
        label = scope.get(ROUTE_LABEL)
        if isinstance(label, str):
            return label
        route = scope.get("route")
        if route is None:  # answered before routing (limits), by a mount, or by no route
            # Matched against the scope as it arrived: a mount (/static, the docs' assets)
            # moves its prefix into the scope's root_path, after which the prefix matched
            # nothing and every file it served was counted as "<unmatched>".
            route = _full_match(self.app.router.routes, arrived or scope)
        if isinstance(route, Mount):
            return route.path_format  # "/static/{path}": one series for all its files
        return getattr(route, "path", None) or UNMATCHED


def _full_match(routes: list[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route ``scope`` would reach. FastAPI keeps an included router as one entry with no
    path of its own (``original_router``), so the search goes on inside it; no router here is
    included with a prefix, so its routes' paths are the app's."""
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match == Match.FULL:
            inner = getattr(candidate, "original_router", None)
            return candidate if inner is None else _full_match(inner.routes, scope)
    return None


class _IndexCollector(Collector):
    """Index gauges computed at scrape time from whatever index the app serves now."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # computed at scrape time; nothing to check for duplicates up front

    def collect(self) -> Iterator[Metric]:
        components = self.metrics.current_components()
        store = getattr(components, "store", None)
        manifest = getattr(store, "manifest", None)
        if manifest is None:
            return
        yield _gauge("newsqa_index_articles", "Articles in the serving index.", manifest.articles)
        yield _gauge("newsqa_index_chunks", "Chunks in the serving index.", manifest.chunks)
        yield _gauge(
            "newsqa_index_generation",
            "Generation of the serving index (GET /ready's generation; one more per write).",
            manifest.generation,
        )
        yield _gauge(
            "newsqa_index_loaded_timestamp_seconds",
            "When the serving index was loaded (unix time).",
            self.metrics.index_loaded_at,
        )
        created = _unix_time(getattr(manifest, "created_at", None))
        if created is not None:
            yield _gauge(
                "newsqa_index_created_timestamp_seconds",
                "When the serving index was built (unix time, from its manifest).",
                created,
            )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _unix_time(value: object) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template and status."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.metrics.current_components()  # stamps a newly loaded index, hooks its embedder
        arrived = dict(scope)  # routing rewrites the scope (a mount's root_path)
        started = time.perf_counter()
        status = 500  # if the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope[ROUTE_LABEL] = self.metrics.route_of(scope, arrived)
            labels = (scope["method"], route, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)


def record_index_loaded(app: FastAPI, when: float | None = None) -> None:
    """For whatever (re)loads ``app.state.components``: stamp it as loaded at ``when``."""
    metrics: ServiceMetrics | None = getattr(app.state, "metrics", None)
    components = getattr(app.state, "components", None)
    if metrics is not None and components is not None:
        metrics.record_index_loaded(components, when)


def install(app: FastAPI) -> ServiceMetrics:
    """Add the request metrics middleware and ``GET /metrics`` to ``app``."""
    metrics = ServiceMetrics(app)
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.api_route(
        "/metrics",
        methods=["GET", "HEAD"],  # as /health and /ready: HEAD was a 405
        tags=["ops"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}},
    )
    def prometheus_metrics(request: Request) -> Response:
        """Prometheus metrics: requests and latency by route, index size and age, embedding
        time."""
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
