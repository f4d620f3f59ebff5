"""Choose fusion weights (``FusionWeights`` fields) by k-fold cross-validation on training
questions, for all questions or those of one language.

Why a tool: a weight is kept only when cross-validation on training questions says so, and the
README's "measured and not shipped" figures must be reproducible. Every point of the grid ranks
every question once (the questions are embedded once); each fold picks the point with the best
MRR@10 on the other folds (ties: the point listed first, so list the shipped value first) and is
scored with it. The report gives each point's MRR@10, success@1 and success@10 over all
questions, and the same figures cross-validated (``cv_mrr@10``, ``cv_success@1``, ...).

    python -m eval.tune_fusion --index ../ds-idx --language en \
        --questions indexer/reader/news-train.jsonl \
        --questions indexer/reader/news-train-more.jsonl \
        --grid headline=0.5,0.2,0 --grid feedback_dense=0.5,0.1 --out var/tune-fusion-en.json

Training questions only: the sets reported on (facqa-valid, detik-written, the seed set) are
not tuned on.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import typer

from eval.metrics import first_relevant_rank
from eval.questions import ReferenceQuestion, load_questions
from eval.runner import canonical_relevant, story_of
from indexer.language import question_language
from indexer.store import IndexStore
from newsqa.errors import NewsqaError
from newsqa.settings import Settings, get_settings
from service.index_open import open_embedder, open_store
from service.retrieval import FusionWeights, HybridRetriever

# each weight's type: a count (``feedback_terms``) must stay an int, it slices a term list
_WEIGHTS = {f.name: int if f.type in ("int", int) else float for f in fields(FusionWeights)}


def parse_grid(specs: list[str]) -> dict[str, list[float]]:
    """``["headline=0.5,0.2"]`` -> ``{"headline": [0.5, 0.2]}``; an unknown weight or a value
    that is not a finite number of the weight's type is an error naming it, and so is a
    weight or a value given twice."""
    grid: dict[str, list[float]] = {}
    for spec in specs:
        name, _, values = spec.partition("=")
        if name not in _WEIGHTS:
            raise typer.BadParameter(f"{name!r} is no fusion weight; one of {sorted(_WEIGHTS)}")
        kind = _WEIGHTS[name]
        try:
            parsed = [kind(v) for v in values.split(",")]
            if not all(math.isfinite(v) for v in parsed):  # "nan" ranked nothing
                raise ValueError(values)
        except ValueError:
            raise typer.BadParameter(
                f"{spec!r}: values must be {kind.__name__} numbers, comma-separated"
            ) from None
        # a weight given twice replaced its first values, and a value given twice made two
        # points of one report key (the second overwrote the first): both without a word
        if name in grid:
            raise typer.BadParameter(f"{name!r} is given twice: list its values in one --grid")
        if len(set(parsed)) != len(parsed):
            raise typer.BadParameter(f"{spec!r}: a value is listed twice")
        grid[name] = parsed
    return grid


def fold_parts(n: int, folds: int, seed: int, groups: list[str] | None = None) -> list[list[int]]:
    """Question indices per fold, seeded; with ``groups`` (one per question: its article),
    a group's questions all in one fold. Several questions over one article would otherwise
    let a fold be scored on articles it was tuned on: a query-side map fitted that way gained
    0.03 MRR@10 on news-train's English questions, and lost 0.005 to 0.05 once the folds held
    out whole articles.

    ``folds`` must be 2 to the number of groups (of questions without ``groups``): one fold has
    no other folds to choose its setting on, and a fold with no question picked a setting that
    scored nothing (``--folds 0`` was a ZeroDivisionError, a negative count a cross-validated
    MRR@10 of 0.0 with no fold at all)."""
    members = groups or [str(i) for i in range(n)]
    names = list(dict.fromkeys(members))
    if not 2 <= folds <= len(names):
        what = "articles" if groups else "questions"
        raise ValueError(
            f"--folds {folds}: cross-validation needs 2 to {len(names)} folds here "
            f"({len(names)} {what}, each held out whole)"
        )
    random.Random(seed).shuffle(names)
    fold_of = {name: i % folds for i, name in enumerate(names)}
    return [[i for i in range(n) if fold_of[members[i]] == f] for f in range(folds)]


def check_folds(n: int, folds: int, seed: int, groups: list[str] | None = None) -> None:
    """``--folds`` checked before any question is ranked: a usage error naming it."""
    try:
        fold_parts(n, folds, seed, groups)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def cross_validate(
    scores: dict[str, list[float]],
    folds: int,
    seed: int,
    groups: list[str] | None = None,
    also: dict[str, dict[str, list[float]]] | None = None,
) -> dict:
    """Per fold, the setting best on the other folds by MRR@10 (ties: the one listed first) and
    its scores on this fold: the cross-validated mean, and the setting each fold picked.
    ``also``: other per-question figures by setting (``{"success@1": {setting: [...]}}``),
    scored with each fold's pick as well: what the cross-validated choice does to them."""
    n = len(next(iter(scores.values())))
    keys = list(scores)
    held: dict[str, list[float]] = {"mrr@10": [], **{name: [] for name in also or {}}}
    picked = []
    for part in fold_parts(n, folds, seed, groups):
        inside = set(part)
        train = [i for i in range(n) if i not in inside]
        best = max(keys, key=lambda s: (sum(scores[s][i] for i in train), -keys.index(s)))
        picked.append(best)
        for name, by_setting in {"mrr@10": scores, **(also or {})}.items():
            held[name] += [by_setting[best][i] for i in part]
    return {**{f"cv_{name}": sum(v) / n for name, v in held.items()}, "picked": picked}


def first_ranks(
    retriever: HybridRetriever,
    questions: list[ReferenceQuestion],
    vectors: np.ndarray | None = None,
) -> list[int | None]:
    """Each question's rank of its first relevant article in the top 10, its relevant
    articles counted as stories; None when none is there. Every figure of the report
    (``RANK_FIGURES``) is read off these, from one ranking per setting."""
    store = retriever.store
    hits = retriever.retrieve_batch([q.question for q in questions], k=10, query_vectors=vectors)
    ranks = [
        first_relevant_rank(
            [story_of(store, h.article_id) for h in found], canonical_relevant(store, q.relevant)
        )
        for q, found in zip(questions, hits)
    ]
    return [r if r is not None and r <= 10 else None for r in ranks]


RANK_FIGURES: dict[str, Callable[[int | None], float]] = {
    "mrr@10": lambda rank: 1.0 / rank if rank is not None else 0.0,
    # what a reader handed the first article sees; MRR@10 alone hid a setting that moved
    # questions from rank 2 to 1 and others from 1 to 3
    "success@1": lambda rank: float(rank == 1),
    "success@10": lambda rank: float(rank is not None),
}


def rank_figures(ranks: dict[str, list[int | None]]) -> dict[str, dict[str, list[float]]]:
    """``{figure: {setting: per-question scores}}`` from each setting's ``first_ranks``."""
    return {
        name: {key: [score(r) for r in found] for key, found in ranks.items()}
        for name, score in RANK_FIGURES.items()
    }


def cross_validate_figures(
    figures: dict[str, dict[str, list[float]]], folds: int, seed: int, groups: list[str]
) -> dict:
    """``cross_validate`` on MRR@10, every other figure scored with the folds' picks."""
    rest = {name: by_setting for name, by_setting in figures.items() if name != "mrr@10"}
    return cross_validate(figures["mrr@10"], folds, seed, groups, also=rest)


def mrr_per_question(
    retriever: HybridRetriever,
    questions: list[ReferenceQuestion],
    vectors: np.ndarray | None = None,
) -> list[float]:
    """MRR@10 of each question, its relevant articles counted as stories."""
    return [RANK_FIGURES["mrr@10"](r) for r in first_ranks(retriever, questions, vectors)]


def read_questions(paths: list[Path]) -> list[ReferenceQuestion]:
    """Every file's questions, pooled; a missing or malformed file (``load_questions``: file
    and line) is a usage error naming it instead of a traceback, and so is a question id that
    two files share (the pool would rank that question twice)."""
    pooled: dict[str, Path] = {}
    out = []
    for path in paths:
        try:
            read = load_questions(path)
        except OSError as exc:
            raise typer.BadParameter(f"{path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        for q in read:
            if (first := pooled.setdefault(q.id, path)) != path:
                raise typer.BadParameter(f"{path}: question id {q.id!r} is also in {first}")
        out += read
    return out


def open_index(settings: Settings, index: Path) -> IndexStore:
    """``--index`` opened as the service opens it; a missing or foreign index is a usage error
    naming it (``IndexNotFoundError`` was a traceback)."""
    try:
        return open_store(settings, index)
    except NewsqaError as exc:
        raise typer.BadParameter(f"--index: {exc}") from None


def rankable(
    store: IndexStore, questions: list[ReferenceQuestion], index: Path, what: str
) -> tuple[list[ReferenceQuestion], int]:
    """The questions a ranking can score, and how many were left out for relevant ids of
    which the index has none (``canonical_relevant``).

    Such a question scores MRR@10 0.0 under every setting, so it only lowered every figure: a
    question file of another corpus scored 0.0 everywhere, each fold "picking" the first
    setting, and tune_time counted the unanswerable questions too. Unanswerable questions and
    those without relevant ids are not ranked. ``what`` names the questions in the error when
    none is left."""
    asked, unknown = [], 0
    for q in questions:
        if not (q.answerable and q.relevant):
            continue
        if not canonical_relevant(store, q.relevant):
            unknown += 1
            continue
        asked.append(q)
    if not asked:
        known = f"; none of their relevant ids is an article of {index}" if unknown else ""
        raise typer.BadParameter(f"no {what} with relevant articles{known}")
    if unknown:
        typer.echo(
            f"{unknown} question(s) left out: none of their relevant ids is an article of {index}",
            err=True,
        )
    return asked, unknown


def held_out_groups(store: IndexStore, questions: list[ReferenceQuestion]) -> list[str]:
    """Each question's story (the smallest of its relevant stories, ``canonical_relevant``):
    ``fold_parts``'s groups. Grouped by raw article id, two passages of one story (facqa's
    sibling passages, a republished copy) fell into different folds, so a fold was chosen on
    questions about the story it was scored on; tune_time did not group at all (1,873 of
    facqa-train's 2,495 questions share their passage with another)."""
    return [min(canonical_relevant(store, q.relevant)) for q in questions]


def write_report(
    out: Path, about: dict, figures: dict[str, dict[str, list[float]]], cv: dict
) -> None:
    """``about`` the run, each setting's figures over all questions (``RANK_FIGURES``: MRR@10,
    success@1, success@10), then the cross-validation; to ``out`` (JSON) and stdout."""
    report = {
        **about,
        **{
            name: {key: round(sum(v) / len(v), 4) for key, v in by_setting.items()}
            for name, by_setting in figures.items()
        },
        **cv,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def main(
    index: Annotated[Path, typer.Option(help="Index of the questions' corpus.")],
    questions: Annotated[list[Path], typer.Option(help="Training questions (JSONL), repeatable.")],
    grid: Annotated[list[str], typer.Option(help="WEIGHT=V1,V2,...; repeatable.")],
    out: Annotated[Path, typer.Option(help="Where the report goes (JSON).")],
    language: Literal["all", "en", "id"] = "all",
    folds: int = 5,
    seed: int = 13,
) -> None:
    axes = parse_grid(grid)
    read = read_questions(questions)
    settings = get_settings().model_copy(update={"index_dir": index})
    store = open_index(settings, index)
    embedder = open_embedder(settings)
    asked, unknown = rankable(
        store,
        [q for q in read if language in ("all", question_language(q.question))],
        index,
        f"answerable questions ({language})",
    )
    groups = held_out_groups(store, asked)
    check_folds(len(asked), folds, seed, groups)
    vectors = embedder.embed_queries([q.question for q in asked])
    ranks: dict[str, list[int | None]] = {}
    for point in itertools.product(*axes.values()):
        values = dict(zip(axes, point))
        weights = replace(FusionWeights(), **values)
        key = ",".join(f"{name}={value:g}" for name, value in values.items())
        retriever = HybridRetriever(store, embedder, weights=weights)
        ranks[key] = first_ranks(retriever, asked, vectors)
    about = {"questions": [str(p) for p in questions], "language": language, "count": len(asked)}
    about["unknown_relevant"] = unknown
    figures = rank_figures(ranks)
    write_report(out, about, figures, cross_validate_figures(figures, folds, seed, groups))


if __name__ == "__main__":
    typer.run(main)
