"""`newsqa eval`: index a corpus (or reuse a matching index), run question sets, gate quality."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from eval.provenance import EvalResults, run_metadata
from eval.questions import ReferenceQuestion, load_questions
from eval.runner import (
    ModeReport,
    add_negatives,
    canonical_relevant,
    http_asker,
    in_process_asker,
    negative_results,
    run_questions,
    score,
)
from indexer.embedder import Embedder
from indexer.pipeline import build_index, source_hash
from indexer.store import IndexStore
from newsqa.api import Index
from newsqa.errors import NewsqaError
from newsqa.settings import Settings
from service.index_open import dense_config, open_embedder, open_store
from service.qa import Components, make_answerer
from service.retrieval import HybridRetriever

log = logging.getLogger(__name__)

MODES = ("bm25", "dense", "hybrid")


def ensure_index(
    corpus: Sequence[Path],
    index_dir: Path | None,
    settings: Settings,
    embedder: Embedder,
    progress=None,  # type: ignore[no-untyped-def]
) -> IndexStore:
    """Open an index of ``corpus``, building it only if none with the same content hash exists."""
    digest = source_hash(corpus, settings.embed_model)
    index_dir = index_dir or Path("var") / "eval-index" / digest[:16]
    try:
        store = open_store(settings, index_dir)
        if store.manifest.source_hash == digest:
            return store
        store.close()
    except NewsqaError:
        pass
    build_index(
        corpus,
        index_dir,
        embedder,
        progress=progress,
        source_hash=digest,
        dense=dense_config(settings),
    )
    return open_store(settings, index_dir)


LATENCY_SAMPLE = 100
"""Questions per mode and set whose latency is measured (cold vector cache)."""


def run_eval(
    corpus: Sequence[Path],
    question_files: Sequence[Path],
    settings: Settings,
    modes: Sequence[str],
    k: int = 10,
    index_dir: Path | None = None,
    url: str | None = None,
    progress=None,  # type: ignore[no-untyped-def]
    embedder: Embedder | None = None,
) -> EvalResults:
    """Scores per question set and mode, with the run's metadata (``eval.provenance``). With
    ``url``, questions go to that server's /ask (its own index and mode); the local index is
    still used to check citations. ``embedder``: one already loaded for ``settings`` (tests
    share one), else the model is loaded here."""
    embedder = embedder if embedder is not None else open_embedder(settings)
    store = ensure_index(corpus, index_dir, settings, embedder, progress)
    if settings.llm_base_url and len(modes) == len(MODES):
        modes = [*modes, "llm"]  # --mode all compares the generative mode too
    results = EvalResults(
        run_metadata(settings, store, HybridRetriever(store, embedder), modes, k, url)
    )
    for path in question_files:
        questions = load_questions(path)
        _warn_unknown_relevant(path, questions, store)
        reports = []
        for mode in ["server"] if url else modes:
            task = None
            if progress is not None:
                task = progress.add_task(f"{path.stem} {mode}", total=len(questions))
            if url:
                ask = http_asker(url)
            else:
                retrieval_mode = "hybrid" if mode == "llm" else mode
                retriever = HybridRetriever(store, embedder, mode=retrieval_mode)  # type: ignore[arg-type]
                answerer = make_answerer(settings, embedder, generative=mode == "llm")
                components = Components(settings, embedder, store, retriever, answerer)
                ask = in_process_asker(Index(components))
            done: Callable[[], None] | None = (
                (lambda t=task: progress.advance(t)) if progress is not None else None
            )
            # Latency comes from the first LATENCY_SAMPLE questions, asked with a cold vector
            # cache so that modes compare fairly; the rest reuse the vectors of every mode so
            # far (questions and answer sentences recur across modes).
            warm = embedder.cache_snapshot()
            embedder.clear_cache()
            timed = run_questions(questions[:LATENCY_SAMPLE], ask, store, k=k, on_done=done)
            embedder.warm_cache(warm)
            rest = run_questions(questions[LATENCY_SAMPLE:], ask, store, k=k, on_done=done)
            for result in rest:
                result.latency_ms = None
            reports.append(score(mode, timed + rest, k))
            if not url:  # constructed negatives: the same questions without their articles
                add_negatives(reports[-1], negative_results(components, questions, k))
        results[path.stem] = reports
    return results


def _warn_unknown_relevant(
    path: Path, questions: Sequence[ReferenceQuestion], store: IndexStore
) -> None:
    """Relevant ids the index has no article for cannot be found, and a question left with
    none drops out of the retrieval figures (``canonical_relevant``): said once per file, since
    it mostly means the index was built from another corpus than the questions'."""
    unknown = sorted({i for q in questions for i in q.relevant if store.article(i) is None})
    if not unknown:
        return
    left_out = sum(1 for q in questions if q.relevant and not canonical_relevant(store, q.relevant))
    shown = ", ".join(map(repr, unknown[:3])) + (", ..." if len(unknown) > 3 else "")
    log.warning(
        "%s: %d relevant id(s) are in no article of the index (%s); %d question(s) with no "
        "other relevant id are left out of the retrieval figures. Is the index built from the "
        "questions' corpus?",
        path,
        len(unknown),
        shown,
        left_out,
    )


def check_gate(results: dict[str, list[ModeReport]], thresholds_file: Path, mode: str) -> list[str]:
    """Failures of ``mode``'s report against ``[question-set] metric = minimum`` (empty: pass).

    The gate judges the mode being shipped, so forcing a weaker one (bm25) fails it. Latency
    entries (``*_ms``) are maxima instead of minima.
    """
    with thresholds_file.open("rb") as fh:
        thresholds = tomllib.load(fh)
    failures = []
    for set_name, limits in thresholds.items():
        report = next((r for r in results.get(set_name, []) if r.name == mode), None)
        if report is None:
            continue
        for metric, limit in limits.items():
            value = report.values.get(metric)
            if value is None:
                failures.append(f"{set_name}/{mode}: {metric} was not measured")
            elif metric.endswith("_ms") and value > limit:
                failures.append(f"{set_name}/{mode}: {metric} {value:.0f} > {limit}")
            elif not metric.endswith("_ms") and value < limit:
                failures.append(f"{set_name}/{mode}: {metric} {value:.3f} < {limit}")
    return failures
