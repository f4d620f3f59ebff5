"""FAISS index type by size: exact search against HNSW and IVF-PQ.

    python -m bench --sections faiss [--faiss-sizes 100000]

Vectors are clustered (``bench.synthetic.clustered_vectors``) around real e5 embeddings of
facqa passages, so the neighbourhoods look like a news corpus's (stories and their
follow-ups) rather than uniform noise, where every approximate index looks worse than it
would be. Queries are 1,000 more points of the same distribution. For each index: build
seconds, recall@10 against ``IndexFlatIP`` (exact) on all queries, milliseconds per query
for one query at a time (how the service searches), and bytes per vector from the serialized
index (memory per million chunks = bytes x 1e6).

``recommend`` turns the figures into the rule the store should follow: exact search while a
single query's exact scan costs at most ``EXACT_BUDGET_MS``, then the fastest approximate
index whose recall@10 is at least 0.95.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from bench.common import FACQA, log

GOAL_RECALL = 0.95
EXACT_BUDGET_MS = 10.0
"""An exact scan is fine while it costs at most this per query: a tenth of the ~100 ms a
query spends elsewhere (embedding it, BM25, fusion, HTTP)."""


def base_vectors(count: int = 256, emb=None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Real passage embeddings (the first ``count`` facqa passages) as cluster centres."""
    from bench.common import embedder

    emb = emb or embedder()
    texts = [json.loads(line)["text"] for _, line in zip(range(count), FACQA.open())]
    return emb.embed_passages(texts)


def _store_hnsw() -> tuple[int, int]:
    """HNSW links and construction depth as the product builds them (32 / 80 if it does not
    say), so the figures describe what the product writes."""
    import indexer.dense.faiss_backend as store

    return getattr(store, "HNSW_M", 32), getattr(store, "HNSW_EF_CONSTRUCTION", 80)


def store_rule() -> str:
    """What the product's FAISS backend does now, in words."""
    import indexer.dense.faiss_backend as store

    if not hasattr(store, "HNSW_FROM"):
        return "IndexFlatIP per segment"
    return (
        f"IndexFlatIP below {store.HNSW_FROM:,} chunks per segment, then HNSW{store.HNSW_M} "
        f"(efConstruction {store.HNSW_EF_CONSTRUCTION}, efSearch {store.HNSW_EF_SEARCH})"
    )


def _recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    hits = sum(len(set(f[:k]) & set(t[:k])) for f, t in zip(found, truth))
    return hits / (len(truth) * k)


def _ms_per_query(
    index,  # type: ignore[no-untyped-def]
    queries: np.ndarray,
    k: int,
    threads: int,
    count: int = 200,
) -> float:
    """Milliseconds per single-query search with ``threads`` OpenMP threads."""
    import faiss

    default = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        for q in queries[:10]:  # warm-up
            index.search(q[None, :], k)
        started = time.perf_counter()
        for q in queries[:count]:
            index.search(q[None, :], k)
        return (time.perf_counter() - started) / min(count, len(queries)) * 1000
    finally:
        faiss.omp_set_num_threads(default)


def _nbytes(index) -> int:  # type: ignore[no-untyped-def]
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def measure_size(n: int, base: np.ndarray, queries: int = 1000, k: int = 10) -> dict:
    import faiss

    from bench.synthetic import clustered_vectors

    dim = base.shape[1]
    threads = len(os.sched_getaffinity(0))  # all cores, whatever this thread was set to
    log(f"faiss: {n:,} clustered vectors")
    xb = clustered_vectors(n, dim, seed=11, base=base)
    xq = clustered_vectors(queries * 64, dim, seed=12, base=base)[::64][:queries]
    xq = np.ascontiguousarray(xq)
    rows: list[dict] = []

    def record(name: str, index, build_s: float, params: dict | None = None) -> None:  # type: ignore[no-untyped-def]
        for label, setter in (params or {"": None}).items():
            if setter is not None:
                setter(index)
            _, found = index.search(xq, k)
            rows.append(
                {
                    "index": f"{name}{label}",
                    "build_s": round(build_s, 1),
                    "recall@10": round(_recall(found, truth, k), 4),
                    "ms_per_query": round(_ms_per_query(index, xq, k, threads), 3),
                    "ms_per_query_1_thread": round(_ms_per_query(index, xq, k, 1), 3),
                    "bytes_per_vector": round(_nbytes(index) / n, 1),
                }
            )
            rows[-1]["mib_per_million"] = round(rows[-1]["bytes_per_vector"] * 1e6 / 2**20)

    started = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(xb)
    flat_build = time.perf_counter() - started
    _, truth = flat.search(xq, k)
    record("Flat (exact)", flat, flat_build)
    del flat

    m_links, ef_construction = _store_hnsw()
    log(f"faiss: HNSW{m_links} (efConstruction {ef_construction})")
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, m_links, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    hnsw.add(xb)
    hnsw_build = time.perf_counter() - started

    def ef(value: int):  # type: ignore[no-untyped-def]
        return lambda index: setattr(index.hnsw, "efSearch", value)

    record(
        f"HNSW{m_links}",
        hnsw,
        hnsw_build,
        {" efSearch=64": ef(64), " efSearch=128": ef(128), " efSearch=256": ef(256)},
    )
    del hnsw

    # IVF: one coarse quantizer (k-means on a sample), shared by the IVF variants
    nlist = int(4 * np.sqrt(n))
    log(f"faiss: IVF (nlist {nlist})")
    started = time.perf_counter()
    sample = xb[np.random.default_rng(0).choice(n, size=min(n, nlist * 40), replace=False)]
    kmeans = faiss.Kmeans(dim, nlist, niter=10, spherical=True, seed=1)
    kmeans.train(sample)
    coarse_s = time.perf_counter() - started

    def nprobe(value: int):  # type: ignore[no-untyped-def]
        return lambda index: setattr(index, "nprobe", value)

    probes = {" nprobe=16": nprobe(16), " nprobe=32": nprobe(32)}
    m = 48  # 8 dimensions per sub-quantizer; 96 trained ~7x slower here for recall < 0.7
    started = time.perf_counter()
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(kmeans.centroids)
    ivfpq = faiss.IndexIVFPQ(quantizer, dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    ivfpq.train(sample)  # the quantizer is trained: only the product quantizer learns
    ivfpq.add(xb)
    pq_s = coarse_s + time.perf_counter() - started
    record(f"IVF{nlist},PQ{m}", ivfpq, pq_s, probes)
    # PQ codes re-ranked with the exact vectors (which the store keeps anyway: the retriever
    # rescores every candidate with its stored vector)
    started = time.perf_counter()
    base_index = faiss.clone_index(ivfpq)  # trained, emptied, filled again with the vectors
    base_index.reset()
    base_index.nprobe = 32
    refined = faiss.IndexRefineFlat(base_index)
    refined.add(xb)  # codes into the IVF-PQ, exact vectors into the re-ranking store
    refined.k_factor = 8
    record(
        f"IVF{nlist},PQ{m} nprobe=32 + exact re-rank of top {8 * k}",
        refined,
        pq_s + time.perf_counter() - started,
    )
    del refined
    started = time.perf_counter()
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(kmeans.centroids)
    ivfsq = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    ivfsq.train(sample)
    ivfsq.add(xb)
    record(f"IVF{nlist},SQ8", ivfsq, coarse_s + time.perf_counter() - started, probes)
    return {"vectors": n, "queries": queries, "dimension": dim, "threads": threads, "rows": rows}


def recommend(result: dict) -> dict:
    """The rule for the store: exact up to a threshold, then the best approximate index."""
    sizes = result["sizes"]
    per_vector_ms = []
    approx: list[dict] = []

    def fastest(row: dict) -> float:
        return min(row["ms_per_query"], row["ms_per_query_1_thread"])

    for size, r in sizes.items():
        n = int(size)
        flat = next(row for row in r["rows"] if row["index"].startswith("Flat"))
        per_vector_ms.append(fastest(flat) / n)
        approx += [
            {**row, "vectors": n}
            for row in r["rows"]
            if not row["index"].startswith("Flat") and row["recall@10"] >= GOAL_RECALL
        ]
    # the exact scan is linear in the vectors: the size where it reaches the budget
    threshold = EXACT_BUDGET_MS / float(np.median(per_vector_ms))
    threshold = int(round(threshold, -int(np.floor(np.log10(threshold)))))  # 1 significant
    largest = max(sizes, key=int)
    candidates = [row for row in approx if row["vectors"] == int(largest)]
    best = min(candidates, key=fastest) if candidates else None
    return {
        "exact_up_to_chunks": threshold,
        "exact_budget_ms": EXACT_BUDGET_MS,
        "flat_ms_per_million": round(float(np.median(per_vector_ms)) * 1e6, 1),
        "single_query_threads": _threads_verdict(sizes),
        "above": best["index"] if best else "Flat (no approximate index reached the recall goal)",
        "above_recall@10": best["recall@10"] if best else None,
        "above_ms_per_query": fastest(best) if best else None,
        "above_mib_per_million": best["mib_per_million"] if best else None,
        "measured_at": int(largest),
    }


def _threads_verdict(sizes: dict) -> str:
    """Whether one OpenMP thread beats all of them for one query at a time (flat index)."""
    flats = [
        next(row for row in r["rows"] if row["index"].startswith("Flat")) for r in sizes.values()
    ]
    one = sum(row["ms_per_query_1_thread"] for row in flats)
    every = sum(row["ms_per_query"] for row in flats)
    if one < 0.9 * every:
        return f"1 (x{every / one:.1f} faster than all threads for single queries)"
    return "all"


def run(sizes: tuple[int, ...] = (100_000,), queries: int = 1000, emb=None) -> dict:  # type: ignore[no-untyped-def]
    log("faiss: embedding 256 facqa passages as cluster centres")
    base = base_vectors(256, emb)
    out = {"sizes": {str(n): measure_size(n, base, queries) for n in sizes}}
    out["recommendation"] = recommend(out)
    out["goal"] = f"recall@10 >= {GOAL_RECALL}"
    return out


def table(r: dict) -> str:
    rows = [
        "| vectors | index | build s | recall@10 vs exact | ms/query (all threads / 1 thread) "
        "| bytes/vector | MiB per 1M chunks |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, s in r["sizes"].items():
        for row in s["rows"]:
            rows.append(
                f"| {int(size):,} | {row['index']} | {row['build_s']:.1f} | "
                f"{row['recall@10']:.3f} | {row['ms_per_query']:.2f} / "
                f"{row['ms_per_query_1_thread']:.2f} | "
                f"{row['bytes_per_vector']:.0f} | {row['mib_per_million']:,} |"
            )
    rec = r["recommendation"]
    rows += [
        "",
        f"Recommendation: exact `IndexFlatIP` up to ~{rec['exact_up_to_chunks']:,} chunks per "
        f"index (exact scan {rec['flat_ms_per_million']:.0f} ms per 1M vectors per query, "
        f"budget {rec['exact_budget_ms']:.0f} ms), then **{rec['above']}** (recall@10 "
        f"{rec['above_recall@10']}, {rec['above_ms_per_query']} ms/query, "
        f"{rec['above_mib_per_million']} MiB per 1M chunks at {rec['measured_at']:,}). "
        f"FAISS threads for one query at a time: {rec['single_query_threads']}.",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    result = run()
    print(json.dumps(result, indent=2))
    print(table(result))
