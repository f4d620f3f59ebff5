"""Stress suite (``make test-stress``, CI): schemathesis over every endpoint of /openapi.json,
a 60 s load test and a 5-minute soak, all against the real ``newsqa serve`` on loopback.

The server here runs with the rate limit and the per-client in-flight bound off
(``NEWSQA_RATE_LIMIT_PER_MINUTE=0``, ``NEWSQA_MAX_IN_FLIGHT_PER_CLIENT=0``): every client is
127.0.0.1, so one bucket would throttle the whole load test, and its 16 clients would get 503
beyond 8 in flight. The overall in-flight bound stays at its default (32, above the 16 clients).
Writes are on (``NEWSQA_ADMIN_TOKEN``): the fuzz runs after a write phase (an update, a delete,
new articles and a duplicate's alias, so tombstones and several segments), and its own cases
write too. It serves a copy of the session's corpus index, so whatever the fuzzer manages to do
cannot touch the index other tests read.

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
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from indexer.store import Manifest, current_generation
from newsqa.server_process import serve_in_background

pytestmark = pytest.mark.stress

REPO = Path(__file__).resolve().parents[1]
LOAD_SECONDS = float(os.environ.get("NEWSQA_LOAD_SECONDS", "60"))
SOAK_SECONDS = float(os.environ.get("NEWSQA_SOAK_SECONDS", "300"))
LOAD_CLIENTS = 16
SOAK_CLIENTS = 8
WIB = timezone(timedelta(hours=7))
ADMIN_TOKEN = "stress-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# A write embeds its text in the server's write worker (nice 19), which loads the model on the
# first write: tens of seconds on a busy machine.
WRITE_TIMEOUT = 300


@pytest.fixture(scope="module")
def server(corpus_index, settings, tmp_path_factory):
    """``newsqa serve`` over a copy of the corpus index (``<log dir>/index``), per-client
    limits off, writes on with ``ADMIN_TOKEN``, logs to a file."""
    work = tmp_path_factory.mktemp("stress")
    index_dir = work / "index"
    shutil.copytree(corpus_index, index_dir, symlinks=True)
    env = {
        "NEWSQA_CACHE_DIR": str(settings.cache_dir),
        "NEWSQA_RATE_LIMIT_PER_MINUTE": "0",
        "NEWSQA_MAX_IN_FLIGHT_PER_CLIENT": "0",
        "NEWSQA_ADMIN_TOKEN": ADMIN_TOKEN,
    }
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


# --- writes over HTTP, then schemathesis over every endpoint of the served OpenAPI document --

NQ_002_ADDED = (
    "Dinas PUPR Sumatera Selatan menambahkan bahwa pengecatan ulang rangka jembatan berwarna "
    "merah itu dijadwalkan rampung sebelum peringatan hari jadi Kota Palembang, dan petugas "
    "gabungan akan berjaga di Simpang Charitas selama masa pengalihan arus."
)
NEW_ARTICLES = [
    {
        "id": "stress-201",
        "title": "Pemkot Palembang Resmikan Taman Tepian Sungai Musi di Kawasan Benteng Kuto Besak",
        "url": "https://warta-sumsel.example/2024/03/taman-tepian-musi",
        "published": "2024-03-14T09:00:00+07:00",
        "category": "Lingkungan",
        "source": "Warta Sumsel",
        "text": (
            "Pemerintah Kota Palembang meresmikan taman tepian Sungai Musi seluas dua hektare di "
            "kawasan Benteng Kuto Besak pada Kamis pagi. Taman itu dilengkapi jalur pejalan "
            "kaki, 300 pohon peneduh dan kolam retensi untuk menampung air hujan. Wali kota "
            "mengatakan taman tersebut menjadi ruang terbuka hijau ke-12 yang dibangun sejak "
            "2021 dan diharapkan mengurangi genangan di pusat kota saat musim hujan. Warga boleh "
            "berkunjung setiap hari mulai pukul 06.00 hingga 22.00 tanpa dipungut biaya."
        ),
    },
    {
        "id": "stress-202",
        "title": "Harga Beras Medium di Pasar Tradisional Medan Turun Rp 1.000 per Kilogram",
        "published": "Senin, 3 Juni 2024",
        "category": "Ekonomi",
        "source": "Harian Pagi",
        "text": (
            "Harga beras medium di sejumlah pasar tradisional Kota Medan turun Rp 1.000 per "
            "kilogram menjadi Rp 12.500 dalam sepekan terakhir. Pedagang di Pasar Petisah "
            "menyebut pasokan dari daerah sentra produksi seperti Simalungun dan Serdang Bedagai "
            "kembali lancar setelah panen raya. Dinas Perdagangan Sumatera Utara memperkirakan "
            "harga akan stabil hingga akhir bulan karena stok di gudang Bulog mencukupi untuk "
            "kebutuhan tiga bulan ke depan."
        ),
    },
    {
        "id": "stress-203",
        "title": "Atlet Dayung Maluku Sabet Tiga Emas di Kejuaraan Nasional Ambon",
        "published": "2022-08-17",
        "category": "Olahraga",
        "source": "Suara Timur",
        "text": (
            "Tim dayung Maluku meraih tiga medali emas pada kejuaraan nasional dayung yang "
            "digelar di Teluk Ambon. Emas pertama datang dari nomor perahu naga 500 meter putra, "
            "disusul kano tunggal 1.000 meter putri dan kayak ganda 200 meter putra. Pelatih "
            "kepala mengatakan hasil itu buah latihan rutin di perairan terbuka selama enam "
            "bulan. Kejuaraan diikuti 420 atlet dari 24 provinsi dan menjadi ajang seleksi untuk "
            "pelatnas menjelang SEA Games."
        ),
    },
]
# Same URL and words as stress-201 under another id: stored as an alias of it.
ALIAS = {**NEW_ARTICLES[0], "id": "stress-201-salinan"}


def _write(http: httpx.Client, method: str, path: str, body=None) -> dict:
    response = http.request(method, path, json=body, headers=AUTH, timeout=WRITE_TIMEOUT)
    assert response.status_code in (200, 201), f"{method} {path}: {response.text[:500]}"
    return response.json()


@pytest.fixture(scope="module")
def written(server):
    """The server after writes over HTTP: nq-002 updated (its old rows tombstoned), nq-003
    deleted, three new articles in two segments, and a duplicate's alias."""
    index_dir = server.log_path.parent / "index"
    with httpx.Client(base_url=server.url) as http:
        refused = http.post("/articles", json=NEW_ARTICLES[0], headers={"Authorization": "x"})
        assert refused.status_code == 401, refused.text
        old = http.get("/articles/nq-002").json()
        started = time.monotonic()
        body = {key: old[key] for key in ("title", "url", "source", "category")}
        body.update(text=f"{old['text']}\n\n{NQ_002_ADDED}", published=old["published"])
        assert _write(http, "PUT", "/articles/nq-002", body)["updated"] == 1
        first = time.monotonic() - started
        assert _write(http, "DELETE", "/articles/nq-003")["removed"] == 1
        assert _write(http, "POST", "/articles", NEW_ARTICLES[:2])["added"] == 2
        assert _write(http, "POST", "/articles", NEW_ARTICLES[2])["added"] == 1
        duplicate = _write(http, "POST", "/articles", ALIAS)
        assert duplicate["duplicates"] == {ALIAS["id"]: "stress-201"}, duplicate
        print(f"\n[writes] 5 writes in {time.monotonic() - started:.0f} s (first {first:.0f} s)")

        assert http.get("/articles/nq-003").status_code == 404
        assert NQ_002_ADDED in http.get("/articles/nq-002").json()["text"]
        assert http.get(f"/articles/{ALIAS['id']}").json()["id"] == "stress-201"
    manifest = Manifest.read(index_dir / current_generation(index_dir))
    assert len(manifest.segments) >= 3, manifest
    assert sum(len(ids) for ids in manifest.deleted.values()) >= 2, manifest.deleted
    return server


# Schemathesis's pytest plugin (``schema.parametrize`` over a fixture) does not run under
# pytest 9 (schemathesis 4.32 sets the removed ``Node._nodeid``), so each operation's
# strategies are driven with Hypothesis directly: positive cases (valid by the schema) and
# negative ones (violating it), a bounded, derandomized number of each. Every case carries the
# admin token, so positive write cases really write (to the copy of the index), and fewer of
# them are run: each embeds its text in the write worker.
EXAMPLES_PER_MODE = 25
WRITE_EXAMPLES_PER_MODE = 10
# Operations whose one case can do the work of many (64 questions read at once, a bulk job):
# fewer cases, and the write timeout.
HEAVY = frozenset({"POST /ask/batch", "POST /articles/bulk"})


class Fuzzer:
    """Runs an operation's cases and records what came back, across operations."""

    def __init__(self) -> None:
        self.statuses: dict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter
        )
        self.cases: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.written: list[str] = []  # ids the fuzz's own writes added: positive DELETEs take some
        # (operation, kind of failure) -> the first report of that kind, how many cases
        self.failures: dict[tuple[str, str], list] = {}

    def run(self, operation, mode: GenerationMode) -> None:
        label, method = operation.label, operation.method.upper()
        is_write = method in ("POST", "PUT", "DELETE") and operation.path.startswith("/articles")
        heavy = is_write or label in HEAVY

        @hypothesis_settings(
            max_examples=WRITE_EXAMPLES_PER_MODE if heavy else EXAMPLES_PER_MODE,
            deadline=None,  # per-request time is noisy here; the request timeout bounds it
            derandomize=True,  # the same cases on every run
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case) -> None:
            if (  # every other positive DELETE removes an article the fuzz wrote
                label == "DELETE /articles/{article_id}"
                and mode is GenerationMode.POSITIVE
                and self.written
                and self.cases[label][mode.value] % 2 == 0
            ):
                case.path_parameters["article_id"] = self.written.pop(0)
            self.cases[label][mode.value] += 1
            try:
                self.check(case, label, method, heavy)
            except (Exception, FailureGroup) as exc:  # every case runs; distinct ones reported
                key = (label, _failure_kind(exc))
                self.failures.setdefault(key, [f"{label} ({mode.value}): {exc}", 0])[1] += 1

        try:
            fuzz()
        except Unsatisfiable:  # no way to violate the schema (no parameters, any string)
            pass

    def check(self, case, label: str, method: str, heavy: bool) -> None:
        """Send ``case`` with the admin token, record its status, check its response."""
        response = case.call(headers=AUTH, timeout=WRITE_TIMEOUT if heavy else 60)
        self.statuses[label][response.status_code] += 1
        if response.status_code in (200, 201) and method == "PUT":
            self.written.append(case.path_parameters["article_id"])
        elif response.status_code in (200, 201) and label == "POST /articles":
            records = case.body if isinstance(case.body, list) else [case.body]
            self.written += [r["id"] for r in records if isinstance(r, dict)]
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance], headers=AUTH
        )


def _failure_kind(exc: BaseException) -> str:
    """What failed, without the case's values: the check and the schema it broke."""
    prefixes = ("- ", "Validated against", "Schema at")
    lines = [line.strip() for line in str(exc).splitlines()]
    return " | ".join(line for line in lines if line.startswith(prefixes)) or type(exc).__name__


def test_every_endpoint_survives_fuzzing_after_writes(written):
    """No 5xx, and every response matches the schema documented for its status."""
    api = schemathesis.openapi.from_url(f"{written.url}/openapi.json")
    fuzzer = Fuzzer()
    started = time.monotonic()
    for result in api.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzzer.run(result.ok(), mode)
    statuses = fuzzer.statuses
    total = sum(sum(c.values()) for c in statuses.values())
    server_errors = sum(n for c in statuses.values() for s, n in c.items() if s >= 500)
    print(
        f"\n[schemathesis] {len(statuses)} operations, {total} requests in "
        f"{time.monotonic() - started:.0f} s, {server_errors} server errors, "
        f"{sum(n for _, n in fuzzer.failures.values())} failed checks "
        f"({len(fuzzer.failures)} distinct)"
    )
    for label, counts in sorted(statuses.items()):
        modes = ", ".join(f"{n} {mode}" for mode, n in sorted(fuzzer.cases[label].items()))
        print(f"[schemathesis]   {label}: {modes}; statuses {dict(sorted(counts.items()))}")
    assert len(statuses) >= 16, "every documented operation is fuzzed"
    reports = [f"{report}\n({n} such cases)" for report, n in fuzzer.failures.values()]
    assert not reports, "\n\n".join(reports)
    # the write cases got past the token and really wrote and deleted
    assert statuses["POST /articles"][201] and statuses["DELETE /articles/{article_id}"][200]


def _published(passage: dict) -> datetime:
    assert passage["published"], passage
    return datetime.fromisoformat(passage["published"])


def test_filtered_queries_after_writes(written):
    """After the writes (and the fuzz's): filtered /search and /ask answer 200 from matching
    articles only, the updated article's new words are found and the deleted one is gone."""
    since, until = datetime(2024, 1, 1, tzinfo=WIB), datetime(2024, 12, 31, 23, 59, tzinfo=WIB)
    cases = [  # (params, article expected first, or None: just matching ones)
        ({"q": "pengecatan ulang rangka jembatan", "category": "pemerintahan"}, "nq-002"),
        ({"q": "pengecatan ulang rangka jembatan", "source": "WARTA SUMSEL"}, "nq-002"),
        ({"q": "harga cabai rawit di pasar palembang", "category": "Ekonomi"}, None),
        (
            {"q": "taman tepian sungai musi", "source": "warta sumsel", "category": "lingkungan"},
            "stress-201",
        ),
        (
            {
                "q": "harga beras medium",
                "published_from": since.isoformat(),
                "published_to": until.isoformat(),
            },
            "stress-202",
        ),
        (
            {
                "q": "medali emas dayung",
                "category": "Olahraga",
                "source": "Suara Timur",
                "published_from": "2022-01-01T00:00:00+07:00",
            },
            "stress-203",
        ),
    ]
    with httpx.Client(base_url=written.url, timeout=120) as http:
        for params, first in cases:
            response = http.get("/search", params={**params, "k": 10})
            assert response.status_code == 200, (params, response.text[:500])
            _assert_matching(response.json()["passages"], params, first)
            ask = {"question": params["q"], "k": 5}
            ask["filters"] = {k: v for k, v in params.items() if k != "q"}
            response = http.post("/ask", json=ask)
            assert response.status_code == 200, (ask, response.text[:500])
            answer = response.json()
            _assert_matching(answer["passages"], params, first)
            cited = {c["article_id"] for c in answer["citations"]}
            assert cited <= {p["article_id"] for p in answer["passages"]}, answer
        nothing = http.get("/search", params={"q": "harga", "category": "tidak ada"})
        assert nothing.status_code == 200 and nothing.json()["passages"] == []


def _assert_matching(passages: list[dict], params: dict, first: str | None) -> None:
    assert passages, params
    ids = [p["article_id"] for p in passages]
    assert "nq-003" not in ids, ids  # deleted
    if first is not None:
        assert ids[0] == first, (params, ids)
    for passage in passages:
        for key in ("category", "source"):
            if key in params:
                assert (passage[key] or "").casefold() == params[key].casefold(), passage
        if "published_from" in params:
            assert _published(passage) >= datetime.fromisoformat(params["published_from"])
        if "published_to" in params:
            assert _published(passage) <= datetime.fromisoformat(params["published_to"])


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
