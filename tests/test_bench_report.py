"""The bench report's wording: a figure is named for what it is computed from."""

from __future__ import annotations

from bench.run import summary_rows


def test_query_embedding_ratio_is_named_a_median_of_per_question_ratios():
    """Section 11 reports the median over questions of time ÷ that question's FLOP bound,
    shown beside the p50 time and the GFLOP at p50 tokens as if it were their ratio: 8.45 ms
    against 1.51 GFLOP at 332 GFLOP/s is 1.86, the row said 1.82."""
    embedding = {
        "over_bound_p50": 1.82,
        "time_p50_ms": 8.45,
        "gflop_at_p50_tokens": 1.51,
        "goal": 3,
        "met": True,
    }
    rows = summary_rows({"sections": {"real": {"sets": {}, "query_embedding": embedding}}})
    [(_, figure, value, _, _)] = rows
    assert "median of per-question ratios" in figure
    assert value == "1.82 (8.45 ms, 1.51 GFLOP)"
