"""`newsqa eval`: index a corpus (or reuse a matching index), run question sets, gate quality."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from eval.provenance import EvalResults, run_metadata
from eval.questions import ReferenceQuestion, load_questions
from eval.report import RESERVED
from eval.runner import (
    AskFailedError,
    ModeReport,
    QuestionResult,
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
from newsqa.errors import ForeignIndexError, NewsqaError
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
    """Open an index of ``corpus``, building it only if none with the same content hash exists.

    An index an eval built of other files is brought to equal ``corpus`` (what changed is
    embedded, what is not in it pruned). One that no eval built (``newsqa index``, HTTP writes:
    no content hash) is refused: eval used to add its corpus to it, scoring over both and
    changing a served index."""
    digest = source_hash(corpus, settings.embed_model)
    index_dir = index_dir or Path("var") / "eval-index" / digest[:16]
    try:
        store = open_store(settings, index_dir)
    except NewsqaError:
        store = None
    if store is not None:
        built_for = store.manifest.source_hash
        if built_for == digest:
            return store
        articles = store.manifest.articles
        store.close()
        if not built_for:
            raise ForeignIndexError(
                f"{index_dir} holds an index that newsqa eval did not build ({articles} "
                "articles, from newsqa index or HTTP writes); eval would add its corpus to it. "
                "Give an --index-dir of its own, or none (var/eval-index/)"
            )
    build_index(
        corpus,
        index_dir,
        embedder,
        progress=progress,
        source_hash=digest,
        prune=store is not None,
        dense=dense_config(settings),
    )
    return open_store(settings, index_dir)


LATENCY_SAMPLE = 100
"""Questions per mode and set whose latency is measured (cold vector cache)."""

WARM_UP_QUESTION = "Siapa yang memberikan penghargaan itu?"
"""Asked once, untimed and unscored, before each mode's timed questions. A run's first ask
loads what the process (or a server) loads lazily: on facqa-passages its first question took
630 ms against 120-240 ms for the next ones, and that load was timed as the first mode's first
question. Not a question of the set: over --url the server's vector cache would keep it."""


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
    timeout: float = 120.0,
) -> EvalResults:
    """Scores per question set and mode, with the run's metadata (``eval.provenance``). With
    ``url``, questions go to that server's /ask (its own index and mode); the local index is
    still used to check citations, and ``timeout`` is the seconds one answer may take (a
    failed request stops the run, naming the question: ``AskFailedError``). ``embedder``: one
    already loaded for ``settings`` (tests share one), else the model is loaded here."""
    question_sets = load_question_sets(question_files)  # a bad file fails before any work
    embedder = embedder if embedder is not None else open_embedder(settings)
    store = ensure_index(corpus, index_dir, settings, embedder, progress)
    if settings.llm_base_url and len(modes) == len(MODES):
        modes = [*modes, "llm"]  # --mode all compares the generative mode too
    results = EvalResults(
        run_metadata(settings, store, HybridRetriever(store, embedder), modes, k, url)
    )
    for path, questions in question_sets.items():
        _warn_unknown_relevant(path, questions, store)
        reports = []
        for mode in ["server"] if url else modes:
            task = None
            if progress is not None:
                task = progress.add_task(f"{path.stem} {mode}", total=len(questions))
            if url:
                ask = http_asker(url, timeout=timeout)
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
            try:
                ask(WARM_UP_QUESTION, k)
            except AskFailedError as exc:
                raise AskFailedError(f"the warm-up question: {exc}") from exc
            warm = embedder.cache_snapshot()
            embedder.clear_cache()
            timed = run_questions(questions[:LATENCY_SAMPLE], ask, store, k=k, on_done=done)
            if url:  # before the rest: a server over another corpus scores 0 on everything
                _check_served_ids(url, timed, store, fatal=True)
            embedder.warm_cache(warm)
            rest = run_questions(questions[LATENCY_SAMPLE:], ask, store, k=k, on_done=done)
            if url:
                _check_served_ids(url, timed + rest, store, fatal=False)
            for result in rest:
                result.latency_ms = None
            reports.append(score(mode, timed + rest, k))
            if not url:  # constructed negatives: the same questions without their articles
                add_negatives(reports[-1], negative_results(components, questions, k))
        results[path.stem] = reports
    return results


def _check_served_ids(
    url: str, results: Sequence[QuestionResult], store: IndexStore, fatal: bool
) -> None:
    """Article ids a server returned that the local index (of ``--corpus``) does not have.

    Ranking and citations are scored against the local index, so a server over another corpus
    scored 0 on every figure with no word of why. ``fatal`` (the first questions, before the
    rest are asked): an error when none of its ids is known. Else a warning with the count of
    unknown ones (a served index that took writes since it was built from the corpus).
    """
    returned = {i for r in results for i in [*r.ranked, *r.citation_ids]}
    unknown = sorted(i for i in returned if store.article(i) is None)
    if not unknown:
        return
    shown = ", ".join(map(repr, unknown[:3])) + (", ..." if len(unknown) > 3 else "")
    if fatal:
        if len(unknown) == len(returned):
            raise ValueError(
                f"{url} answered with articles that are in no article of the index of --corpus "
                f"({shown}): it serves another index; point --url at a server over that corpus"
            )
        return  # some known: said once, over all the questions (``fatal=False``)
    log.warning(
        "%s returned %d article id(s) of %d that the index of --corpus does not have (%s); "
        "they count as misses. Does the server serve an index of the same corpus?",
        url,
        len(unknown),
        len(returned),
        shown,
    )


def load_question_sets(paths: Sequence[Path]) -> dict[Path, list[ReferenceQuestion]]:
    """Each file's questions, read before the run. A set is named by its file's stem (report,
    gate, TREC file names): two files of one stem would have shared a name, and the first's
    results were dropped without a word. A file with no question is an error too, and so is a
    stem report.json uses for itself (``eval.report.RESERVED``)."""
    stems: dict[str, Path] = {}
    for path in paths:
        if path.stem in RESERVED:  # refused by write_report only after the whole run
            raise ValueError(
                f"question file {path} would be reported as {path.stem!r}, a key of "
                "report.json's own: rename it"
            )
        if (first := stems.setdefault(path.stem, path)) != path:
            raise ValueError(
                f"question files {first} and {path} would both be reported as {path.stem!r}: "
                "rename one"
            )
    sets = {path: load_questions(path) for path in paths}
    for path, questions in sets.items():
        # an empty file (or one of blank lines) ran the whole eval and reported a set of 0
        # questions with every figure "-" and exit 0: a wrong path to a truncated file passed
        if not questions:
            raise ValueError(f"question file {path} holds no questions")
    return sets


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


def load_gate(path: Path) -> dict[str, dict[str, float]]:
    """A thresholds file, ``[question-set] metric = number``; ``ValueError`` naming the file
    and what is wrong, so that ``newsqa eval --gate`` can check it before the run."""
    try:
        with path.open("rb") as fh:
            thresholds = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"gate file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"gate file {path}: not TOML ({exc})") from exc
    for set_name, limits in thresholds.items():
        if not isinstance(limits, dict):
            raise ValueError(f"gate file {path}: {set_name!r} must be a [section] of metrics")
        for metric, limit in limits.items():
            if isinstance(limit, bool) or not isinstance(limit, int | float):
                raise ValueError(
                    f"gate file {path}: [{set_name}] {metric} must be a number, not {limit!r}"
                )
    return thresholds


def check_gate(results: dict[str, list[ModeReport]], thresholds_file: Path, mode: str) -> list[str]:
    """Failures of ``mode``'s report against ``[question-set] metric = minimum`` (empty: pass).

    The gate judges the mode being shipped, so forcing a weaker one (bm25) fails it. Latency
    entries (``*_ms``) are maxima instead of minima.
    """
    thresholds = load_gate(thresholds_file)
    failures = []
    if not set(thresholds) & set(results):
        failures.append(
            f"{thresholds_file} has no section for any question set of this run "
            f"({', '.join(sorted(results))}): nothing was checked"
        )
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
