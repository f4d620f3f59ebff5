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
