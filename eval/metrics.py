"""Pure metric functions of (ranked ids, relevant ids) and of (answer, reference answers).

Ranked lists may repeat an id (several passages of one article); only its first occurrence
counts, so a retriever cannot score twice with the same article. The retrieval metrics follow
trec_eval's definitions (tests/test_metrics.py checks them against ranx), so that figures can be
compared with published ones: ``success_at`` is trec_eval's success (ranx's hit_rate),
``recall_at`` the share of the relevant ids found.
"""

from __future__ import annotations

import math
import random
import re
import string
import unicodedata
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


def success_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """1.0 if any relevant id is in the top k.

    The question files say "any one of them counts as a hit": a reader needs one article that
    answers, so this is the figure the quality gate holds. It used to be called recall, which
    it is not once a question has several relevant articles (``recall_at``).
    """
    rank = first_relevant_rank(ranked, relevant)
    return 1.0 if rank is not None and rank <= k else 0.0


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the relevant ids in the top k.

    Unlike ``success_at`` it shows whether a retriever finds every article on the topic (the
    evidence a list question or a generative answer needs). ``relevant`` must hold only ids
    that can be retrieved (``eval.runner.canonical_relevant``), or recall can never reach 1.
    """
    if not relevant:
        return 0.0
    return sum(item in relevant for item in _dedupe(ranked)[:k]) / len(relevant)


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
    return _best_f1(
        _WORD.findall(answer.casefold()), [_WORD.findall(r.casefold()) for r in references]
    )


def _best_f1(got: list[str], references: list[list[str]]) -> float:
    """SQuAD token F1 of ``got`` against the best of the tokenised references."""
    best = 0.0
    for want in references:
        common = sum(min(got.count(t), want.count(t)) for t in set(want))
        if common == 0:
            continue
        precision, recall = common / len(got), common / len(want)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def squad_normalize(text: str) -> str:
    """Casefold, drop punctuation, collapse whitespace: SQuAD's normalisation less its English
    article removal, so that "Rp 5 juta." and "rp 5 juta" are the same short answer while word
    order and every word still count. Unicode punctuation (curly quotes, dashes) goes too:
    scraped Indonesian news is full of it."""
    kept = (
        ch
        for ch in text.casefold()
        if ch not in string.punctuation and not unicodedata.category(ch).startswith("P")
    )
    return _SPACE.sub(" ", "".join(kept)).strip()


def exact_match(prediction: str | None, references: Sequence[str]) -> float:
    """1.0 when the short answer equals a reference after ``squad_normalize``.

    Containment (``contains_answer``) rewards a long answer that happens to hold the reference
    somewhere; a short answer must be the reference itself.
    """
    if not prediction or not references:
        return 0.0
    got = squad_normalize(prediction)
    if not got:
        return 0.0
    return 1.0 if any(squad_normalize(r) == got for r in references) else 0.0


def short_f1(prediction: str | None, references: Sequence[str]) -> float:
    """Best SQuAD token F1 of the short answer against any reference (after ``squad_normalize``):
    partial credit for a span one word too long or too short."""
    if not prediction or not references:
        return 0.0
    return _best_f1(
        squad_normalize(prediction).split(), [squad_normalize(r).split() for r in references]
    )


def list_recall(short_answers: Sequence[str], references: Sequence[str]) -> float:
    """Share of the references found, each inside some short answer (whole words, after
    ``squad_normalize``).

    For list questions ("which programs won?") every reference should be named, and one short
    answer may name several ("Poltabes dan Pangling"). Whole words, so that "15" is not found in
    "2015".
    """
    wanted = [w for w in (squad_normalize(r) for r in references) if w]
    if not wanted:
        return 0.0
    got = [f" {squad_normalize(s)} " for s in short_answers]
    return sum(any(f" {w} " in g for g in got) for w in wanted) / len(wanted)


def abstention_scores(
    abstained: Sequence[bool], answerable: Sequence[bool]
) -> tuple[float | None, float | None]:
    """Precision and recall of abstaining, where the right call is to abstain on unanswerable.

    Each is None where it is undefined: precision when the service never abstained, recall
    when no question was unanswerable. They used to be 1.0 there, so a set without
    unanswerable questions (facqa-valid) reported a perfect abstention recall it never
    measured, and a gate on it passed whatever the service did.
    """
    true_pos = sum(a and not ok for a, ok in zip(abstained, answerable))
    predicted = sum(abstained)
    actual = sum(not ok for ok in answerable)
    precision = true_pos / predicted if predicted else None
    recall = true_pos / actual if actual else None
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
