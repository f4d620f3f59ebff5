"""MilvusVectorStore against a real Milvus 2.3.5 standalone server, checked against FAISS.

Run with ``pytest -m milvus`` after ``pip install -e '.[milvus]'``; skipped when the
``milvus`` or ``pymilvus`` package is missing. The server (tests/milvus_server.py) runs on
free loopback ports for this module only and must leave no process behind.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import numpy as np
import pytest
from conftest import CORPUS_DIR

pytestmark = pytest.mark.milvus

for _package in ("pymilvus", "milvus"):  # milvus: the server's launcher, milvus-server
    pytest.importorskip(
        _package, reason=f"Milvus tests need the {_package} package: pip install -e '.[milvus]'"
    )


from indexer.chunking import Chunker  # noqa: E402
from indexer.dense.milvus_client import (  # noqa: E402
    MISSING_TS,
    MilvusVectorStore,
    filter_expression,
)
from indexer.documents import Article, searchable_text  # noqa: E402
from indexer.sources import read_articles  # noqa: E402

QUERIES = [
    "which Palembang programs won 2020 awards",
    "harga cabai naik di pasar",
    "jembatan Ampera",
    "banjir di Palembang",
    "tim sepak bola menang",
    "vaksinasi dan layanan kesehatan",
]
UNDATED = 3  # the first articles get no date, to check how date filters treat them
TOP = 10
TS = datetime.fromisoformat  # ISO -> datetime; .timestamp() as retrieval.Filters does


class Corpus:
    """~35 chunks of corpus/articles.jsonl with their keys, vectors and metadata arrays."""

    def __init__(self, embedder) -> None:
        articles = [a for a in read_articles([CORPUS_DIR]) if isinstance(a, Article)]
        undated = {a.id for a in articles[:UNDATED]}
        chunker = Chunker()
        rows = [(article, chunk) for article in articles for chunk in chunker.split(article)]
        self.texts = [searchable_text(a.title, c.text) for a, c in rows]
        self.vectors = embedder.embed_passages(self.texts)
        # Keys that are neither row numbers nor small: what a caller's chunk keys may be.
        self.keys = np.arange(len(rows), dtype=np.int64) * 1_000_003 + 7_000_000_000
        self.article_ids = [a.id for a, _ in rows]
        self.published = [
            None if a.id in undated or a.published is None else a.published.timestamp()
            for a, _ in rows
        ]
        self.sources = [a.source or "" for a, _ in rows]
        self.categories = [a.category or "" for a, _ in rows]
        self.queries = embedder.embed_queries(QUERIES)

    def __len__(self) -> int:
        return len(self.keys)

    def upsert_into(self, store: MilvusVectorStore) -> None:
        store.upsert(
            self.keys,
            self.vectors,
            self.article_ids,
            self.published,
            self.sources,
            self.categories,
        )

    def mask(self, published_from=None, published_to=None, source=None, category=None):
        """The FAISS side's filter semantics (service.retrieval.Filters.mask)."""
        published = np.array([np.nan if p is None else p for p in self.published])
        allowed = np.ones(len(self), dtype=bool)
        if published_from is not None:
            allowed &= published >= published_from
        if published_to is not None:
            allowed &= published <= published_to
        if source is not None:
            wanted = {v.casefold() for v in ([source] if isinstance(source, str) else source)}
            allowed &= np.array([s.casefold() in wanted for s in self.sources])
        if category is not None:
            wanted = {v.casefold() for v in ([category] if isinstance(category, str) else category)}
            allowed &= np.array([c.casefold() in wanted for c in self.categories])
        return allowed

    def faiss_search(self, k: int, allowed: np.ndarray | None = None):
        """Exact top-k with FAISS IndexFlatIP (restricted to ``allowed`` rows), as keys."""
        import faiss

        index = faiss.IndexFlatIP(self.vectors.shape[1])
        index.add(self.vectors)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(allowed)))
            k = min(k, int(allowed.sum()))
        scores, rows = index.search(self.queries, k, params=params)
        return scores, np.where(rows >= 0, self.keys[rows], -1)


def assert_same_ranking(m_scores, m_keys, f_scores, f_keys, tol=1e-4):
    """Identical order, except that keys whose scores tie (within ``tol``) may swap."""
    assert m_keys.shape == f_keys.shape, (m_keys, f_keys)
    np.testing.assert_allclose(m_scores, f_scores, atol=tol)
    for q in range(len(m_keys)):
        for j in np.flatnonzero(m_keys[q] != f_keys[q]):
            tied = np.abs(f_scores[q] - m_scores[q, j]) <= tol
            assert m_keys[q, j] in set(f_keys[q][tied]), (q, j, m_keys[q], f_keys[q])


@pytest.fixture(scope="module")
def server(milvus):
    return milvus


@pytest.fixture(scope="module")
def corpus(embedder) -> Corpus:
    return Corpus(embedder)


def new_store(server, corpus) -> MilvusVectorStore:
    return MilvusVectorStore(server.uri, f"chunks_{uuid.uuid4().hex[:12]}", corpus.vectors.shape[1])


@pytest.fixture(scope="module")
def store(server, corpus):
    s = new_store(server, corpus)
    corpus.upsert_into(s)
    yield s
    s.drop()
    s.close()


@pytest.fixture
def scratch(server, corpus):
    """A collection of its own for a test that changes it."""
    s = new_store(server, corpus)
    corpus.upsert_into(s)
    yield s
    s.drop()
    s.close()


def test_round_trip_matches_faiss(store, corpus):
    assert 25 <= len(corpus) <= 60
    assert store.count() == len(corpus)
    assert np.array_equal(store.ids(), np.sort(corpus.keys))
    assert store.article_ids() == set(corpus.article_ids)
    scores, keys = store.search(corpus.queries, TOP)
    assert_same_ranking(scores, keys, *corpus.faiss_search(TOP))
    # the scores are cosines of normalized vectors: a stored vector finds itself first
    self_scores, self_keys = store.search(corpus.vectors[:5], 1)
    assert np.array_equal(self_keys[:, 0], corpus.keys[:5])
    np.testing.assert_allclose(self_scores[:, 0], 1.0, atol=1e-4)
    meta = store.metadata(corpus.keys[:UNDATED])
    assert meta[int(corpus.keys[0])]["published_ts"] == MISSING_TS


FILTERS = [
    {"published_from": TS("2021-01-01T00:00:00+07:00").timestamp()},
    {"published_to": TS("2021-06-30T23:59:59+07:00").timestamp()},
    {
        "published_from": TS("2020-01-01T00:00:00+07:00").timestamp(),
        "published_to": TS("2022-12-31T23:59:59+07:00").timestamp(),
    },
    {"source": "kabar NUSANTARA"},
    {"category": "pemerintahan"},
    {"category": "Ekonomi", "published_from": TS("2019-01-01T00:00:00+00:00").timestamp()},
    {"source": "Harian Pagi", "category": "Olahraga"},
    {"source": "no such outlet"},
    {"category": ("Ekonomi", "olahraga", "no such section")},  # any of several values
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f))
def test_filters_are_pushed_down_like_the_faiss_mask(store, corpus, filters):
    allowed = corpus.mask(**filters)
    scores, keys = store.search(corpus.queries, TOP, **filters)
    if not allowed.any():
        assert keys.shape == (len(QUERIES), 0)
        return
    assert_same_ranking(scores, keys, *corpus.faiss_search(TOP, allowed))
    allowed_keys = set(corpus.keys[allowed])
    assert set(keys[keys >= 0]) <= allowed_keys
    if any(k.startswith("published") for k in filters):  # undated chunks never pass
        undated = {k for k, p in zip(corpus.keys, corpus.published) if p is None}
        assert undated and not undated & set(keys.ravel())


def test_filters_reach_every_match(store, corpus):
    """k above the number of matches: exactly the matching chunks come back."""
    for filters in FILTERS[:5]:
        allowed = corpus.mask(**filters)
        _, keys = store.search(corpus.queries[:1], len(corpus), **filters)
        assert sorted(keys[0][keys[0] >= 0]) == sorted(corpus.keys[allowed])


def test_filter_expression_quotes_values():
    expr = filter_expression(source='Suara "Timur" \\ Ü', category=None)
    assert expr == '(source == "suara \\"timur\\" \\\\ ü")'
    assert filter_expression() == ""
    assert "published_ts != -1e+18" in filter_expression(published_to=0.0)
    # event filters arrive as the ids of the articles that pass them (IndexStore.pushdown)
    expr = filter_expression(category="Hukum", article_ids=["nq-1", 'a"b'])
    assert expr == '(category == "hukum") and (article_id in ["nq-1", "a\\"b"])'
    assert filter_expression(source=["A", "b"]) == '(source in ["a", "b"])'


def test_delete_by_article_id(scratch, corpus):
    _, keys = scratch.search(corpus.queries[:1], 1)
    top_article = corpus.article_ids[int(np.flatnonzero(corpus.keys == keys[0, 0])[0])]
    removed = {k for k, a in zip(corpus.keys, corpus.article_ids) if a == top_article}
    scratch.delete([top_article, "never-indexed"])
    assert scratch.count() == len(corpus) - len(removed)
    assert top_article not in scratch.article_ids()
    _, after = scratch.search(corpus.queries, len(corpus))
    assert not removed & set(after.ravel())
    # and so with a filter that the deleted chunks would pass
    article = next(i for i, a in enumerate(corpus.article_ids) if a == top_article)
    _, filtered = scratch.search(corpus.queries, len(corpus), source=corpus.sources[article])
    assert not removed & set(filtered.ravel())


def test_quoted_ids_and_values_round_trip(scratch, corpus):
    odd_id, odd_source = 'nq-"quoted" \\ id ü', 'Suara "Timur" \\ Ü'
    key = np.array([42], dtype=np.int64)
    scratch.upsert(key, corpus.queries[:1], [odd_id], [None], [odd_source], ["Kategori"])
    _, keys = scratch.search(corpus.queries[:1], 3, source='SUARA "timur" \\ ü')
    assert keys.tolist() == [[42]]
    scratch.delete([odd_id])
    assert scratch.count() == len(corpus)
    assert odd_id not in scratch.article_ids()


def test_upsert_replaces_an_existing_key_and_count_is_exact(scratch, corpus):
    key = corpus.keys[7]
    old_vector = corpus.vectors[7:8]
    new_vector = corpus.queries[2:3]  # a vector no chunk has
    scratch.upsert([key], new_vector, ["replacement"], [1.7e9], ["Baru"], ["Lain"])
    assert scratch.count() == len(corpus)  # replaced, not added
    scores, keys = scratch.search(new_vector, 1)
    assert keys[0, 0] == key and scores[0, 0] == pytest.approx(1.0, abs=1e-4)
    meta = scratch.metadata([key])[int(key)]
    assert (meta["article_id"], meta["source"], meta["category"]) == ("replacement", "baru", "lain")
    assert meta["published_ts"] == pytest.approx(1.7e9)
    # the old vector is gone: it no longer finds key 7 at cosine 1
    scores, keys = scratch.search(old_vector, 1)
    assert not (keys[0, 0] == key and scores[0, 0] > 0.9999)
    assert set(scratch.search(new_vector, 1, source="baru")[1].ravel()) == {key}

    scratch.delete_keys(corpus.keys[:4])
    assert scratch.count() == len(corpus) - 4
    assert np.array_equal(scratch.ids(), np.sort(corpus.keys[4:]))
    scratch.upsert(
        corpus.keys[:2], corpus.vectors[:2], ["a", "b"], [None, None], ["", ""], ["", ""]
    )
    assert scratch.count() == len(corpus) - 2


def test_reopen_checks_dimension(store, server, corpus):
    again = MilvusVectorStore(server.uri, store.collection, corpus.vectors.shape[1])
    assert again.count() == len(corpus)
    again.close()
    with pytest.raises(ValueError, match="holds"):
        MilvusVectorStore(server.uri, store.collection, corpus.vectors.shape[1] + 1)
