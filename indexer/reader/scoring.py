"""Scoring the reader on gold passages: token F1 / EM of its best span, and how well its
no-answer margin separates a question's own passage from another question's passage."""

from __future__ import annotations

import random
import string
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from indexer.language import question_language
from indexer.openmp import on_openmp_thread
from indexer.reader.examples import (
    Example,
    in_english,
    load_passages,
    prepare_examples,
    read_jsonl,
    sample_negatives,
)
from indexer.reader.spans import Reader

_PUNCT = set(string.punctuation) | set("“”‘’«»…–—")


def normalize_answer(text: str) -> str:
    """SQuAD-style: lower case, punctuation removed, whitespace collapsed."""
    text = "".join(" " if ch in _PUNCT else ch for ch in text.lower())
    return " ".join(text.split())


def token_f1(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = Counter(pred) & Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def best_threshold(positive: Sequence[float], negative: Sequence[float]) -> tuple[float, float]:
    """The margin threshold with the best balanced accuracy (answer positives, decline
    negatives), and that accuracy."""
    if not positive or not negative:
        return 0.0, float("nan")
    values = sorted(set(positive) | set(negative))
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:])]
    best = (0.0, -1.0)
    for cut in cuts:
        acc = (
            sum(m > cut for m in positive) / len(positive)
            + sum(m <= cut for m in negative) / len(negative)
        ) / 2
        if acc > best[1] + 1e-12:
            best = (cut, acc)
    return best


# Over 50 lines on purpose: one batched pass over the pairs, then every figure from it; split, the
# parts would hand six lists around.
def evaluate_reader(
    reader: Reader,
    positives: Sequence[Example],
    negatives: Sequence[Example] = (),
    threshold: float | None = None,
    max_answer_tokens: int = 30,
    batch_pairs: int = 32,
    tune: bool = False,
) -> dict:
    """Gold-passage token F1 / EM of the best span (always answering), per question language;
    with negatives, the no-answer accuracy at ``threshold`` (or at the threshold tuned here)."""
    pairs = list(positives) + list(negatives)
    spans: list = [None] * len(pairs)
    started = time.perf_counter()
    # batches of similar lengths: less padding
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].question + pairs[i].passage))
    for i in range(0, len(order), batch_pairs):
        chunk = order[i : i + batch_pairs]
        found = reader.read_pairs(
            [pairs[j].question for j in chunk],
            [pairs[j].passage for j in chunk],
            max_answer_tokens=max_answer_tokens,
            top_k=1,
        )
        for j, spans_of_pair in zip(chunk, found):
            spans[j] = spans_of_pair
    seconds = time.perf_counter() - started
    pos_spans, neg_spans = spans[: len(positives)], spans[len(positives) :]
    by_lang: dict[str, list[tuple[float, float]]] = {}
    pos_margins = []
    pos_f1 = []
    samples = []
    for e, found in zip(positives, pos_spans):
        text = found[0].text if found else ""
        f1 = max(token_f1(text, a) for a in e.answers)
        em = max(exact_match(text, a) for a in e.answers)
        by_lang.setdefault(question_language(e.question), []).append((f1, em))
        pos_f1.append(f1)
        pos_margins.append(found[0].margin if found else float("-inf"))
        if len(samples) < 5:
            samples.append({"question": e.question, "predicted": text, "answers": e.answers})
    scores = [s for group in by_lang.values() for s in group]
    report: dict = {
        "questions": len(positives),
        "f1": mean(s[0] for s in scores),
        "em": mean(s[1] for s in scores),
        "by_language": {
            lang: {"questions": len(g), "f1": mean(s[0] for s in g), "em": mean(s[1] for s in g)}
            for lang, g in sorted(by_lang.items())
        },
        "seconds": round(seconds, 2),
        "ms_per_pair": round(1000 * seconds / max(1, len(pairs)), 1),
        "samples": samples,
    }
    if negatives:
        neg_margins = [found[0].margin if found else float("-inf") for found in neg_spans]
        if tune or threshold is None:
            threshold, _ = best_threshold(pos_margins, neg_margins)
        answered = [m > threshold for m in pos_margins]
        f1_answered = [f1 if a else 0.0 for f1, a in zip(pos_f1, answered)]
        report.update(
            {
                "negatives": len(negatives),
                "no_answer_threshold": threshold,
                "no_answer_accuracy": mean(m <= threshold for m in neg_margins),
                "answered_rate": mean(answered),
                "f1_with_abstention": mean(f1_answered),
            }
        )
    return report


def mean(values) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else float("nan")


def without_samples(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "samples"}


def evaluate_files(
    reader: Reader,
    passages_path: str | Path,
    questions_path: str | Path,
    seed: int = 13,
    limit: int | None = None,
    negatives: bool = True,
    max_answer_tokens: int = 30,
    english: bool = False,
) -> dict:
    """Gold-passage F1 / EM on a question file, and no-answer accuracy on negatives (each
    question with another question's passage) at the reader's threshold. ``english``: the
    questions rewritten in pseudo-English (``code_switch``), the cross-lingual case."""
    passages = load_passages(passages_path)
    questions = read_jsonl(questions_path)[:limit] if limit else read_jsonl(questions_path)
    examples, stats = prepare_examples(questions, passages)
    negs = sample_negatives(examples, 1.0, random.Random(seed + 2)) if negatives else []
    if english:
        examples, negs = in_english(examples), in_english(negs)
    report = on_openmp_thread(
        evaluate_reader,
        reader,
        examples,
        negs,
        threshold=reader.no_answer_threshold,
        max_answer_tokens=max_answer_tokens,
    )
    report["data_stats"] = stats
    return report
