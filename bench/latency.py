"""Query latency of the real server at 10k, 100k (and, with ``--large``, 1M) chunks.

    python -m bench --sections latency [--latency-sizes 10000,100000] [--requests 150]

For each size a synthetic index (``bench.synthetic``) is served by `newsqa serve` on
loopback with the rate limit, the in-flight bound and the query cache off (the same
questions recur here). One client sends requests one after another (a bounded client: one
in flight), questions from eval/questions/corpus.jsonl: GET /search (k=10) and POST /ask
(default k) in turn, after a warm-up. The bare baseline runs in this process on the same
index, interleaved with the HTTP requests: ``Embedder.embed_queries([q])`` and
``IndexStore.search_vectors(vec, 10)``, nothing else. The goal is /search p50 / bare p50 <=
1.3.

Where /search time goes is measured in this process too (``profile``): the retriever's calls
to the embedder, FAISS, BM25, SQLite and the vector store are wrapped with timers, and the
server's own ``timings_ms.total`` (time inside the retriever) is subtracted from the client's
latency to give what HTTP, validation, highlighting and JSON cost.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    QUESTIONS,
    accumulating,
    embedder,
    log,
    percentile,
    rss_mib,
    running_server,
)
from bench.synthetic import build_index

GOAL_RATIO = 1.3


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]


def _wrap(obj: object, name: str, spent: dict[str, float], label: str) -> None:
    setattr(obj, name, accumulating(getattr(obj, name), spent, label))


def _wrap_module(module: object, name: str, spent: dict[str, float], label: str) -> Callable:
    original = getattr(module, name)
    _wrap(module, name, spent, label)
    return original


def profile(store, emb, qs: list[str]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Mean milliseconds per /search stage, in this process: the retriever's calls (wrapped
    with timers, then restored) and building the response (highlights, models, JSON)."""
    import service.retrieval as retrieval
    from service import schemas
    from service.routes.responses import passages_out

    spent: dict[str, float] = defaultdict(float)
    retriever = retrieval.HybridRetriever(store, emb)
    _wrap(emb, "embed_queries", spent, "embed query")
    _wrap(store.backend, "search", spent, "FAISS search (30 candidates)")
    _wrap(store.bm25, "top", spent, "BM25 top candidates (MaxScore)")
    _wrap(store, "chunks", spent, "candidate records (SQLite)")
    _wrap(store, "vectors_of", spent, "candidate vectors (reconstruct)")
    _wrap(store, "headline_vectors_of", spent, "headline vectors")
    analyze = _wrap_module(retrieval, "analyze", spent, "analyze question (BM25 terms)")
    _wrap(retriever, "_pair_shares", spent, "candidate word pairs (tokenize, match)")
    per_query: dict[str, list[float]] = defaultdict(list)
    try:
        for q in qs:
            spent.clear()
            started = time.perf_counter()
            hits = retriever.retrieve(q, k=10)
            retrieved = time.perf_counter()
            schemas.SearchResponse(
                query=q, passages=passages_out(store, hits, q), timings_ms={"total": 0.0}
            ).model_dump_json()
            done = time.perf_counter()
            for name, seconds in spent.items():
                per_query[name].append(seconds)
            per_query["fusion and the rest (Python)"].append(
                retrieved - started - sum(spent.values())
            )
            per_query["retrieve total"].append(retrieved - started)
            per_query["response: highlights, models, JSON"].append(done - retrieved)
    finally:
        for obj, name in [
            (emb, "embed_queries"),
            (store.backend, "search"),
            (store.bm25, "top"),
            (store, "chunks"),
            (store, "vectors_of"),
            (store, "headline_vectors_of"),
            (retriever, "_pair_shares"),
        ]:
            delattr(obj, name)  # the class's method shows through again
        retrieval.analyze = analyze
    # medians: robust to the other jobs on a shared machine (so they need not add up)
    return {k: round(percentile(v, 50) * 1000, 2) for k, v in per_query.items()}


def measure_size(
    chunks: int, requests: int, warmup: int, emb, work: Path, do_profile: bool
) -> dict:  # type: ignore[no-untyped-def]
    import httpx

    from indexer.store import IndexStore

    index_dir = work / f"index-{chunks}"
    log(f"latency: building a synthetic index of {chunks:,} chunks")
    built = build_index(index_dir, chunks)
    qs = questions()
    out: dict = {"chunks": chunks, "index_build_s": built["build_s"]}
    log(f"latency: serving {chunks:,} chunks")
    started = time.perf_counter()
    with running_server(index_dir) as (url, pid):
        out["server_start_s"] = round(time.perf_counter() - started, 1)
        out["server_rss_mib_ready"] = round(rss_mib(pid))
        store = IndexStore.open(index_dir)
        client = httpx.Client(base_url=url, timeout=120)
        server_total: list[float] = []

        def search(q: str) -> None:
            r = client.get("/search", params={"q": q, "k": 10})
            r.raise_for_status()
            server_total.append(r.json()["timings_ms"]["total"])

        def ask(q: str) -> None:
            client.post("/ask", json={"question": q}).raise_for_status()

        def bare(q: str) -> None:
            store.search_vectors(emb.embed_queries([q]), 10)

        calls: dict[str, Callable[[str], None]] = {
            "bare": bare,
            "search": search,
            "ask": ask,
        }
        times: dict[str, list[float]] = {name: [] for name in calls}
        for i in range(warmup + requests):
            q = qs[i % len(qs)]
            for name, call in calls.items():
                t0 = time.perf_counter()
                call(q)
                if i >= warmup:
                    times[name].append((time.perf_counter() - t0) * 1000)
        server_total = server_total[warmup:]
        health = []  # the floor: a route that does nothing, through the same middleware
        for _ in range(50):
            t0 = time.perf_counter()
            client.get("/health").raise_for_status()
            health.append((time.perf_counter() - t0) * 1000)
        out["health_p50_ms"] = round(percentile(health, 50), 1)
        client.close()
        out["server_rss_mib"] = round(rss_mib(pid))
        out["server_peak_rss_mib"] = round(rss_mib(pid, peak=True))
        out["bench_rss_mib"] = round(rss_mib())
        if do_profile:
            log(f"latency: profiling /search at {chunks:,} chunks")
            out["profile_ms"] = profile(store, emb, qs)
            prof = out["profile_ms"]
            prof["HTTP round trip of GET /health (p50)"] = out["health_p50_ms"]
            # client p50 - server's own retrieve p50 - response building = HTTP, middleware
            prof["HTTP, middleware (client p50 - server retrieve p50 - response)"] = round(
                percentile(times["search"], 50)
                - percentile(server_total, 50)
                - prof["response: highlights, models, JSON"],
                2,
            )
        store.close()
    for name, values in times.items():
        out[name] = {
            "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1),
        }
    out["search_server_retrieve_p50_ms"] = round(percentile(server_total, 50), 1)
    out["ratio"] = round(out["search"]["p50_ms"] / out["bare"]["p50_ms"], 2)
    out["met"] = out["ratio"] <= GOAL_RATIO
    return out


def run(
    sizes: tuple[int, ...] = (10_000, 100_000),
    requests: int = 150,
    warmup: int = 20,
    profile_size: int | None = None,
) -> dict:
    emb = embedder()  # what the server builds: auto precision, default batch, no query cache
    profile_size = profile_size or max(s for s in sizes if s <= 100_000 or len(sizes) == 1)
    out: dict = {"requests": requests, "warmup": warmup, "client": "1 in flight", "sizes": {}}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
            out["sizes"][str(size)] = measure_size(
                size, requests, warmup, emb, Path(tmp), size == profile_size
            )
    out["goal"] = f"<= {GOAL_RATIO}"
    return out


def table(r: dict) -> str:
    rows = [
        "| chunks | /search p50 / p99 ms | /ask p50 / p99 ms | bare p50 ms (FAISS 1 thread) | "
        f"/search / bare (goal {r['goal']}) | GET /health p50 ms | server RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, s in r["sizes"].items():
        rows.append(
            f"| {int(size):,} | {s['search']['p50_ms']:.0f} / {s['search']['p99_ms']:.0f} | "
            f"{s['ask']['p50_ms']:.0f} / {s['ask']['p99_ms']:.0f} | {s['bare']['p50_ms']:.1f} | "
            f"**{s['ratio']:.2f}** | "
            f"{s['health_p50_ms']:.1f} | {s['server_rss_mib']:,} |"
        )
    for size, s in r["sizes"].items():
        if "profile_ms" in s:
            rows += [
                "",
                f"Where /search time goes at {int(size):,} chunks (median ms per query, "
                "in-process, same index; medians, so they need not add up):",
                "",
                "| stage | ms |",
                "|---|---|",
                *(f"| {k} | {v:.1f} |" for k, v in s["profile_ms"].items()),
            ]
    return "\n".join(rows)


if __name__ == "__main__":
    result = run()
    print(json.dumps(result, indent=2))
    print(table(result))
