"""Quality on the shared corpora (slow: builds real indexes of ~1,300 and ~2,000 chunks).

The floors are the quality gate in eval/thresholds.toml, the same file `newsqa eval --gate`
reads: whoever improves quality raises them there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.suite import check_gate, ensure_index, run_eval
from indexer.documents import Article

pytestmark = pytest.mark.slow
THRESHOLDS = Path(__file__).resolve().parents[1] / "eval" / "thresholds.toml"


def _print_figures(results) -> None:
    """CI prints these (`make test-slow` runs pytest -s): the closing notes quote them."""
    for name, reports in results.items():
        for report in reports:
            figures = ", ".join(f"{k}={v:.3f}" for k, v in sorted(report.values.items()))
            print(f"\n[quality] {name} {report.name}: {figures}")


def test_facqa_retrieval_and_answers(settings, shared_dir, tmp_path_factory):
    results = run_eval(
        [shared_dir / "data/news/facqa-passages.jsonl"],
        [shared_dir / "data/eval/facqa-valid.jsonl"],
        settings,
        ["hybrid"],
        index_dir=tmp_path_factory.mktemp("facqa"),
    )
    _print_figures(results)
    assert check_gate(results, THRESHOLDS, "hybrid") == []


@pytest.mark.full  # ~10 min (a 2,000-chunk index); `make test-full`, not CI
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
        corpus,
        [shared_dir / "data/eval/detik-summary-dev.jsonl"],
        settings,
        ["hybrid"],
        index_dir=index_dir,
    )
    _print_figures(results)
    assert check_gate(results, THRESHOLDS, "hybrid") == []
