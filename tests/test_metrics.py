"""Eval metrics on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from eval import metrics


def test_recall_and_mrr_first_hit():
    ranked = ["a", "b", "c", "d"]
    assert metrics.first_relevant_rank(ranked, {"c"}) == 3
    assert metrics.recall_at(ranked, {"c"}, 1) == 0.0
    assert metrics.recall_at(ranked, {"c"}, 3) == 1.0
    assert metrics.mrr_at(ranked, {"c"}, 10) == pytest.approx(1 / 3)
    assert metrics.mrr_at(ranked, {"c"}, 2) == 0.0


def test_any_relevant_id_counts_and_duplicates_in_ranking_count_once():
    # "a" twice (two passages of one article) must not push "b" down to rank 3
    ranked = ["a", "a", "b"]
    assert metrics.first_relevant_rank(ranked, {"b", "z"}) == 2
    assert metrics.mrr_at(ranked, {"b", "z"}, 10) == 0.5


def test_no_relevant_article():
    assert metrics.recall_at(["a", "b"], set(), 10) == 0.0
    assert metrics.mrr_at(["a", "b"], {"x"}, 10) == 0.0
    assert metrics.ndcg_at(["a"], set(), 10) == 0.0
    assert metrics.first_relevant_rank([], {"x"}) is None


def test_ndcg_hand_computed():
    # relevant at ranks 1 and 3 of two relevant: (1 + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx(expected)
    assert metrics.ndcg_at(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    # ties in the ideal: a single relevant at rank 2
    assert metrics.ndcg_at(["x", "a"], {"a"}, 10) == pytest.approx(1 / math.log2(3))


def test_containment_is_case_and_space_insensitive():
    assert metrics.contains_answer("Pemenangnya   adalah\nPoltabes.", ["poltabes"]) == 1.0
    assert metrics.contains_answer("84  penumpang", ["84 penumpang"]) == 1.0
    assert metrics.contains_answer("tidak ada", ["Poltabes"]) == 0.0
    assert metrics.contains_answer(None, ["x"]) == 0.0
    assert metrics.contains_answer("x", []) == 0.0


def test_token_f1():
    # answer tokens {sekolah, anak, jalanan}, reference {anak, jalanan}: P 2/3, R 1, F1 0.8
    assert metrics.token_f1("sekolah anak jalanan", ["anak jalanan"]) == pytest.approx(0.8)
    assert metrics.token_f1("abc", ["xyz"]) == 0.0
    assert metrics.token_f1("a b", ["x", "a b"]) == pytest.approx(1.0)


def test_abstention_precision_recall():
    abstained = [True, True, False, False]
    answerable = [False, True, False, True]
    precision, recall = metrics.abstention_scores(abstained, answerable)
    assert precision == 0.5  # one of two abstentions was right
    assert recall == 0.5  # one of two unanswerable was caught
    assert metrics.abstention_scores([False], [True]) == (1.0, 1.0)


def test_percentile_nearest_rank():
    values = [10, 20, 30, 40]
    assert metrics.percentile(values, 50) == 20
    assert metrics.percentile(values, 95) == 40
    assert metrics.percentile([], 50) == 0.0


def test_bootstrap_interval_contains_mean_and_is_reproducible():
    values = [1.0] * 70 + [0.0] * 30
    low, high = metrics.bootstrap_ci(values)
    assert low < 0.7 < high
    assert (low, high) == metrics.bootstrap_ci(values)
    assert metrics.bootstrap_ci([1.0, 1.0]) == (1.0, 1.0)


def test_latency_figures_come_from_timed_questions_only():
    from eval.questions import ReferenceQuestion
    from eval.runner import QuestionResult, score

    def result(i: int, latency: float | None) -> QuestionResult:
        question = ReferenceQuestion(id=str(i), question="q", relevant=frozenset({"a"}))
        return QuestionResult(question, ["a"], "x", False, ["a"], [True], latency, {"a"})

    timed = [result(0, 30.0), result(1, 10.0), result(2, 20.0)]
    report = score("hybrid", [*timed, result(3, None), result(4, None)])
    assert report.questions == 5 and report.values["mrr@10"] == 1.0
    assert report.values["latency_p50_ms"] == 20.0  # nearest rank over the 3 timed ones
    assert report.values["latency_p95_ms"] == 30.0
