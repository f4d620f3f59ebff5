"""Quality on the shared corpora (slow: builds real indexes of ~1,300 and ~2,000 chunks).

The floors sit at what the issue asks for, or at the measured value where the issue's target
is not met yet (README, "Retrieval quality"), so any regression fails.
"""

from __future__ import annotations

import pytest

from eval.suite import ensure_index, run_eval
from indexer.documents import Article

pytestmark = pytest.mark.slow


def _hybrid(results, name):
    (report,) = [r for r in results[name] if r.name == "hybrid"]
    return report.values


def test_facqa_retrieval_and_answers(settings, shared_dir, tmp_path_factory):
    results = run_eval(
        [shared_dir / "data/news/facqa-passages.jsonl"],
        [shared_dir / "data/eval/facqa-valid.jsonl"],
        settings,
        ["hybrid"],
        index_dir=tmp_path_factory.mktemp("facqa"),
    )
    values = _hybrid(results, "facqa-valid")
    assert values["mrr@10"] >= 0.85
    assert values["recall@10"] >= 0.955  # issue goal 0.97: not reached yet, see README
    assert values["containment"] >= 0.75
    assert values["citation_validity"] == 1.0


def test_detik_with_palembang_page(settings, embedder, shared_dir, tmp_path_factory):
    news = shared_dir / "data/news"
    index_dir = tmp_path_factory.mktemp("detik")
    corpus = [news / "detik-2025.jsonl", news / "palembang-awards-2020.txt"]
    store = ensure_index(corpus, index_dir, settings, embedder)
    assert store.manifest.duplicates == 91
    palembang: Article = store.article("palembang-awards-2020")
    assert palembang.published.date().isoformat() == "2020-11-25"
    for boilerplate in ("Advertisements", "Pos terkait", "Tinggalkan Balasan", "Alamat email"):
        assert boilerplate not in palembang.text
    results = run_eval(
        corpus, [shared_dir / "data/eval/detik-summary-dev.jsonl"], settings, ["hybrid"],
        index_dir=index_dir,
    )
    values = _hybrid(results, "detik-summary-dev")
    assert values["mrr@10"] >= 0.94
    assert values["recall@1"] >= 0.90
    assert values["citation_validity"] == 1.0
