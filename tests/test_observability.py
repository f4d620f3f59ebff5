"""GET /metrics (Prometheus text), request ids and the JSON access log, on the real app."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from service.app import create_app
from service.logging_setup import JsonFormatter, uvicorn_log_config


@pytest.fixture(scope="module")
def client(corpus_index, settings, embedder):
    with TestClient(create_app(settings, embedder), raise_server_exceptions=False) as c:
        yield c


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


@contextlib.contextmanager
def access_log() -> Iterator[io.StringIO]:
    """What the access logger writes meanwhile, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("newsqa.access")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_metrics_count_requests_by_route_template_and_status(client):
    before = samples(client.get("/metrics").text)
    head = client.head("/metrics")  # as /health and /ready answer HEAD
    assert head.status_code == 200 and not head.content
    question = f"harga cabai di Palembang {uuid.uuid4().hex[:8]}"  # not in the embedder's cache
    assert client.post("/ask", json={"question": question}).status_code == 200
    assert client.get("/articles/nq-001").status_code == 200
    assert client.get("/articles/nq-002").status_code == 200
    assert client.get("/articles/no-such-id").status_code == 404
    assert client.get("/no/such/page").status_code == 404

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    article = {"method": "GET", "route": "/articles/{article_id}"}
    assert delta("newsqa_requests_total", **article, status="200") == 2
    assert delta("newsqa_requests_total", **article, status="404") == 1
    assert delta("newsqa_requests_total", method="POST", route="/ask", status="200") == 1
    assert delta("newsqa_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert "nq-001" not in response.text, "raw paths are never labels"
    ask = {"method": "POST", "route": "/ask", "status": "200"}
    assert delta("newsqa_request_duration_seconds_count", **ask) == 1
    assert delta("newsqa_request_duration_seconds_sum", **ask) > 0
    assert delta("newsqa_embedding_seconds_count", kind="query") >= 1
    assert delta("newsqa_embedded_texts_total", kind="query") >= 1
    assert delta("newsqa_embedding_seconds_sum", kind="query") > 0


def test_metrics_report_the_loaded_index(client):
    ready = client.get("/ready").json()
    metrics = samples(client.get("/metrics").text)
    assert value(metrics, "newsqa_index_articles") == ready["articles"]
    assert value(metrics, "newsqa_index_chunks") == ready["chunks"]
    assert value(metrics, "newsqa_index_generation") == ready["generation"] >= 1
    loaded = value(metrics, "newsqa_index_loaded_timestamp_seconds")
    assert time.time() - 600 < loaded <= time.time()
    created = value(metrics, "newsqa_index_created_timestamp_seconds")
    assert 0 < created <= loaded + 1


def test_request_id_is_taken_when_safe_else_generated(client):
    given = client.get("/health", headers={"X-Request-ID": "trace-42.a_b:c"})
    assert given.headers["x-request-id"] == "trace-42.a_b:c"
    for unsafe in ("has space", "x" * 65, "<script>", "../../etc", ""):
        response = client.get("/health", headers={"X-Request-ID": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), unsafe
    first = client.get("/health").headers["x-request-id"]
    assert first != client.get("/health").headers["x-request-id"]
    limited = client.post("/ask", content=b"\xff", headers={"content-type": "application/json"})
    assert limited.status_code == 400 and limited.headers["x-request-id"]


def test_access_log_is_one_json_object_per_request(client):
    with access_log() as stream:
        client.get("/articles/nq-001", headers={"X-Request-ID": "req-abc-123"})
        client.get("/search", params={"q": " "}, headers={"X-Request-ID": "req-def-456"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-abc-123", "req-def-456"]
    first = lines[0]
    assert {"time", "level", "logger", "message", "method", "path", "status", "duration_ms"} <= set(
        first
    )
    assert first["logger"] == "newsqa.access" and first["level"] == "INFO"
    assert first["method"] == "GET" and first["path"] == "/articles/nq-001"
    assert first["status"] == 200 and first["route"] == "/articles/{article_id}"
    assert first["duration_ms"] >= 0 and first["time"].endswith("+00:00")
    assert lines[1]["status"] == 422


def test_json_formatter_handles_exceptions_and_odd_text():
    formatter = JsonFormatter()
    try:
        raise ValueError("boom \u202e\n<b>")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed: %s", ("é\nnext",), sys.exc_info()
        )
    line = formatter.format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed: é\nnext" and "ValueError" in parsed["exc_info"]


def test_uvicorn_log_config_sends_everything_through_the_json_formatter():
    from service.logging_setup import uvicorn_logging

    config = uvicorn_log_config()
    assert config["formatters"]["json"]["()"] is JsonFormatter
    assert config["root"]["handlers"] == ["stderr"]
    assert config["loggers"]["uvicorn.access"]["propagate"] is False  # ours carries the id
    assert all(not logger["handlers"] for logger in config["loggers"].values())
    try:
        assert uvicorn_logging()["access_log"] is False
    finally:
        logging.captureWarnings(False)


def test_a_failing_request_answers_json_with_its_id_and_logs_one_traceback(settings, embedder):
    """An unexpected exception: the client gets a JSON 500 carrying the request id it can quote,
    and the traceback is logged once, on the access line (raised on past the middleware,
    Starlette answered a bare text/plain 500 without the id and uvicorn logged it again)."""
    app = create_app(settings, embedder)

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("boom in a route")

    # raise_server_exceptions: what propagates here is what uvicorn would log a second time
    with access_log() as stream, TestClient(app) as client:
        response = client.get("/fails", headers={"X-Request-ID": "trace-500"})
        metrics = samples(client.get("/metrics").text)
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert response.headers["content-type"] == "application/json"
    assert "X-Request-ID" in response.json()["detail"]
    assert "boom" not in response.text, "no internals to the client"
    line = next(json.loads(x) for x in stream.getvalue().splitlines() if "/fails" in x)
    assert line["level"] == "ERROR" and line["status"] == 500 and line["request_id"] == "trace-500"
    assert "RuntimeError: boom in a route" in line["exc_info"]
    labels = {"method": "GET", "route": "/fails", "status": "500"}
    assert value(metrics, "newsqa_requests_total", **labels) == 1


def test_files_of_a_mount_are_counted_under_its_template(client):
    """/static/app.js, served by a mount, was counted as route="<unmatched>" (the mount moves
    its prefix into the scope's root_path, after which nothing matched), like a probe for a
    random URL; the access line said no route either."""
    before = samples(client.get("/metrics").text)
    with access_log() as stream:
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/static/style.css").status_code == 200
        assert client.get("/static/no-such-file.js").status_code == 404
    after = samples(client.get("/metrics").text)

    def delta(**labels: str) -> float:
        return value(after, "newsqa_requests_total", **labels) - value(
            before, "newsqa_requests_total", **labels
        )

    static = {"method": "GET", "route": "/static/{path}"}
    assert delta(**static, status="200") == 2
    assert delta(**static, status="404") == 1
    assert delta(method="GET", route="<unmatched>", status="200") == 0
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["route"] for line in lines] == ["/static/{path}"] * 3


def test_answers_are_counted_by_outcome(client):
    """newsqa_answers_total{outcome}: each question of /ask and /ask/batch, answered or
    abstained, as its response says; both series exist before any question."""
    before = samples(client.get("/metrics").text)
    assert ("newsqa_answers_total", frozenset({("outcome", "abstained")})) in before
    questions = [
        f"Siapa juara umum Kejurnas Panjat Tebing 2021? {uuid.uuid4().hex[:6]}",
        "Berapa harga tiket pesawat ke planet Mars pada tahun 3000?",
    ]
    outcomes = [client.post("/ask", json={"question": q}).json()["abstained"] for q in questions]
    batch = client.post("/ask/batch", json={"questions": questions})
    outcomes += [a["abstained"] for a in batch.json()["answers"]]
    after = samples(client.get("/metrics").text)

    def delta(outcome: str) -> float:
        return value(after, "newsqa_answers_total", outcome=outcome) - value(
            before, "newsqa_answers_total", outcome=outcome
        )

    assert delta("abstained") == outcomes.count(True)
    assert delta("answered") == outcomes.count(False)
    assert delta("abstained") + delta("answered") == 4


WORKER_LOGS = """
import logging, logging.config
from newsqa.settings import Settings
from service.logging_setup import uvicorn_log_config
from service.write_worker import WriteWorker

logging.config.dictConfig(uvicorn_log_config("INFO"))  # as `newsqa serve` starts
worker = WriteWorker(Settings(index_dir={index_dir!r}))
try:
    pool = worker._start()  # the worker process every HTTP write runs in
    writer_log = logging.getLogger("indexer.store.writer")
    pool.submit(writer_log.warning, "generation 7 committed; segments not merged").result()
    pool.submit(writer_log.info, "an info line of the worker").result()
finally:
    worker.close()
"""


def test_the_write_worker_logs_json_lines_like_its_server(tmp_path):
    """The write worker, a process of its own, logged its warnings as bare text among the
    server's JSON lines (and its INFO lines not at all): no level, logger or time to filter
    on."""
    script = WORKER_LOGS.format(index_dir=str(tmp_path / "index"))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    records = [json.loads(line) for line in lines]  # every line JSON
    warning = next(r for r in records if "segments not merged" in r["message"])
    assert warning["level"] == "WARNING" and warning["logger"] == "indexer.store.writer"
    assert any(r["message"] == "an info line of the worker" for r in records)


def test_a_refused_reload_is_logged_once_not_at_every_poll(
    corpus_index, settings, embedder, tmp_path, caplog
):
    """CURRENT naming a generation that does not open: the server keeps serving the old one
    and logs the refusal once (it logged the same ERROR at every poll, twice a second, for as
    long as it lasted), then once more when a generation opens again."""
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    app = create_app(settings.model_copy(update={"index_dir": index_dir}), embedder)
    with TestClient(app) as client:
        live = app.state.live
        live.stop()  # the polls are made here, one at a time
        served = (index_dir / "CURRENT").read_text()
        with caplog.at_level(logging.DEBUG, logger="service.live_index"):
            (index_dir / "CURRENT").write_text("gen-000999.json")
            assert not any(live.reload() for _ in range(5))
            assert client.get("/ready").status_code == 200
            (index_dir / "CURRENT").write_text(served)
            assert not live.reload()
            (index_dir / "CURRENT").write_text("gen-000999.json")
            assert not live.reload() and not live.reload()
        refusals = [r for r in caplog.records if "reload refused" in r.getMessage()]
        assert [r.levelno for r in refusals] == [logging.ERROR] + [logging.DEBUG] * 4 + [
            logging.ERROR,
            logging.DEBUG,
        ]
        assert "gen-000999.json" in refusals[0].getMessage()
        (index_dir / "CURRENT").write_text(served)


def test_a_bulk_job_logs_when_it_starts_and_what_it_did(
    tmp_path, corpus_index, settings, embedder, caplog
):
    """A bulk job left no log line when it started or ended: only ``/jobs/{id}`` knew."""
    index_dir = shutil.copytree(corpus_index, tmp_path / "index")
    auth = {"Authorization": "Bearer bulk-log-token"}
    update = {"index_dir": index_dir, "admin_token": SecretStr("bulk-log-token")}
    record = {"id": "log-1", "title": "Pasar malam", "text": "Pasar malam dibuka di Palembang."}
    lines = json.dumps(record) + "\n" + '{"id": "log-2"}\n'
    with caplog.at_level(logging.INFO, logger="service.jobs"):
        with TestClient(create_app(settings.model_copy(update=update), embedder)) as c:
            sent = c.post(
                "/articles/bulk",
                content=lines,
                headers={**auth, "Content-Type": "application/x-ndjson"},
            )
            assert sent.status_code == 202, sent.text
            job_id = sent.json()["id"]
            deadline = time.monotonic() + 120
            while c.get(f"/jobs/{job_id}", headers=auth).json()["state"] not in ("done", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.2)
    said = [r.getMessage() for r in caplog.records if r.name == "service.jobs"]
    assert f"bulk job {job_id} started: 1 articles" in said
    assert any(
        m.startswith(f"bulk job {job_id} done: 1 added, 0 updated, 0 unchanged, 1 rejected")
        for m in said
    )
