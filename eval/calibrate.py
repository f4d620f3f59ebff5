"""Calibrate the abstention threshold (NEWSQA_ABSTAIN_THRESHOLD).

The shared question sets hold no unanswerable questions, so negatives are made by asking one
corpus's questions over another corpus: facqa questions over the detik index and detik
questions over the facqa index have no answer there, while each set over its own corpus does.
The answer builder's confidence (cosine of the best evidence sentence with the question) is
collected for both. Printed: the threshold with the best balanced accuracy, and the one that
still answers a target share of answerable questions (``--answer-rate``, default 0.98), which
is the shipped default: wrongly abstaining on an answerable question costs a user more than
showing a weak answer that lists its evidence.

    python -m eval.calibrate --index facqa=DIR --index detik=DIR \
        --questions facqa=../shared/data/eval/facqa-train.jsonl \
        --questions detik=../shared/data/eval/detik-summary-dev.jsonl
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from eval.questions import load_questions
from indexer.embedder import Embedder
from indexer.store import IndexStore
from newsqa.settings import get_settings
from service.answer import AnswerBuilder
from service.retrieval import HybridRetriever


def confidences(store: IndexStore, embedder: Embedder, questions: list[str]) -> np.ndarray:
    retriever = HybridRetriever(store, embedder)
    builder = AnswerBuilder(embedder, abstain_threshold=-1.0)
    out = []
    for start in range(0, len(questions), 32):
        batch = questions[start : start + 32]
        hits = retriever.retrieve_batch(batch, k=5)
        out += [a.confidence for a in builder.answer_batch(batch, hits)]
    return np.array(out)


def best_threshold(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """Threshold maximising balanced accuracy (answer positives, abstain on negatives)."""
    best = (0.0, 0.0)
    for t in np.unique(np.concatenate([positive, negative])):
        accuracy = ((positive >= t).mean() + (negative < t).mean()) / 2
        if accuracy > best[1]:
            best = (float(t), float(accuracy))
    return best


def main(
    index: Annotated[list[str], typer.Option(help="NAME=INDEX_DIR, one per corpus.")],
    questions: Annotated[list[str], typer.Option(help="NAME=FILE: questions over corpus NAME.")],
    sample: int = 300,
    answer_rate: float = 0.98,
) -> None:
    embedder = Embedder.from_settings(get_settings())
    stores = {n: IndexStore.open(Path(d)) for n, d in (item.split("=", 1) for item in index)}
    sets = {n: Path(f) for n, f in (item.split("=", 1) for item in questions)}
    rng = random.Random(0)
    positive, negative = [], []
    for name, path in sets.items():
        qs = [q.question for q in load_questions(path)]
        qs = rng.sample(qs, min(sample, len(qs)))
        for store_name, store in stores.items():
            values = confidences(store, embedder, qs)
            (positive if store_name == name else negative).append(values)
            print(f"{name} questions over {store_name}: median confidence {np.median(values):.3f}")
    pos, neg = np.concatenate(positive), np.concatenate(negative)
    threshold, _ = best_threshold(pos, neg)
    for label, t in (
        ("best balanced accuracy", threshold),
        (f"answers {answer_rate:.0%} of answerable", float(np.quantile(pos, 1 - answer_rate))),
    ):
        print(
            f"{label}: threshold {t:.3f}, answers {100 * (pos >= t).mean():.1f}% of "
            f"answerable, abstains on {100 * (neg < t).mean():.1f}% of unanswerable"
        )


if __name__ == "__main__":
    typer.run(main)
