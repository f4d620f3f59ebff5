"""Pure metric functions of (ranked ids, relevant ids) and of (answer, reference answers).

Ranked lists may repeat an id (several passages of one article); only its first occurrence
counts, so a retriever cannot score twice with the same article.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def _dedupe(ranked: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def first_relevant_rank(ranked: Sequence[str], relevant: set[str]) -> int | None:
    """1-based rank of the first relevant id, or None."""
    for rank, item in enumerate(_dedupe(ranked), start=1):
        if item in relevant:
            return rank
    return None


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """1.0 if any relevant id is in the top k ("any one of them counts as a hit")."""
    rank = first_relevant_rank(ranked, relevant)
    return 1.0 if rank is not None and rank <= k else 0.0


def mrr_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    rank = first_relevant_rank(ranked, relevant)
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Binary-gain nDCG@k; the ideal ranking puts all relevant ids first."""
    if not relevant:
        return 0.0
    dcg = sum(
        1.0 / math.log2(i + 2) for i, item in enumerate(_dedupe(ranked)[:k]) if item in relevant
    )
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def normalize_answer(text: str) -> str:
    return _SPACE.sub(" ", text.casefold()).strip()


def contains_answer(answer: str | None, references: Sequence[str]) -> float:
    """1.0 when the answer contains a reference (case-insensitive, whitespace-normalised)."""
    if not answer or not references:
        return 0.0
    got = normalize_answer(answer)
    return 1.0 if any(normalize_answer(r) in got for r in references if r.strip()) else 0.0


def token_f1(answer: str | None, references: Sequence[str]) -> float:
    """Best SQuAD-style token F1 of the answer against any reference."""
    if not answer or not references:
        return 0.0
    got = _WORD.findall(answer.casefold())
    best = 0.0
    for reference in references:
        want = _WORD.findall(reference.casefold())
        common = sum(min(got.count(t), want.count(t)) for t in set(want))
        if common == 0:
            continue
        precision, recall = common / len(got), common / len(want)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of abstaining, where the right call is to abstain on unanswerable.

    Precision is 1.0 when the service never abstained (no wrong abstentions); recall is 1.0 when
    there was nothing to abstain on.
    """
    true_pos = sum(a and not ok for a, ok in zip(abstained, answerable))
    predicted = sum(abstained)
    actual = sum(not ok for ok in answerable)
    precision = true_pos / predicted if predicted else 1.0
    recall = true_pos / actual if actual else 1.0
    return precision, recall


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, math.ceil(q / 100 * len(ordered)) - 1)
    return ordered[index]


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[Sequence[float]], float] = lambda v: sum(v) / len(v),
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile-bootstrap confidence interval of ``statistic`` (seeded: reproducible)."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(
        statistic([values[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples)
    )
    return stats[int(0.025 * resamples)], stats[int(0.975 * resamples) - 1]
