"""Large segments switch from exact search to HNSW; filters and answers still work."""

from __future__ import annotations

import json

import numpy as np
from conftest import CORPUS_DIR

import indexer.dense.faiss_backend as faiss_backend
from indexer.pipeline import build_index
from indexer.store import IndexStore
from service.retrieval import Filters, HybridRetriever


def test_hnsw_segment_answers_like_exact_search(tmp_path, embedder, monkeypatch):
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()]
    source = tmp_path / "corpus.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    build_index([source], tmp_path / "exact", embedder)
    monkeypatch.setattr(faiss_backend, "HNSW_FROM", 10)
    build_index([source], tmp_path / "hnsw", embedder)
    exact, hnsw = IndexStore.open(tmp_path / "exact"), IndexStore.open(tmp_path / "hnsw")
    assert type(exact.segments[0].index).__name__ == "IndexFlatIP"
    assert type(hnsw.segments[0].index).__name__ == "IndexHNSWFlat"
    queries = embedder.embed_queries(["harga cabai naik", "which Palembang programs won awards"])
    category = exact.chunks([0])[0].category
    for allowed in (None, Filters(category=category).mask(exact)):
        a = exact.search_vectors(queries, 5, allowed)[1]
        b = hnsw.search_vectors(queries, 5, allowed)[1]
        assert np.array_equal(a[:, 0], b[:, 0])  # a small graph finds the true best
        if allowed is not None:
            assert allowed[b[b >= 0]].all()  # the filter is exact
    hits = HybridRetriever(hnsw, embedder).retrieve(
        "which Palembang programs won 2020 awards", k=3, filters=Filters()
    )
    assert hits[0].article_id == "nq-001"


def test_hnsw_segment_returns_k_rows_under_selective_filters_and_deletes(tmp_path, monkeypatch):
    """A filter on an HNSW segment is a FAISS ID selector: the graph walk only keeps the rows
    it lets through, so a selective one (a section, a day, most of the segment deleted)
    returned fewer than k rows and missed the best ones (0.5% of rows kept: 7 of 30 rows,
    recall@10 0.59 at 210k chunks). Every filter must give min(k, matching) allowed rows with
    the true best among them, as exact search over the same rows does."""
    from bench.synthetic import build_index as synthetic_index

    monkeypatch.setattr(faiss_backend, "HNSW_FROM", 10_000)
    synthetic_index(tmp_path / "index", 20_000, dimension=64)
    store = IndexStore.open(tmp_path / "index")
    assert type(store.segments[0].index).__name__ == "IndexHNSWFlat"
    n = store.manifest.chunks
    vectors = store.vectors_of(np.arange(n))
    rng = np.random.default_rng(3)
    queries = vectors[rng.integers(n, size=20)] + 0.04 * rng.standard_normal((20, 64))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    # a section is a region of the vector space, not a random sample of rows
    topic = vectors @ rng.standard_normal(64).astype(np.float32)
    filters = {
        "5% of a topic": topic >= np.quantile(topic, 0.95),
        "0.5% of a topic": topic >= np.quantile(topic, 0.995),
        "0.5% of rows": rng.random(n) < 0.005,
        "0.05% of rows": rng.random(n) < 0.0005,
        "90% deleted": rng.random(n) >= 0.9,
    }
    k = 30
    for name, allowed in filters.items():
        scores, rows = store.search_vectors(queries, k, allowed)
        matching = np.flatnonzero(allowed)
        truth = matching[np.argsort(-(queries @ vectors[matching].T), axis=1)[:, :10]]
        returned = (rows >= 0).sum(axis=1)
        assert (returned == min(k, len(matching))).all(), (name, returned)
        assert allowed[rows[rows >= 0]].all(), name
        recall = np.mean([len(set(r[:10]) & set(t)) / len(t) for r, t in zip(rows, truth)])
        assert recall >= 0.95, (name, recall)
