"""Rate limits (429 + Retry-After), the in-flight bound (503 + Retry-After) and the body
limit, each on the real app built with small limits of its own."""

from __future__ import annotations

import json
import threading
import time
import uuid

import anyio
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from newsqa.settings import Settings
from service.app import create_app
from service.limits import ECHO_MAX_CHARS, ERRORS_LISTED, TokenBuckets


@pytest.fixture
def make_client(corpus_index, settings, embedder):
    """The real app over the corpus index, with settings overridden per test."""
    clients = []

    def make(**overrides) -> TestClient:
        client = TestClient(
            create_app(settings.model_copy(update=overrides), embedder),
            raise_server_exceptions=False,
        )
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_burst_beyond_the_rate_limit_gets_429_with_retry_after(make_client):
    client = make_client(rate_limit_per_minute=6, rate_limit_burst=3)
    # Blank queries are cheap (422) and still count: the limit sits before validation.
    statuses = [client.get("/search", params={"q": " "}).status_code for _ in range(3)]
    assert statuses == [422, 422, 422]
    limited = client.get("/search", params={"q": "harga cabai"})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 10  # one token per 10 s
    assert "6 requests per minute" in limited.json()["detail"]
    assert client.post("/ask", json={"question": "harga cabai"}).status_code == 429
    # /timeline embeds and searches as /search does: it was never limited
    assert client.get("/timeline", params={"q": "harga cabai"}).status_code == 429
    # Other routes are not limited, and neither is another client.
    assert all(client.get("/health").status_code == 200 for _ in range(10))
    assert client.get("/articles/nq-001").status_code == 200
    other = TestClient(client.app, client=("10.1.2.3", 4000))
    assert other.get("/search", params={"q": " "}).status_code == 422
    metrics = client.get("/metrics").text
    assert 'newsqa_requests_total{method="GET",route="/search",status="429"} 1.0' in metrics


def test_ask_batch_costs_one_rate_limit_token_per_question(make_client):
    # A batch cost one token for up to 64 questions: 64 times the documented rate in answers.
    client = make_client(rate_limit_per_minute=1, rate_limit_burst=5)
    batch = {"questions": ["harga cabai", "banjir", "gempa"]}
    assert client.post("/ask/batch", json=batch).status_code == 200  # 3 of 5 tokens
    refused = client.post("/ask/batch", json=batch)  # 2 left: not enough for 3
    assert refused.status_code == 429
    assert "batch of 3 questions counts as 3 requests" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60  # one more token in 60 s
    # The refusal gave back the token the middleware took before the body was read.
    assert client.post("/ask/batch", json={"questions": ["a", "b"]}).status_code == 200
    assert client.get("/search", params={"q": " "}).status_code == 429


def test_token_bucket_cost_above_the_burst_leaves_debt():
    now = [1000.0]
    buckets = TokenBuckets(per_minute=60, burst=4, clock=lambda: now[0])
    assert buckets.take("a", cost=10, paid=0) == 0  # a full bucket admits it
    assert buckets.take("a") == pytest.approx(7.0)  # 6 tokens of debt, then one token
    now[0] += 5.0  # still in debt: not forgotten as a full bucket
    assert buckets.take("a") == pytest.approx(2.0)


def test_rate_limit_zero_disables_it(make_client):
    client = make_client(rate_limit_per_minute=0, rate_limit_burst=1)
    assert {client.get("/search", params={"q": " "}).status_code for _ in range(20)} == {422}


def test_token_bucket_refills_at_the_rate():
    now = [1000.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0  # per key
    now[0] += 1.0
    assert buckets.take("a") == 0
    now[0] += 120.0  # long idle: full buckets are forgotten
    buckets.take("c")
    assert len(buckets) == 1


def test_in_flight_bound_answers_503_instead_of_queueing(make_client):
    client = make_client(max_in_flight=1, rate_limit_per_minute=0)
    start = threading.Barrier(6)
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def ask() -> None:
        question = f"harga cabai di Palembang {uuid.uuid4().hex[:6]}"  # no cache hits
        start.wait()
        response = client.post("/ask", json={"question": question})
        with lock:
            results.append((response.status_code, response.headers.get("retry-after")))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = sorted(status for status, _ in results)
    assert len(results) == 6 and set(statuses) <= {200, 503}, statuses
    assert 200 in statuses and 503 in statuses, statuses
    assert all(retry == "1" for status, retry in results if status == 503)
    # Probes are not counted, and the slot is free again afterwards.
    assert client.get("/health").status_code == 200
    assert client.post("/ask", json={"question": "harga cabai"}).status_code == 200


def test_body_limit_counts_declared_and_streamed_bytes(make_client):
    client = make_client(max_body_bytes=100)
    body = b'{"question": "' + b"a" * 200 + b'"}'
    declared = client.post("/ask", content=body, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["detail"] == "request body too large: the limit is 100 bytes"

    def chunks():
        yield body[:60]
        yield body[60:]

    streamed = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert "100 bytes" in streamed.json()["detail"]
    assert client.post("/ask", json={"question": "harga cabai"}).status_code == 200


def test_openapi_documents_the_limits(make_client):
    schema = make_client().get("/openapi.json").json()
    ask = schema["paths"]["/ask"]["post"]["responses"]
    assert {"400", "408", "413", "422", "429", "503"} <= set(ask)
    write = schema["paths"]["/articles"]["post"]["responses"]
    assert {"401", "403", "408", "413"} <= set(write)
    search = schema["paths"]["/search"]["get"]["responses"]
    assert {"422", "429", "503"} <= set(search) and "413" not in search
    assert "429" not in schema["paths"]["/health"]["get"]["responses"]


def test_eval_http_client_waits_out_429_and_503(monkeypatch):
    """`newsqa eval --url` is a client like any other: it honours Retry-After and retries."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from eval import runner

    reply = {"answer": "ok", "abstained": False, "citations": [], "passages": []}
    answers = [
        JSONResponse({"detail": "rate limit exceeded"}, 429, headers={"Retry-After": "0"}),
        JSONResponse({"detail": "server busy"}, 503, headers={"Retry-After": "0"}),
        JSONResponse(reply),
    ]
    calls = []

    async def ask(request):
        calls.append(await request.json())
        return answers[len(calls) - 1]

    app = Starlette(routes=[Route("/ask", ask, methods=["POST"])])
    monkeypatch.setattr(runner.httpx, "Client", lambda base_url, timeout: TestClient(app))
    assert runner.http_asker("http://server")("harga cabai?", 3) == reply
    assert len(calls) == 3 and calls[0] == {"question": "harga cabai?", "k": 3}


def test_non_utf8_body_with_a_non_json_content_type_gets_a_4xx(make_client):
    """FastAPI echoes such a body as bytes in its 422, and encoding those failed with a 500."""
    token = "tok-123"
    client = make_client(admin_token=SecretStr(token), rate_limit_per_minute=0)
    body = b"\xff\xfe harga \xc3\x28 cabai"
    for content_type in ("text/plain", "application/octet-stream", "text/plain; charset=latin-1"):
        headers = {"content-type": content_type}
        asked = client.post("/ask", content=body, headers=headers)
        assert 400 <= asked.status_code < 500, asked.text
        assert asked.json()["detail"]
        put = client.put(
            "/articles/nq-002",
            content=body,
            headers={**headers, "Authorization": f"Bearer {token}"},
        )
        assert 400 <= put.status_code < 500, put.text
        assert put.json()["detail"]
    assert client.get("/articles/nq-002").status_code == 200  # nothing was written


def test_empty_or_blank_admin_token_means_writes_are_off(make_client, monkeypatch):
    for blank in ("", "   "):
        monkeypatch.setenv("NEWSQA_ADMIN_TOKEN", blank)
        assert Settings(_env_file=None).admin_token is None
    monkeypatch.setenv("NEWSQA_ADMIN_TOKEN", "tok")
    assert Settings(_env_file=None).admin_token.get_secret_value() == "tok"
    # Even a blank token handed to the app directly (no validation) turns writes off.
    client = make_client(admin_token=SecretStr(""))
    for auth in ({"Authorization": "Bearer"}, {"Authorization": "Bearer x"}, {}):
        response = client.post("/articles", json={"id": "x"}, headers=auth)
        assert response.status_code == 403, response.text
        assert "NEWSQA_ADMIN_TOKEN" in response.json()["detail"]


def test_set_but_empty_optional_settings_are_unset(monkeypatch):
    """``NEWSQA_LLM_BASE_URL=`` (a compose file's ``${LLM_URL:-}``) turned the generative mode
    on, and the server did not start for want of langchain-openai."""
    from service.qa import embeds_passages

    for name in ("NEWSQA_LLM_BASE_URL", "NEWSQA_READER_WEIGHTS"):
        monkeypatch.setenv(name, " ")
    settings = Settings(_env_file=None)
    assert (settings.llm_base_url, settings.reader_weights) == (None, None)
    assert not embeds_passages(settings)  # no generative answerer


def test_write_token_is_checked_before_the_body(make_client):
    """A wrong token is refused from the headers: the (streamed) body is never read."""
    client = make_client(admin_token=SecretStr("tok-123"))
    read = []

    def body():
        read.append(True)
        yield b'{"id": "x"}'

    refused = client.post("/articles", content=body(), headers={"Authorization": "Bearer no"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.headers["connection"] == "close"
    assert refused.json()["detail"] == "missing or wrong bearer token"
    assert not read
    wrong = client.delete("/articles/x", headers={"Authorization": "Basic tok-123"})
    assert wrong.status_code == 401
    # The right token passes the check (and the route validates the body as before).
    ok = client.post("/articles", json=[], headers={"Authorization": "Bearer tok-123"})
    assert ok.status_code == 422


def test_proxy_addresses_setting_blank_means_untrusted(monkeypatch):
    monkeypatch.setenv("NEWSQA_FORWARDED_ALLOW_IPS", " ")
    assert Settings(_env_file=None).forwarded_allow_ips is None
    monkeypatch.setenv("NEWSQA_FORWARDED_ALLOW_IPS", "10.0.0.1,192.168.0.0/16")
    assert Settings(_env_file=None).forwarded_allow_ips == "10.0.0.1,192.168.0.0/16"


def test_a_422_echoes_a_bounded_input_and_counts_the_errors_past_a_bound(make_client):
    """A filter of 5,000 outlets (65 KB) was echoed whole in its 422, and a 1 MB body got a
    1 MB answer: the echo is cut at ``ECHO_MAX_CHARS``, saying how long it was, and errors past
    ``ERRORS_LISTED`` are counted, not listed."""
    client = make_client()
    outlets = [f"outlet-{i}" for i in range(5000)]
    refused = client.post("/ask", json={"question": "x", "filters": {"source": outlets}})
    assert refused.status_code == 422 and len(refused.content) < 2 * ECHO_MAX_CHARS
    (error,) = refused.json()["detail"]
    assert "at most 50 items" in error["msg"] and error["loc"][:3] == ["body", "filters", "source"]
    assert error["input"].startswith('["outlet-0", "outlet-1", ')
    assert error["input"].endswith(f"({len(json.dumps(outlets)):,} characters in all)")

    blank = client.post("/ask/batch", json={"questions": [" "] * 60})
    assert blank.status_code == 422
    detail = blank.json()["detail"]
    assert len(detail) == ERRORS_LISTED + 1
    assert [e["loc"] for e in detail[:2]] == [["body", "questions", 0], ["body", "questions", 1]]
    assert detail[-1]["msg"] == f"{60 - ERRORS_LISTED} more errors"
    short = client.post("/ask", json={"question": "x", "k": 0})  # a short input: echoed as is
    assert short.status_code == 422 and short.json()["detail"][0]["input"] == 0


def test_a_huge_422_is_encoded_off_the_event_loop(make_client):
    # A 4 MB body of 1,000,000 numbers where 50 filter values go: the 422 echoes all of them,
    # and encoding that echo on the event loop held every other request (/health too) for
    # seconds. A ticker on the app's own loop shows how long the loop went unanswered.
    client = make_client(max_body_bytes=4_200_000)
    body = b'{"question":"x","filters":{"source":[' + b",".join([b"1"] * 1_000_000) + b"]}}"
    gaps: list[float] = []
    stop = threading.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await anyio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    client.portal.start_task_soon(tick)
    started = time.perf_counter()
    refused = client.post("/ask", content=body, headers={"content-type": "application/json"})
    took = time.perf_counter() - started
    stop.set()
    assert refused.status_code == 422
    assert "at most 50 items" in refused.json()["detail"][0]["msg"]
    # Parsing and validating the body stay on the loop (a fraction of the time); the echo,
    # most of it, no longer does: no gap near the request's own length.
    assert max(gaps) < max(1.0, took / 2), (max(gaps), took)
