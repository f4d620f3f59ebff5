"""Calibrate the reader's no-answer thresholds per language pair (question x passage language).

Questions go through the product's retrieval and the reader, end to end. For every answerable
question whose relevant article is retrieved, the best span's margin over its passage's
no-answer score (the best span of the kind asked for, as the answer composer picks it) is a
positive: the service should answer. The same question with its relevant articles taken out
of the retrieved list, and every unanswerable question, give negatives: the service should
abstain. Per language pair the threshold with the best balanced accuracy is kept; a pair with
fewer than ``--min-questions`` on either side keeps the reader's own threshold (tuned when it
was trained, on Indonesian questions over their gold passage).

Training questions only (facqa-train, the project's own corpus set); the sets reported on
(facqa-valid, the seed set) are never used here. With ``--write`` the thresholds go to
``thresholds.json`` beside the weights, with the data they came from.

    python -m eval.calibrate --index facqa=DIR1 --index corpus=DIR2 \
        --questions facqa=../shared/data/eval/facqa-train.jsonl \
        --questions corpus=eval/questions/corpus.jsonl --write
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from eval.questions import ReferenceQuestion, load_questions
from indexer.embedder import Embedder
from indexer.language import question_language, text_language
from indexer.reader import WEIGHTS_PATH
from indexer.reader.train import best_threshold, sha256_file
from indexer.store import IndexStore
from newsqa.settings import Settings, get_settings
from service.answer_types import question_type, span_fits
from service.reader_answer import THRESHOLDS_NAME, ReaderAnswerBuilder, load_reader_answerer
from service.retrieval import HybridRetriever


def best_margin(builder: ReaderAnswerBuilder, question: str, hits) -> tuple[float, str | None]:  # type: ignore[no-untyped-def]
    """The margin the composer would compare with the threshold, and the passage language."""
    kind = question_type(question).kind
    for found in builder.read(question, hits):
        if span_fits(kind, found.span.text):
            return found.span.margin, text_language([found.chunk.text])
    return float("-inf"), None


def collect(
    store: IndexStore,
    embedder: Embedder,
    builder: ReaderAnswerBuilder,
    questions: list[ReferenceQuestion],
    k: int,
) -> dict[str, dict[str, list[float]]]:
    """Margins per language pair: {"en-id": {"positive": [...], "negative": [...]}}."""
    retriever = HybridRetriever(store, embedder)
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for q in questions:
        hits = retriever.retrieve(q.question, k=k)
        relevant = {a.id for i in q.relevant if (a := store.article(i)) is not None}
        q_lang = question_language(q.question)
        if q.answerable and relevant:
            if any(h.article_id in relevant for h in hits[: builder.passages_read]):
                margin, lang = best_margin(builder, q.question, hits)
                out[f"{q_lang}-{lang or 'id'}"]["positive"].append(margin)
            rest = [h for h in hits if h.article_id not in relevant]
            margin, lang = best_margin(builder, q.question, rest)
            out[f"{q_lang}-{lang or 'id'}"]["negative"].append(margin)
        elif not q.answerable:
            margin, lang = best_margin(builder, q.question, hits)
            out[f"{q_lang}-{lang or 'id'}"]["negative"].append(margin)
    return out


def main(
    index: Annotated[list[str], typer.Option(help="NAME=INDEX_DIR, one per corpus.")],
    questions: Annotated[list[str], typer.Option(help="NAME=FILE: questions over corpus NAME.")],
    sample: Annotated[int, typer.Option(help="Questions per file at most (seeded).")] = 600,
    k: int = 5,
    min_questions: int = 20,
    write: Annotated[bool, typer.Option(help="Write thresholds.json beside the weights.")] = False,
) -> None:
    settings: Settings = get_settings()
    embedder = Embedder.from_settings(settings)
    builder = load_reader_answerer(settings)
    builder.thresholds = {}
    builder.reader.no_answer_threshold = 0.0  # margins, not excesses
    stores = dict(item.split("=", 1) for item in index)
    files = dict(item.split("=", 1) for item in questions)
    rng = random.Random(0)
    margins: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, path in files.items():
        qs = load_questions(Path(path))
        qs = rng.sample(qs, min(sample, len(qs)))
        store = IndexStore.open(Path(stores[name]), settings=settings)
        for pair, sides in collect(store, embedder, builder, qs, k).items():
            for side, values in sides.items():
                margins[pair][side] += values
        store.close()
    thresholds, report = {}, {}
    for pair, sides in sorted(margins.items()):
        pos, neg = sides["positive"], sides["negative"]
        threshold, accuracy = best_threshold(pos, neg)
        enough = min(len(pos), len(neg)) >= min_questions
        report[pair] = {
            "positives": len(pos),
            "negatives": len(neg),
            "threshold": round(threshold, 3),
            "balanced_accuracy": round(accuracy, 3),
            "answered": round(sum(m > threshold for m in pos) / max(1, len(pos)), 3),
            "abstained": round(sum(m <= threshold for m in neg) / max(1, len(neg)), 3),
            "used": enough,
        }
        if enough:
            thresholds[pair] = round(threshold, 3)
        print(pair, report[pair])
    if write:
        weights = settings.reader_weights or WEIGHTS_PATH
        path = Path(weights).with_name(THRESHOLDS_NAME)
        record = {
            "thresholds": thresholds,
            "pairs": report,
            "weights_sha256": sha256_file(weights),
            "questions": {n: {"path": p, "sha256": sha256_file(p)} for n, p in files.items()},
            "sample": sample,
            "k": k,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    typer.run(main)
