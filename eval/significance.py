"""Paired significance tests between retrieval modes, per question set.

Two modes answer the same questions, so their per-question scores are paired: a randomization
test on the pairs asks whether a difference in MRR@10 is larger than swapping the two modes'
scores question by question would produce by chance. It is Fisher's randomization test as
ranx's ``compare(..., stat_test="fisher")`` runs it (Smucker et al., CIKM 2007); numpy only, so
the eval needs no dev extra (tests/test_eval_exports.py checks it against ranx).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from eval.runner import ModeReport, question_scores

PERMUTATIONS = 10_000
"""Random swaps per test: the p-value's Monte Carlo error is about 0.005 at p = 0.5."""

_BATCH = 1_000  # permutations drawn at once: bounds memory on sets of thousands of questions


def paired_randomization_test(
    a: Sequence[float], b: Sequence[float], permutations: int = PERMUTATIONS, seed: int = 0
) -> float:
    """Two-sided p-value of ``mean(a) - mean(b)`` under random swaps of each pair.

    Swapping a pair flips the sign of its difference, so each permutation is a random sign
    vector. The count includes the observed assignment ((hits + 1) / (permutations + 1)), so
    the p-value is never 0 from a finite number of draws; seeded, so a report is reproducible.
    """
    if len(a) != len(b):
        raise ValueError(f"paired scores differ in length: {len(a)} and {len(b)}")
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if diffs.size == 0:
        return 1.0
    observed = abs(diffs.sum())
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, permutations, _BATCH):
        signs = rng.choice((-1.0, 1.0), size=(min(_BATCH, permutations - start), diffs.size))
        # sums rather than means, and a tolerance: the observed assignment itself must count
        hits += int(np.count_nonzero(np.abs(signs @ diffs) >= observed - 1e-9))
    return (hits + 1) / (permutations + 1)


@dataclass(frozen=True)
class Comparison:
    """Mode ``a`` against mode ``b`` on one metric, over the questions both were scored on."""

    a: str
    b: str
    metric: str
    questions: int
    mean_a: float
    mean_b: float
    p_value: float

    @property
    def difference(self) -> float:
        return self.mean_a - self.mean_b


def _paired(report: ModeReport, metric: str) -> dict[str, float]:
    """Per-question values of ``metric`` by question id (questions it applies to only)."""
    out = {}
    for result in report.results:
        value = question_scores(result).get(metric)
        if value is not None:
            out[result.question.id] = value
    return out


def compare_modes(
    reports: Sequence[ModeReport], metric: str = "mrr@10", permutations: int = PERMUTATIONS
) -> list[Comparison]:
    """Every pair of modes of one question set, in report order (empty for a single mode)."""
    comparisons = []
    for left, right in combinations(reports, 2):
        scores_a, scores_b = _paired(left, metric), _paired(right, metric)
        ids = [qid for qid in scores_a if qid in scores_b]
        a = [scores_a[qid] for qid in ids]
        b = [scores_b[qid] for qid in ids]
        comparisons.append(
            Comparison(
                a=left.name,
                b=right.name,
                metric=metric,
                questions=len(ids),
                mean_a=float(np.mean(a)) if ids else 0.0,
                mean_b=float(np.mean(b)) if ids else 0.0,
                p_value=paired_randomization_test(a, b, permutations),
            )
        )
    return comparisons


def markdown_comparisons(set_name: str, comparisons: Sequence[Comparison]) -> str:
    """A table per set for report.md: difference and p-value of each pair."""
    metric = comparisons[0].metric if comparisons else "mrr@10"
    lines = [
        f"### {set_name}: paired randomization test, {metric}",
        "",
        f"| A | B | A {metric} | B {metric} | A - B | p-value | questions |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        lines.append(
            f"| {c.a} | {c.b} | {c.mean_a:.3f} | {c.mean_b:.3f} | {c.difference:+.3f} "
            f"| {c.p_value:.4f} | {c.questions} |"
        )
    return "\n".join(lines) + "\n"
