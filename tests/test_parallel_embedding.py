"""`newsqa index --workers N`: chunk embedding spread over worker processes (indexer/parallel.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS_DIR

from indexer.chunking import Chunker
from indexer.documents import Article, searchable_text
from indexer.parallel import embed_passages_parallel, threads_per_worker
from indexer.pipeline import build_index
from indexer.sources import read_articles
from indexer.store import IndexStore
from service.retrieval import HybridRetriever

QUERIES = [
    "which Palembang programs won 2020 awards",
    "harga cabai naik",
    "jembatan Ampera",
    "banjir di Palembang",
]


@pytest.fixture(scope="module")
def chunk_texts() -> list[str]:
    articles = [a for a in read_articles([CORPUS_DIR]) if isinstance(a, Article)]
    chunker = Chunker()
    texts = [searchable_text(a.title, c.text) for a in articles for c in chunker.split(a)]
    return texts[:40]


def test_two_workers_give_the_single_process_vectors(chunk_texts, embedder):
    assert len(chunk_texts) >= 30
    single = embedder.embed_passages(chunk_texts)
    done: list[int] = []
    parallel = embed_passages_parallel(
        chunk_texts, embedder.config, workers=2, batch=16, on_batch=done.append
    )
    assert parallel.dtype == np.float32 and parallel.shape == single.shape
    np.testing.assert_allclose(np.linalg.norm(parallel, axis=1), 1.0, atol=1e-4)
    cosines = (single * parallel).sum(axis=1)
    assert cosines.min() > 0.9999, cosines.min()
    assert sum(done) == len(chunk_texts) and len(done) == -(-len(chunk_texts) // 16)
    assert embed_passages_parallel([], embedder.config, workers=2).shape == (0, single.shape[1])


def test_workers_share_the_cores(embedder, settings):
    assert threads_per_worker(1) >= threads_per_worker(2) >= 1
    assert threads_per_worker(10_000) == 1
    rebuilt = embedder.config  # what the workers load
    assert (rebuilt.name, rebuilt.batch_size, rebuilt.precision) == (
        settings.embed_model,
        settings.embed_batch_size,
        embedder.precision,
    )
    assert (Path(rebuilt.path) / "config.json").is_file()  # built already: workers only load
    with pytest.raises(ValueError):
        embed_passages_parallel(["x"], rebuilt, workers=0)


def test_build_index_with_two_workers_answers_like_one(tmp_path, embedder):
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()][:6]
    corpus = tmp_path / "articles.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    one = build_index([corpus], tmp_path / "one", embedder)
    two = build_index([corpus], tmp_path / "two", embedder, workers=2)
    assert (two.added, two.chunks, two.articles) == (one.added, one.chunks, one.articles)
    stores = [IndexStore.open(tmp_path / name) for name in ("one", "two")]
    try:
        for query in QUERIES:
            tops = [HybridRetriever(s, embedder).retrieve(query, k=3) for s in stores]
            assert tops[0][0].article_id == tops[1][0].article_id, query
            assert tops[0][0].score == pytest.approx(tops[1][0].score, abs=1e-3)
        n = stores[0].manifest.chunks
        rows = np.arange(n)
        cosines = (stores[0].vectors_of(rows) * stores[1].vectors_of(rows)).sum(axis=1)
        assert cosines.min() > 0.9999
    finally:
        for s in stores:
            s.close()


def test_an_unwinding_caller_ends_the_workers_at_once(chunk_texts, embedder):
    """SIGTERM or Ctrl-C in `newsqa index --workers N` unwinds through the pool: leaving it
    waited for every queued batch (minutes for a corpus, thrown away). Now the workers are
    ended, not left to finish."""
    import multiprocessing

    class Stop(BaseException):
        pass

    workers: list[multiprocessing.process.BaseProcess] = []

    def stop(_: int) -> None:
        workers.extend(multiprocessing.active_children())
        raise Stop

    with pytest.raises(Stop):
        embed_passages_parallel(chunk_texts, embedder.config, workers=2, batch=1, on_batch=stop)
    assert workers
    for process in workers:
        process.join(timeout=30)
    assert [p.exitcode for p in workers] == [-15] * len(workers)  # SIGTERM, not run out
