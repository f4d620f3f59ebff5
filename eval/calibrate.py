"""Calibrate the reader's no-answer thresholds per language pair (question x passage language).

Questions go through the product's retrieval and the reader, end to end. For every answerable
question whose relevant article is retrieved, the best span's margin over its passage's
no-answer score (the best span of the kind asked for, as the answer composer picks it) is a
positive: the service should answer. The same question with its relevant articles taken out
of the retrieved list (unless a passage left still states a reference answer), and every
unanswerable question, give negatives: the service should abstain. Per language pair the
threshold maximising 2 x the answered share + the abstained share, averaged over the question
sets, is kept (``--answer-weight``: a wrong abstention costs a user more than a weak answer that
shows its evidence; each set counts once, as facqa's short passages give larger margins than
whole news articles). A pair with fewer than ``--min-questions`` on either side keeps the
reader's own threshold (tuned when it was trained, on Indonesian questions over their gold
passage). The margins are kept in ``--margins`` so that the choice can be redone without
reading again (for the same weights and reader runtime only).

Training questions only (facqa-train, the project's own corpus set); the sets reported on
(facqa-valid, the seed set) are never used here. With ``--write`` the thresholds go to
``thresholds.json`` beside the weights, with the data they came from.

    python -m eval.calibrate --index facqa=DIR1 --index corpus=DIR2 \
        --questions facqa=../shared/data/eval/facqa-train.jsonl \
        --questions corpus=eval/questions/corpus.jsonl --english facqa --write
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from eval.metrics import contains_answer
from eval.provenance import retrieval_config
from eval.questions import ReferenceQuestion, load_questions
from eval.runner import canonical_relevant, story_of
from indexer.embedder import Embedder
from indexer.language import question_language, text_language
from indexer.reader import WEIGHTS_PATH
from indexer.reader.examples import in_english
from indexer.reader.provenance import sha256_file
from indexer.reader.runtime import resolve
from indexer.store import IndexStore, read_manifest
from newsqa.errors import NewsqaError
from newsqa.settings import Settings, get_settings
from service.index_open import open_embedder, open_store
from service.reader_answer import (
    THRESHOLDS_NAME,
    ReaderAnswerBuilder,
    calibrated_reading,
    load_reader_answerer,
)
from service.retrieval import HybridRetriever


def best_margin(builder: ReaderAnswerBuilder, question: str, hits) -> tuple[float, str | None]:  # type: ignore[no-untyped-def]
    """The score the composer would compare with the threshold (its margin, less the rank
    penalty of its article: the builder here has no thresholds), and the passage language."""
    for found in builder.candidates(question, hits):
        return found.excess, text_language([found.chunk.text])
    return float("-inf"), None


def states_an_answer(builder: ReaderAnswerBuilder, question: str, hits, answers) -> bool:  # type: ignore[no-untyped-def]
    """Does a passage the reader would read still hold a reference answer? Then taking the
    relevant articles out made no negative: facqa holds several passages of one story, and
    the sibling often states the same fact."""
    read = builder.passages(hits, question)
    return any(contains_answer(chunk.text, answers) for _, chunk in read)


def collect(
    retriever: HybridRetriever,
    builder: ReaderAnswerBuilder,
    questions: list[ReferenceQuestion],
    k: int,
) -> dict[str, dict[str, list[float]]]:
    """Margins per language pair: {"en-id": {"positive": [...], "negative": [...]}}."""
    store = retriever.store
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for q in questions:
        hits = retriever.retrieve(q.question, k=k)
        relevant = canonical_relevant(store, q.relevant)  # as stories
        q_lang = question_language(q.question)
        if q.answerable and relevant:
            read = {chunk.article_id for _, chunk in builder.passages(hits, q.question)}
            if any(story_of(store, article) in relevant for article in read):
                margin, lang = best_margin(builder, q.question, hits)
                out[f"{q_lang}-{lang or 'id'}"]["positive"].append(margin)
            rest = [h for h in hits if story_of(store, h.article_id) not in relevant]
            if not states_an_answer(builder, q.question, rest, q.answers):
                margin, lang = best_margin(builder, q.question, rest)
                out[f"{q_lang}-{lang or 'id'}"]["negative"].append(margin)
        elif not q.answerable:
            margin, lang = best_margin(builder, q.question, hits)
            out[f"{q_lang}-{lang or 'id'}"]["negative"].append(margin)
    return out


def choose_threshold(
    groups: list[tuple[list[float], list[float]]], answer_weight: float
) -> tuple[float, float, float]:
    """The threshold maximising ``answer_weight`` x answered share + abstained share, averaged
    over the question sets (each set counts once, whatever its size: facqa's short passages
    give larger margins than full news articles, and its 300 questions must not drown the
    project's own set). A wrong abstention costs a user more than a weak answer that shows
    its evidence. Returns the threshold and the pooled answered and abstained shares."""
    groups = [(p, n) for p, n in groups if p and n]
    cuts = sorted({m for p, n in groups for m in p + n})
    candidates = [cuts[0] - 1.0] + [(a + b) / 2 for a, b in zip(cuts, cuts[1:])]
    best = (float("-inf"), 0.0)
    for cut in candidates:
        value = sum(answer_weight * _share(p, cut, True) + _share(n, cut, False) for p, n in groups)
        if value > best[0] + 1e-12:
            best = (value, cut)
    cut = best[1]
    positive = [m for p, _ in groups for m in p]
    negative = [m for _, n in groups for m in n]
    return cut, _share(positive, cut, True), _share(negative, cut, False)


def _share(margins: list[float], threshold: float, above: bool) -> float:
    return sum((m > threshold) == above for m in margins) / len(margins) if margins else 0.0


def named(items: list[str], option: str) -> dict[str, str]:
    """``["facqa=DIR"]`` -> ``{"facqa": "DIR"}``; an item without ``NAME=`` or a name given
    twice is a usage error naming the option (``dict()`` raised "dictionary update sequence
    element #0 has length 1" and a repeated name silently kept the last)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise typer.BadParameter(f"{option} {item!r}: must be NAME=VALUE")
        if name in out:
            raise typer.BadParameter(f"{option}: {name!r} given twice")
        out[name] = value
    return out


def check_arguments(
    stores: dict[str, str], files: dict[str, str], english: list[str]
) -> dict[str, list[ReferenceQuestion]]:
    """Every question set's file read and its corpus named, before the reader is loaded: a
    set without ``--index`` was a KeyError after the sets before it had been read, a missing
    or malformed file a traceback, and an ``--english`` name of no set was ignored."""
    if missing := sorted(set(files) - set(stores)):
        raise typer.BadParameter(f"--questions {missing[0]}=...: no --index {missing[0]}=DIR")
    if unknown := sorted(set(english) - set(files)):
        raise typer.BadParameter(f"--english {unknown[0]}: no --questions {unknown[0]}=FILE")
    read = {}
    for name, path in files.items():
        try:
            read[name] = load_questions(Path(path))
        except OSError as exc:
            raise typer.BadParameter(f"--questions {name}={path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return read


def check_relevant(name: str, store: IndexStore, questions: list[ReferenceQuestion]) -> None:
    """A set whose answerable questions name relevant ids none of which is in ``--index`` is
    a set of another corpus: it gave no positive and no constructed negative, so the run
    printed no pair and exited 0 (and ``--write`` wrote thresholds of nothing). An error
    naming the set; a few unknown ids are said on stderr."""
    asked = [q for q in questions if q.answerable and q.relevant]
    unknown = sum(1 for q in asked if not canonical_relevant(store, q.relevant))
    if asked and unknown == len(asked):
        store.close()
        raise typer.BadParameter(
            f"--questions {name}: none of its questions' relevant ids is an article of "
            f"--index {name}: is the index built from the questions' corpus?"
        )
    if unknown:
        typer.echo(f"{name}: {unknown} question(s) with relevant ids not in the index", err=True)


def index_tag(name: str, index_dir: Path) -> dict:
    """What identifies the index a set's margins were read over: its directory and committed
    generation. The margins were kept under the question file's hash alone, so running
    again with ``--index NAME=`` another index (or the same one rebuilt) reused the margins
    read over the first and printed its thresholds as the new one's."""
    try:
        manifest = read_manifest(index_dir)
    except NewsqaError as exc:
        raise typer.BadParameter(f"--index {name}: {exc}") from None
    return {
        "path": str(index_dir.resolve()),
        "generation": manifest.generation,
        "created_at": manifest.created_at,
    }


def retrieval_settings(settings: Settings, embedder: Embedder) -> dict[str, object]:
    """What, besides the index, ``k`` and the retriever's own weights, decides which passages
    reach the reader, and so the margins: how questions are embedded (model, precision as
    resolved on this CPU, backend) and where dense search runs (Milvus' HNSW and IVF_FLAT are
    approximate). The margins were kept whatever these were, so a run under other
    ``NEWSQA_EMBED_*`` or ``NEWSQA_VECTOR_STORE`` reused margins read under the first."""
    milvus = settings.vector_store == "milvus"
    return {
        "embed_model": settings.embed_model,
        "embed_precision": embedder.precision,
        "embed_backend": settings.embed_backend,
        "vector_store": settings.vector_store,
        "milvus_index_type": settings.milvus_index_type if milvus else None,
    }


def main(
    index: Annotated[list[str], typer.Option(help="NAME=INDEX_DIR, one per corpus.")],
    questions: Annotated[list[str], typer.Option(help="NAME=FILE: questions over corpus NAME.")],
    sample: Annotated[int, typer.Option(min=1, help="Questions per file at most (seeded).")] = 600,
    k: Annotated[int, typer.Option(min=1)] = 5,
    min_questions: int = 20,
    answer_weight: Annotated[
        float, typer.Option(help="What a wrong abstention costs, against a wrong answer.")
    ] = 2.0,
    margins_file: Annotated[
        Path, typer.Option("--margins", help="Margins per pair: reused if present, else written.")
    ] = Path("var/calibration-margins.json"),
    write: Annotated[bool, typer.Option(help="Write thresholds.json beside the weights.")] = False,
    english: Annotated[
        list[str] | None,
        typer.Option(help="NAME: also ask that set's questions in pseudo-English (NAME-en)."),
    ] = None,
) -> None:
    settings: Settings = get_settings()
    english = english or []
    stores, files = named(index, "--index"), named(questions, "--questions")
    read_sets = check_arguments(stores, files, english)
    indexes = {name: index_tag(name, Path(stores[name])) for name in files}
    embedder = open_embedder(settings)
    builder = load_reader_answerer(settings)
    builder.thresholds = {}
    builder.reader.no_answer_threshold = 0.0  # margins, not excesses
    # question set -> language pair -> "positive" / "negative" -> margins
    margins: dict[str, dict[str, dict[str, list[float]]]] = {}
    weights = settings.reader_weights or WEIGHTS_PATH
    # margins hold for one set of weights read by one runtime (int8 shifts them a little),
    # over the passages it reads (the more, the likelier a span beats the no-answer score)
    key = {
        "runtime": resolve(settings.reader_runtime),
        "weights_sha256": sha256_file(weights),
        **calibrated_reading(settings),
    }
    # Each question set's margins are kept under its file's hash: adding a set reads only it.
    saved = json.loads(margins_file.read_text()) if margins_file.is_file() else {}
    cached = saved.get("sets", {}) if saved.get("key") == key else {}
    embedding = retrieval_settings(settings, embedder)
    for name, path in files.items():
        # opened lazily: a set whose margins are kept reads none of its segments
        try:
            store = open_store(settings, Path(stores[name]), check_model=False, eager=False)
        except NewsqaError as exc:
            raise typer.BadParameter(f"--index {name}: {exc}") from None
        retriever = HybridRetriever(store, embedder)
        tag = {
            "sha256": sha256_file(path),
            "index": indexes[name],
            "sample": sample,
            "k": k,
            "english": name in english,
            # fusion weights and candidate counts are code, not settings: a change to them
            # (``eval.tune_fusion``) hands the reader other passages as surely as a setting
            "retrieval": {**retrieval_config(retriever), **embedding},
        }
        if name in cached and cached[name]["tag"] == tag:
            print(f"{name}: margins from {margins_file}")
        else:
            qs = read_sets[name]
            qs = random.Random(0).sample(qs, min(sample, len(qs)))
            check_relevant(name, store, qs)
            read = {name: collect(retriever, builder, qs, k)}
            if name in english:
                read[f"{name}-en"] = collect(retriever, builder, in_english(qs), k)
            cached[name] = {"tag": tag, "margins": read}
        store.close()
        margins.update(cached[name]["margins"])
    margins_file.parent.mkdir(parents=True, exist_ok=True)
    margins_file.write_text(json.dumps({"key": key, "sets": cached}))
    thresholds, report = {}, {}
    for pair in sorted({pair for sets in margins.values() for pair in sets}):
        groups = [  # a set counts for a pair only with enough questions of its own there
            (sets[pair].get("positive", []), sets[pair].get("negative", []))
            for sets in margins.values()
            if pair in sets
            and min(len(sets[pair].get("positive", [])), len(sets[pair].get("negative", [])))
            >= min_questions
        ]
        positives = sum(len(p) for p, _ in groups)
        negatives = sum(len(n) for _, n in groups)
        enough = min(positives, negatives) >= min_questions
        report[pair] = {"positives": positives, "negatives": negatives, "used": enough}
        if enough:
            threshold, answered, abstained = choose_threshold(groups, answer_weight)
            thresholds[pair] = round(threshold, 3)
            report[pair].update(
                threshold=round(threshold, 3),
                answered=round(answered, 3),
                abstained=round(abstained, 3),
            )
        print(pair, report[pair])
    if write:
        path = Path(weights).with_name(THRESHOLDS_NAME)
        record = {
            "thresholds": thresholds,
            "pairs": report,
            **key,
            "questions": {n: {"path": p, "sha256": sha256_file(p)} for n, p in files.items()},
            "sample": sample,
            "answer_weight": answer_weight,
            "english": english,
            "k": k,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    typer.run(main)
