"""Choose the event-time weights of the ranking (``FusionWeights.event`` / ``.published``) by
k-fold cross-validation on training questions.

Only questions that name a time are ranked differently by these weights
(``indexer.event_time.question_times``); the others keep their rank whatever the weights, so
only the dated ones are retrieved, once per candidate pair (those answerable, with a relevant
article the index has: ``eval.tune_fusion.rankable``). Each fold (whole stories: a story's
questions all in one fold) picks the pair with the best MRR@10 on the other folds and is scored
with it; the report gives every pair's MRR@10, success@1 and success@10 over all dated
questions, the same cross-validated, the pair each fold picked and how many questions were
left out for relevant ids the index does not have (``unknown_relevant``).

    python -m eval.tune_time --index ../facqa-idx \
        --questions ../shared/data/eval/facqa-train.jsonl --out var/tune-time.json

Training questions only: the sets reported on (facqa-valid, detik-summary-dev) are not tuned on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from eval.tune_fusion import (
    check_folds,
    cross_validate_figures,
    first_ranks,
    held_out_groups,
    open_index,
    rank_figures,
    rankable,
    read_questions,
    write_report,
)
from indexer.event_time import question_times
from newsqa.settings import get_settings
from service.index_open import open_embedder
from service.retrieval import FusionWeights, HybridRetriever

# (event, published); (0.03, 0.015) is the shipped pair
GRID = [
    (0.0, 0.0),
    (0.0, 0.03),
    (0.03, 0.015),
    (0.03, 0.03),
    (0.04, 0.03),
    (0.06, 0.03),
    (0.1, 0.03),
]
GRID_KEYS = [f"event={e},published={p}" for e, p in GRID]


def main(
    index: Annotated[Path, typer.Option(help="Index of the questions' corpus.")],
    questions: Annotated[Path, typer.Option(help="Training questions (JSONL).")],
    out: Annotated[Path, typer.Option(help="Where the report goes (JSON).")],
    folds: int = 5,
    seed: int = 13,
) -> None:
    read = read_questions([questions])
    settings = get_settings().model_copy(update={"index_dir": index})
    store = open_index(settings, index)
    embedder = open_embedder(settings)
    as_of = store.newest_day
    dated, unknown = rankable(
        store,
        [q for q in read if question_times(q.question, as_of)],
        index,
        "answerable questions naming a time",
    )
    groups = held_out_groups(store, dated)
    check_folds(len(dated), folds, seed, groups)
    vectors = embedder.embed_queries([q.question for q in dated])
    ranks: dict[str, list[int | None]] = {}
    for key, (event, published) in zip(GRID_KEYS, GRID):
        retriever = HybridRetriever(
            store, embedder, weights=FusionWeights(event=event, published=published)
        )
        ranks[key] = first_ranks(retriever, dated, vectors)
    about = {
        "questions": str(questions),
        "dated_questions": len(dated),
        "unknown_relevant": unknown,
    }
    figures = rank_figures(ranks)
    write_report(out, about, figures, cross_validate_figures(figures, folds, seed, groups))


if __name__ == "__main__":
    typer.run(main)
