"""An index directory served from Milvus (NEWSQA_VECTOR_STORE=milvus) against the real server.

The collection must hold exactly the live chunks of the committed generation after every kind
of change, dense search through Milvus must rank like the FAISS segments of the same index, and
a generation Milvus does not hold must be refused rather than served half-empty. Run with
``make test-milvus`` (``pytest -m milvus``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS_DIR, SHARED_DIR, write_jsonl

from eval import metrics
from eval.questions import load_questions
from eval.runner import canonical_relevant
from indexer.pipeline import build_index
from indexer.store import DenseConfig, IndexStore
from newsqa.errors import IncompatibleIndexError, IndexWriteError, VectorStoreError
from service.index_open import dense_config
from service.retrieval import Filters, HybridRetriever

pytestmark = pytest.mark.milvus
pytest.importorskip("pymilvus", reason="Milvus tests need: pip install -e '.[milvus]'")

from indexer.dense.milvus import MilvusBackend, open_collection  # noqa: E402

DETIK = SHARED_DIR / "data" / "news" / "detik-2025.jsonl"
# How many detik articles the reindex test indexes (0: all 1,000+, about 6 minutes of
# embedding here; the closing figures of issue 9 were measured that way).
DETIK_LIMIT = int(os.environ.get("NEWSQA_TEST_DETIK_LIMIT", "80"))
QUERIES = ["which Palembang programs won 2020 awards", "harga cabai naik", "banjir di Palembang"]


@pytest.fixture(scope="module")
def on_milvus(milvus, settings) -> DenseConfig:
    return dense_config(
        settings.model_copy(update={"vector_store": "milvus", "milvus_uri": milvus.uri})
    )


@pytest.fixture(scope="module")
def on_faiss(settings) -> DenseConfig:
    return dense_config(settings.model_copy(update={"vector_store": "faiss"}))


def collection_of(index_dir: Path, on_milvus: DenseConfig):
    manifest = IndexStore.open(index_dir, dense=on_milvus, eager=False).manifest
    return open_collection(
        on_milvus.milvus_uri, manifest.milvus_collection, manifest.dimension, "FLAT", 30.0
    )


def assert_mirrors(index_dir: Path, on_milvus: DenseConfig) -> IndexStore:
    """The collection holds exactly the live chunk keys of the committed generation."""
    store = IndexStore.open(index_dir, dense=on_milvus)
    assert isinstance(store.backend, MilvusBackend)
    expected = np.sort(store.row_keys[store.live])
    collection = collection_of(index_dir, on_milvus)
    assert collection.count() == store.manifest.chunks == len(expected)
    assert np.array_equal(collection.ids(), expected)
    assert collection.article_ids() == set(store.article_ids())
    return store


def test_detik_reindex_with_changes_and_removals_leaves_exactly_the_live_rows(
    tmp_path, embedder, on_milvus
):
    records = [json.loads(line) for line in DETIK.open()]
    if DETIK_LIMIT:
        records = records[:DETIK_LIMIT]
    index_dir = tmp_path / "detik"
    first = build_index(
        [write_jsonl(tmp_path / "a.jsonl", records)], index_dir, embedder, dense=on_milvus
    )
    before = assert_mirrors(index_dir, on_milvus)
    print(f"[milvus-detik] {first.manifest.articles} articles, {first.manifest.chunks} chunks")

    changed = records[5:15]  # 10 changed texts
    removed = {r["id"] for r in records[20:25]}  # 5 removed
    edited = {r["id"] for r in changed}
    later = [
        {**r, "text": r["text"] + " Pembaruan: redaksi menambahkan keterangan baru."}
        if r["id"] in edited
        else r
        for r in records
        if r["id"] not in removed
    ]
    report = build_index(
        [write_jsonl(tmp_path / "b.jsonl", later)],
        index_dir,
        embedder,
        prune=True,
        dense=on_milvus,
    )
    assert (report.updated, report.removed) == (10, 5)
    after = assert_mirrors(index_dir, on_milvus)
    gone = set(before.row_keys[before.live]) - set(after.row_keys[after.live])
    new = set(after.row_keys[after.live]) - set(before.row_keys[before.live])
    stale_articles = {
        before.row_article[r] for r in np.flatnonzero(before.live) if before.row_keys[r] in gone
    }
    assert stale_articles == edited | removed
    assert {
        after.row_article[r] for r in np.flatnonzero(after.live) if after.row_keys[r] in new
    } == edited
    assert removed.isdisjoint(collection_of(index_dir, on_milvus).article_ids())
    print(
        f"[milvus-detik] reindex: 10 changed, 5 removed -> {after.manifest.chunks} rows "
        f"(-{len(gone)} +{len(new)}), collection ids equal the live keys"
    )


@pytest.fixture(scope="module")
def corpus_on_milvus(tmp_path_factory, embedder, on_milvus) -> Path:
    index_dir = tmp_path_factory.mktemp("corpus-milvus") / "index"
    build_index([CORPUS_DIR], index_dir, embedder, dense=on_milvus)
    return index_dir


def test_dense_search_through_milvus_ranks_like_faiss(
    corpus_on_milvus, embedder, on_milvus, on_faiss
):
    milvus = IndexStore.open(corpus_on_milvus, dense=on_milvus)
    faiss = IndexStore.open(corpus_on_milvus, dense=on_faiss)
    vectors = embedder.embed_queries(QUERIES)
    for filters in (Filters(), Filters(category="Ekonomi"), Filters(source="nope")):
        allowed = filters.mask(faiss)
        m_scores, m_rows = milvus.search_vectors(vectors, 8, allowed, filters.pushdown())
        f_scores, f_rows = faiss.search_vectors(vectors, 8, allowed)
        np.testing.assert_allclose(m_scores, f_scores, atol=1e-4)
        assert m_rows.shape == f_rows.shape
    rows = np.flatnonzero(faiss.live)[:7]
    np.testing.assert_allclose(milvus.vectors_of(rows), faiss.vectors_of(rows), atol=1e-6)
    for question in QUERIES:
        by_milvus = HybridRetriever(milvus, embedder).retrieve(question, k=5)
        by_faiss = HybridRetriever(faiss, embedder).retrieve(question, k=5)
        assert [h.article_id for h in by_milvus] == [h.article_id for h in by_faiss]
    # the service never loaded the FAISS files: its vectors are in Milvus
    assert not any(
        seg.vectors_loaded for seg in IndexStore.open(corpus_on_milvus, dense=on_milvus).segments
    )


def test_a_generation_milvus_does_not_hold_is_refused_until_synced(
    tmp_path, embedder, on_milvus, on_faiss
):
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()][:6]
    index_dir = tmp_path / "index"
    build_index(
        [write_jsonl(tmp_path / "a.jsonl", records[:4])], index_dir, embedder, dense=on_faiss
    )
    with pytest.raises(IncompatibleIndexError, match="not in Milvus"):
        IndexStore.open(index_dir, dense=on_milvus)
    build_index(
        [write_jsonl(tmp_path / "a.jsonl", records[:4])], index_dir, embedder, dense=on_milvus
    )  # nothing changed: the commit uploads the whole index
    assert_mirrors(index_dir, on_milvus)
    # a FAISS-mode commit leaves Milvus behind: refused again, then repaired
    build_index(
        [write_jsonl(tmp_path / "b.jsonl", records[4:6])], index_dir, embedder, dense=on_faiss
    )
    with pytest.raises(IncompatibleIndexError, match="holds generation"):
        IndexStore.open(index_dir, dense=on_milvus)
    build_index(
        [write_jsonl(tmp_path / "b.jsonl", records[4:6])], index_dir, embedder, dense=on_milvus
    )
    assert assert_mirrors(index_dir, on_milvus).manifest.articles == 6


def test_drift_between_milvus_and_the_index_is_repaired_by_the_next_commit(
    tmp_path, embedder, on_milvus
):
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()][:6]
    index_dir = tmp_path / "index"
    build_index(
        [write_jsonl(tmp_path / "a.jsonl", records[:4])], index_dir, embedder, dense=on_milvus
    )
    store = assert_mirrors(index_dir, on_milvus)
    # A commit that fails after its Milvus upserts (here: its generation file cannot be
    # written) leaves rows of no generation in the collection; readers ignore them.
    (index_dir / f".gen-{store.manifest.generation + 1:06d}.json.tmp").mkdir()
    with pytest.raises(IndexWriteError, match="committed index is unchanged"):
        build_index(
            [write_jsonl(tmp_path / "b.jsonl", records[4:5])],
            index_dir,
            embedder,
            dense=on_milvus,
        )
    (index_dir / f".gen-{store.manifest.generation + 1:06d}.json.tmp").rmdir()
    collection = collection_of(index_dir, on_milvus)
    assert collection.count() > store.manifest.chunks
    hits = HybridRetriever(IndexStore.open(index_dir, dense=on_milvus), embedder).retrieve(
        records[4]["title"], k=5
    )
    assert records[4]["id"] not in {h.article_id for h in hits}
    # Rows lost by the server: found by the count check of the next commit.
    collection.delete_keys(store.row_keys[:2])
    build_index(
        [write_jsonl(tmp_path / "c.jsonl", records[5:6])], index_dir, embedder, dense=on_milvus
    )
    assert assert_mirrors(index_dir, on_milvus).manifest.articles == 5


def test_unreachable_milvus_fails_cleanly(tmp_path, embedder, on_milvus, corpus_on_milvus):
    down = replace(on_milvus, milvus_uri="http://127.0.0.1:9", milvus_timeout=3.0)
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()][:2]
    with pytest.raises(IndexWriteError, match="Milvus at http://127.0.0.1:9"):
        build_index(
            [write_jsonl(tmp_path / "a.jsonl", records)],
            tmp_path / "index",
            embedder,
            dense=down,
        )
    with pytest.raises(VectorStoreError, match="Milvus at http://127.0.0.1:9"):
        IndexStore.open(corpus_on_milvus, dense=down)


def test_facqa_retrieval_through_milvus_matches_faiss(
    tmp_path_factory, embedder, on_milvus, on_faiss
):
    """Issue 9's acceptance on facqa-valid: MRR@10 and Recall@10 within 0.01 of FAISS."""
    index_dir = tmp_path_factory.mktemp("facqa-milvus") / "index"
    build_index(
        [SHARED_DIR / "data" / "news" / "facqa-passages.jsonl"],
        index_dir,
        embedder,
        dense=on_milvus,
    )
    questions = load_questions(SHARED_DIR / "data" / "eval" / "facqa-valid.jsonl")
    figures = {}
    for name, dense in (("faiss", on_faiss), ("milvus", on_milvus)):
        store = IndexStore.open(index_dir, dense=dense)
        retriever = HybridRetriever(store, embedder)
        mrr = success = 0.0
        for q in questions:
            ranked = [h.article_id for h in retriever.retrieve(q.question, k=10)]
            relevant = canonical_relevant(store, q.relevant)
            mrr += metrics.mrr_at(ranked, relevant, 10)
            success += metrics.success_at(ranked, relevant, 10)
        figures[name] = (mrr / len(questions), success / len(questions))
    print(
        f"[milvus-facqa] MRR@10 / success@10: faiss {figures['faiss']}, milvus {figures['milvus']}"
    )
    assert abs(figures["milvus"][0] - figures["faiss"][0]) <= 0.01
    assert abs(figures["milvus"][1] - figures["faiss"][1]) <= 0.01


def test_a_lost_collection_is_refused_by_readers_and_refilled_by_the_next_index(
    tmp_path, embedder, on_milvus
):
    """A collection dropped (or lost with the server's data) under a committed index: a reader
    opened afterwards made an empty one in its place and answered every search 200 with no
    dense hits, and `newsqa index` with nothing changed left it empty. Now the reader refuses
    it, naming the collection, and the next index run uploads the rows again."""
    from indexer.dense import milvus as milvus_module

    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()][:4]
    index_dir = tmp_path / "index"
    source = write_jsonl(tmp_path / "a.jsonl", records)
    build_index([source], index_dir, embedder, dense=on_milvus)
    collection = collection_of(index_dir, on_milvus)
    collection.drop()
    # a fresh process: no client of this collection cached
    milvus_module._collections.pop((collection.uri, collection.collection))
    with pytest.raises(VectorStoreError, match=f"no collection {collection.collection}"):
        IndexStore.open(index_dir, dense=on_milvus)
    assert not collection.client.has_collection(collection.collection)
    build_index([source], index_dir, embedder, dense=on_milvus)  # nothing changed
    assert_mirrors(index_dir, on_milvus)


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
import numpy as np
from indexer.store import DenseConfig, IndexWriter

index_dir, model, dimension, uri = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
writer = IndexWriter(Path(index_dir), model, dimension, dense=DenseConfig("milvus", uri))
# rows of a commit that never came (keys no real chunk has), then the kill
keys = np.array([1, 2], dtype=np.int64)
writer.mirror.store.upsert(
    keys, np.ones((2, dimension), np.float32), ["ghost"] * 2, [0.0] * 2, ["x"] * 2, ["y"] * 2
)
writer.mirror.count()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_first_index_killed_before_its_commit_leaves_no_orphan_collection(
    tmp_path, embedder, on_milvus
):
    """A first `newsqa index` killed (SIGKILL, OOM) after creating its Milvus collection and
    before its commit left that collection on the server for good: the index directory
    named none, and each later first run made another under a new random name. Now the
    writer names its collection in the index directory before creating it, and the next run
    takes it over (dropping the dead run's rows)."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=on_milvus.milvus_uri)
    before = set(client.list_collections())
    index_dir = tmp_path / "index"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_WRITER,
            str(index_dir),
            embedder.name,
            str(embedder.dimension),
            on_milvus.milvus_uri,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    made = set(client.list_collections()) - before
    assert len(made) == 1 and not (index_dir / "CURRENT").exists()
    records = [json.loads(line) for line in (CORPUS_DIR / "articles.jsonl").open()][:3]
    build_index([write_jsonl(tmp_path / "a.jsonl", records)], index_dir, embedder, dense=on_milvus)
    assert set(client.list_collections()) - before == made  # taken over, none made
    store = assert_mirrors(index_dir, on_milvus)  # the dead run's rows are gone
    assert {store.manifest.milvus_collection} == made
    assert not (index_dir / ".milvus-pending").exists()
    client.close()


@pytest.mark.parametrize("index_type", ["IVF_FLAT", "HNSW"])
def test_approximate_collection_returns_k_rows_under_selective_filters_and_deletes(
    milvus, index_type
):
    """IVF_FLAT searched nprobe=32 of its 1,024 clusters whatever the filter, so a filter
    keeping few rows found few of them there: 0.5% of 50k rows gave 10 of 30 rows (recall@10
    0.78 against exact search), 0.05% one row, a topic's 5% 18 of 30 (0.71), and with 90% of
    the rows deleted worse still. Every filter (pushed down, as the service does) must give
    min(k, matching) allowed rows with the true best among them, on HNSW as on IVF_FLAT."""
    import uuid

    from bench.synthetic import clustered_vectors
    from indexer.dense.base import MetadataFilter
    from indexer.dense.milvus_client import MilvusVectorStore

    n, dim, k = 20_000, 64, 30
    rng = np.random.default_rng(3)
    vectors = clustered_vectors(n, dim, seed=1)
    keys = np.arange(n, dtype=np.int64) * 7 + 11
    draw = rng.random(n)  # nested shares of rows at random: a, a+b, a+b+c, a+b+c+d
    category = np.select([draw < 0.0005, draw < 0.005, draw < 0.05, draw < 0.5], list("abcd"), "e")
    # a section is a region of the vector space, not a random sample of rows
    topic = vectors @ rng.standard_normal(dim).astype(np.float32)
    source = np.select(
        [topic >= np.quantile(topic, 0.995), topic >= np.quantile(topic, 0.95)], ["t1", "t2"], "t3"
    )
    queries = vectors[rng.integers(n, size=100)] + 0.04 * rng.standard_normal((100, dim))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    filters = {
        "every row": MetadataFilter(),
        "50% of rows": MetadataFilter(category=tuple("abcd")),
        "5% of rows": MetadataFilter(category=tuple("abc")),
        "0.5% of rows": MetadataFilter(category=tuple("ab")),
        "0.05% of rows": MetadataFilter(category=("a",)),
        "5% of a topic": MetadataFilter(source=("t1", "t2")),
        "0.5% of a topic": MetadataFilter(source=("t1",)),
    }

    def exact(q: np.ndarray, k: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The segments' exact search, as ``open_backend`` gives it (FAISS flat)."""
        rows = np.flatnonzero(mask)
        scores = q @ vectors[rows].T
        best = np.argsort(-scores, axis=1)[:, :k]
        return np.take_along_axis(scores, best, axis=1), rows[best]

    store = MilvusVectorStore(milvus.uri, f"filtered_{uuid.uuid4().hex[:12]}", dim, index_type)
    try:
        store.upsert(keys, vectors, [str(key) for key in keys], [None] * n, source, category)
        # seal the rows and wait for their index: growing rows are searched another way
        store.client.flush(store.collection)
        for _ in range(600):
            if store.client.describe_index(store.collection, "vector")["indexed_rows"] >= n:
                break
            time.sleep(0.1)
        store.client.release_collection(store.collection)
        store.client.load_collection(store.collection)
        deleted = rng.random(n) < 0.9
        for live in (np.ones(n, dtype=bool), ~deleted):
            if not live.all():
                store.delete_keys(keys[~live])
                store.count()  # barrier: the deletes are visible
            backend = MilvusBackend(
                store, keys, live, dim, lambda rows: vectors[rows], local_search=exact
            )
            for name, where in filters.items():
                allowed = live & np.isin(category, where.category or []) | live & np.isin(
                    source, where.source or []
                )
                if where == MetadataFilter():
                    allowed = live
                _, rows = backend.search(queries, k, allowed, where)
                matching = np.flatnonzero(allowed)
                truth = matching[np.argsort(-(queries @ vectors[matching].T), axis=1)[:, :10]]
                case = (name, int(live.sum()))
                returned = (rows >= 0).sum(axis=1)
                assert (returned == min(k, len(matching))).all(), (case, returned)
                assert allowed[rows[rows >= 0]].all(), case
                if len(matching):  # 90% deleted leaves ~1 row of the 0.05% filter, or none
                    hits = [len(set(r[:10]) & set(t)) / len(t) for r, t in zip(rows, truth)]
                    assert np.mean(hits) >= 0.95, (case, np.mean(hits))
    finally:
        store.drop()
        store.close()
