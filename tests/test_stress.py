"""Stress suite (``make test-stress``, CI): schemathesis over every endpoint of /openapi.json,
a 60 s load test and a 5-minute soak, all against the real ``newsqa serve`` on loopback.

The server here runs with the rate limit off (``NEWSQA_RATE_LIMIT_PER_MINUTE=0``): every
client is 127.0.0.1, so one bucket would throttle the whole load test. The in-flight bound
stays at its default (32, above the 16 clients). It serves a copy of the session's corpus
index, so whatever the fuzzer manages to do cannot touch the index other tests read.

Latency is printed, never asserted (a shared 2-core machine is noisy); errors and memory are.
``NEWSQA_LOAD_SECONDS`` and ``NEWSQA_SOAK_SECONDS`` shorten the runs locally (defaults 60 and
300, which CI uses).
"""

from __future__ import annotations

import collections
import json
import os
import random
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from newsqa.server_process import serve_in_background

pytestmark = pytest.mark.stress

REPO = Path(__file__).resolve().parents[1]
LOAD_SECONDS = float(os.environ.get("NEWSQA_LOAD_SECONDS", "60"))
SOAK_SECONDS = float(os.environ.get("NEWSQA_SOAK_SECONDS", "300"))
LOAD_CLIENTS = 16
SOAK_CLIENTS = 8


@pytest.fixture(scope="module")
def server(corpus_index, settings, tmp_path_factory):
    """``newsqa serve`` over a copy of the corpus index, rate limit off, logs to a file."""
    work = tmp_path_factory.mktemp("stress")
    index_dir = work / "index"
    shutil.copytree(corpus_index, index_dir, symlinks=True)
    env = {"NEWSQA_CACHE_DIR": str(settings.cache_dir), "NEWSQA_RATE_LIMIT_PER_MINUTE": "0"}
    with serve_in_background(index_dir, env, log_path=work / "server.log") as server:
        yield server


def test_served_logs_are_json_lines_with_request_ids(server):
    response = httpx.get(f"{server.url}/articles/nq-001", headers={"X-Request-ID": "stress-1"})
    assert response.headers["x-request-id"] == "stress-1"
    time.sleep(0.5)
    lines = [line for line in server.log_path.read_text("utf-8").splitlines() if line.strip()]
    records = []
    for line in lines:
        if line.startswith(("Loading weights", "\r")) or "it/s]" in line:
            continue  # the model loader's progress bar (a library's, not a log line)
        records.append(json.loads(line))
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    access = [r for r in records if r.get("request_id") == "stress-1"]
    assert len(access) == 1
    assert access[0]["route"] == "/articles/{article_id}" and access[0]["status"] == 200
    assert not any(r["logger"] == "uvicorn.access" for r in records)


# --- schemathesis over every endpoint of the served OpenAPI document ----------------------

# Schemathesis's pytest plugin (``schema.parametrize`` over a fixture) does not run under
# pytest 9 (schemathesis 4.32 sets the removed ``Node._nodeid``), so each operation's
# strategies are driven with Hypothesis directly: positive cases (valid by the schema) and
# negative ones (violating it), a bounded, derandomized number of each.
EXAMPLES_PER_MODE = 25


def test_every_endpoint_survives_fuzzing(server):
    """No 5xx, and every response matches the schema documented for its status."""

    api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    statuses: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    failures: list[str] = []
    started = time.monotonic()
    for result in api.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis_settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,  # per-request time is noisy here; the request timeout bounds it
                derandomize=True,  # the same cases on every run
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case) -> None:
                response = case.call(timeout=60)
                statuses[case.operation.label][response.status_code] += 1
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )

            try:
                fuzz()
            except Unsatisfiable:  # no way to violate the schema (no parameters, any string)
                continue
            except Exception as exc:  # one report for all operations, not the first failure
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    total = sum(sum(c.values()) for c in statuses.values())
    server_errors = sum(n for c in statuses.values() for s, n in c.items() if s >= 500)
    print(
        f"\n[schemathesis] {len(statuses)} operations, {total} requests in "
        f"{time.monotonic() - started:.0f} s, {server_errors} server errors, "
        f"{len(failures)} failed checks"
    )
    for label, counts in sorted(statuses.items()):
        print(f"[schemathesis]   {label}: {dict(sorted(counts.items()))}")
    assert len(statuses) >= 6, "every documented operation is fuzzed"
    assert not failures, "\n\n".join(failures)


# --- load and soak ------------------------------------------------------------------------


def _questions() -> list[str]:
    path = REPO / "eval" / "questions" / "corpus.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"][:1000] for line in lines if line.strip()]


REWORDINGS = (
    "di Palembang",
    "tahun 2020",
    "tahun 2021",
    "tahun 2023",
    "menurut pemerintah",
    "menurut berita",
    "sebenarnya",
    "terbaru",
    "please",
    "in Indonesia",
    "according to the news",
    "kapan?",
    "berapa?",
    "siapa?",
    "?",
)


class Traffic:
    """Clients that send a realistic mix until a deadline; statuses and latencies recorded."""

    def __init__(self, url: str, clients: int, mix: dict[str, float]) -> None:
        self.url = url
        self.clients = clients
        self.mix = mix
        self.questions = _questions()
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: list[str] = []
        self.stop_at = 0.0

    def request(self, http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response]:
        kind = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        question = rng.choice(self.questions)
        if rng.random() < 0.3:  # reworded: new vectors to compute, the caches keep churning
            question = f"{question[:980]} {rng.choice(REWORDINGS)}"
        if kind == "ask":
            return kind, http.post("/ask", json={"question": question, "k": rng.choice([3, 5])})
        if kind == "search":
            params = {"q": question, "k": rng.choice([5, 10, 20])}
            if rng.random() < 0.2:
                params["published_from"] = f"{rng.randint(2019, 2023)}-01-01"
            return kind, http.get("/search", params=params)
        if kind == "article":
            return kind, http.get(f"/articles/nq-{rng.randint(1, 40):03d}")
        if kind == "invalid":  # refused input must stay cheap and harmless under load
            return kind, http.post("/ask", json={"question": "   ", "k": 99})
        raise AssertionError(kind)

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        expected = {"ask": {200}, "search": {200}, "article": {200, 404}, "invalid": {422}}
        with httpx.Client(base_url=self.url, timeout=120) as http:
            while time.monotonic() < self.stop_at:
                started = time.perf_counter()
                try:
                    kind, response = self.request(http, rng)
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.errors.append(repr(exc))
                    continue
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.latencies[kind].append(elapsed)
                    if response.status_code not in expected[kind]:
                        self.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")

    def run(self, seconds: float, every: float = 0, on_tick=None) -> None:
        self.stop_at = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self.client, args=(seed,), daemon=True)
            for seed in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        while on_tick and time.monotonic() < self.stop_at:
            time.sleep(min(every, max(0.0, self.stop_at - time.monotonic())))
            on_tick(time.monotonic() - started)
        for thread in threads:
            thread.join(timeout=seconds + 180)

    def summary(self, seconds: float) -> str:
        every = sorted(x for values in self.latencies.values() for x in values)
        counts = ", ".join(f"{k} {len(v)}" for k, v in sorted(self.latencies.items()))
        return (
            f"{self.clients} clients x {seconds:.0f} s: {len(every)} requests ({counts}), "
            f"{len(self.errors)} errors, {len(every) / seconds:.1f} req/s, "
            f"p50 {_percentile(every, 50) * 1000:.0f} ms, p99 {_percentile(every, 99) * 1000:.0f} ms"
        )


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def test_load_16_clients_without_errors(server):
    traffic = Traffic(server.url, LOAD_CLIENTS, {"ask": 0.6, "search": 0.4})
    traffic.run(LOAD_SECONDS)
    print(f"\n[load] {traffic.summary(LOAD_SECONDS)}")
    for kind in ("ask", "search"):
        values = sorted(traffic.latencies[kind])
        print(
            f"[load]   {kind}: p50 {_percentile(values, 50) * 1000:.0f} ms, "
            f"p99 {_percentile(values, 99) * 1000:.0f} ms"
        )
    assert traffic.errors == [], traffic.errors[:5]
    assert traffic.latencies["ask"] and traffic.latencies["search"]


def test_soak_memory_stays_flat(server):
    mix = {"ask": 0.55, "search": 0.3, "article": 0.1, "invalid": 0.05}
    traffic = Traffic(server.url, SOAK_CLIENTS, mix)
    warm_up = min(60.0, SOAK_SECONDS / 5)
    samples: list[tuple[float, int]] = []

    def sample(elapsed: float) -> None:
        samples.append((elapsed, server.rss_kib()))

    traffic.run(SOAK_SECONDS, every=10, on_tick=sample)
    end = server.rss_kib()
    warm = next((kib for t, kib in samples if t >= warm_up), samples[0][1])
    peak = max(kib for _, kib in samples + [(0, end)])
    change = (end - warm) / warm
    print(f"\n[soak] {traffic.summary(SOAK_SECONDS)}")
    print(
        f"[soak] server RSS after {warm_up:.0f} s warm-up {warm / 1024:.1f} MiB, "
        f"at the end {end / 1024:.1f} MiB ({change:+.1%}), peak {peak / 1024:.1f} MiB"
    )
    print("[soak] RSS every 10 s (MiB): " + " ".join(f"{kib / 1024:.0f}" for _, kib in samples))
    assert traffic.errors == [], traffic.errors[:5]
    assert end <= warm * 1.10, f"RSS grew {change:+.1%} after warm-up"
