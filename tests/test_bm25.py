"""BM25Index over bm25s: ranking, hand-computed scores, edge cases, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indexer.analyzer import analyze
from indexer.bm25 import BM25Index, CorpusStats

DOCS = [
    "Pemkot Palembang meraih dua penghargaan inovasi pelayanan publik dari Kementerian PANRB.",
    "Harga cabai dan beras naik di pasar tradisional Pekanbaru menjelang akhir tahun.",
    "Presiden menyelesaikan rapat kabinet tentang pengendalian inflasi nasional.",
    "Tim nasional sepak bola menang 2-0 atas Vietnam di Stadion Gelora Bung Karno.",
    "",
    "yang dan di dari",
]


@pytest.fixture(scope="module")
def index() -> BM25Index:
    return BM25Index.build([analyze(d) for d in DOCS])


def test_relevant_document_first(index: BM25Index):
    ids, _ = index.search(analyze("Kota mana yang meraih penghargaan inovasi pelayanan publik?"), 3)
    assert ids[0] == 0
    ids, _ = index.search(analyze("Berapa inflasi menurut rapat kabinet Presiden?"), 3)
    assert ids[0] == 2
    ids, _ = index.search(analyze("which team won at Gelora Bung Karno stadium"), 3)
    assert ids[0] == 3


def test_results_are_positive_sorted_and_typed(index: BM25Index):
    ids, scores = index.search(analyze("harga nasional"), 10)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert len(ids) == len(scores) > 0
    assert np.all(scores > 0)
    assert np.all(np.diff(scores) <= 0)
    # "harga" (also the stem of "penghargaan") is in docs 0 and 1; "nasional" in 2 and 3
    assert sorted(ids.tolist()) == [0, 1, 2, 3]


def test_hand_computed_lucene_score(index: BM25Index):
    # Lucene BM25 (bm25s "lucene"): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
    # tf part = tf / (tf + k1 * (1 - b + b * dl / avgdl)), k1 = 1.5, b = 0.75
    lengths = [len(analyze(d)) for d in DOCS]
    doc = analyze(DOCS[2])
    assert "inflasi" in doc and lengths[2] == len(doc)
    n, df, tf = len(DOCS), 1, doc.count("inflasi")
    avgdl = sum(lengths) / n
    expected = (
        math.log(1 + (n - df + 0.5) / (df + 0.5))
        * tf
        / (tf + 1.5 * (1 - 0.75 + 0.75 * lengths[2] / avgdl))
    )
    ids, scores = index.search(["inflasi"], 5)
    assert ids.tolist() == [2]
    assert scores[0] == pytest.approx(expected, rel=1e-5)


def test_empty_and_unknown_queries_give_empty_results(index: BM25Index):
    for query in ([], analyze("yang dan di"), ["tidakadadikorpus"], [""]):
        ids, scores = index.search(query, 5)
        assert ids.shape == (0,) and scores.shape == (0,)


def test_k_larger_than_corpus_and_k_zero(index: BM25Index):
    ids, _ = index.search(analyze("harga"), 1000)
    assert sorted(ids.tolist()) == [0, 1]
    ids, scores = index.search(analyze("harga"), 0)
    assert len(ids) == len(scores) == 0
    with pytest.raises(ValueError):
        index.search(analyze("harga"), -1)


def test_k_limits_results(index: BM25Index):
    ids, _ = index.search(analyze("harga nasional"), 2)
    assert len(ids) == 2


def test_duplicate_query_terms_count_once(index: BM25Index):
    once = index.search(["inflasi"], 5)
    twice = index.search(["inflasi", "inflasi"], 5)
    assert np.array_equal(once[0], twice[0]) and np.array_equal(once[1], twice[1])


def test_ties_broken_by_id():
    index = BM25Index.build([["x", "a"], ["b"], ["x", "a"], ["x", "a"]])
    ids, scores = index.search(["x"], 2)
    assert ids.tolist() == [0, 2]
    assert scores[0] == scores[1]


def test_allowed_mask_filters_results(index: BM25Index):
    allowed = np.ones(len(DOCS), dtype=bool)
    allowed[0] = False
    ids, _ = index.search(analyze("harga"), 5, allowed)
    assert ids.tolist() == [1]
    with pytest.raises(ValueError):
        index.search(analyze("harga"), 5, np.ones(3, dtype=bool))


def test_save_load_roundtrip(index: BM25Index, tmp_path):
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert len(loaded) == len(index) == len(DOCS)
    assert loaded.vocabulary_size == index.vocabulary_size
    for query in ["penghargaan inovasi", "harga nasional", "inflasi", "tidak ada", "Vietnam 2"]:
        a = index.search(analyze(query), 10)
        b = loaded.search(analyze(query), 10)
        assert np.array_equal(a[0], b[0])
        assert np.array_equal(a[1], b[1])


def test_empty_corpora(tmp_path):
    for docs in ([], [[], []]):
        index = BM25Index.build(docs)
        assert len(index) == len(docs)
        assert len(index.search(["harga"], 5)[0]) == 0
        index.save(tmp_path / str(len(docs)))
        loaded = BM25Index.load(tmp_path / str(len(docs)))
        assert len(loaded) == len(docs)
        assert len(loaded.search(["harga"], 5)[0]) == 0


def test_load_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        BM25Index.load(tmp_path / "nothing")


def test_string_query_rejected(index: BM25Index):
    with pytest.raises(TypeError):
        index.search("harga", 5)  # type: ignore[arg-type]


def test_scores_of_chosen_documents_equal_the_full_scores(index: BM25Index):
    query = analyze("penghargaan inovasi Palembang harga cabai tim nasional")
    stats = CorpusStats.of([(index, None)], query)
    full = index.scores(query, stats)
    assert full.max() > 0
    for docs in ([0, 1, 2, 3, 4, 5], [3, 0], [5], []):
        assert np.allclose(index.scores_of(np.array(docs), query, stats), full[docs])


def _selected(scores: np.ndarray, n: int, mask: np.ndarray | None) -> np.ndarray:
    """The reference top ``n``: every document scored, then a selection."""
    matched = np.flatnonzero((scores > 0) & (True if mask is None else mask))
    return matched[np.argsort(-scores[matched], kind="stable")[:n]]


def test_top_equals_selecting_from_every_score(shared_dir, monkeypatch):
    """MaxScore skips work, never results: on real news and real questions, with and without
    a mask, the top n is the set a full scoring selects (ties at the n-th score aside)."""
    import json

    news = shared_dir / "data" / "news" / "facqa-passages.jsonl"
    texts = [json.loads(line)["text"] for line in news.open(encoding="utf-8")]
    index = BM25Index.build([analyze(t) for t in texts])
    questions = shared_dir / "data" / "eval" / "facqa-valid.jsonl"
    queries = [analyze(json.loads(line)["question"]) for line in questions.open()][:120]
    finished = []  # how often the pruned terms were added for the hopeful documents only
    scores_of = index.scores_of
    monkeypatch.setattr(index, "scores_of", lambda *a: finished.append(1) or scores_of(*a))
    mask = np.random.default_rng(0).random(index.num_docs) < 0.5
    for query in queries:
        stats = CorpusStats.of([(index, None)], query)
        full = index.scores(query, stats)
        for n, m in [(1, None), (10, None), (30, None), (10, mask)]:
            docs, scores = index.top(query, n, stats, m)
            expected = _selected(full, n, m)
            assert len(docs) == len(expected), query
            assert np.allclose(np.sort(scores), np.sort(full[expected]), atol=1e-5), query
            assert np.allclose(scores, full[docs], atol=1e-5), query
            assert m is None or m[docs].all()
    assert len(finished) > len(queries)  # the pruning path ran, not just full scoring
