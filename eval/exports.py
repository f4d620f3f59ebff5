"""Per-question exports of an eval run: what came back for every question, and TREC files.

report.json holds means; these hold the rows behind them, for error analysis and for other
tools. The TREC run and qrels use the ids the eval itself scores (``eval.runner``): ranked
ids are stories (``story_of``, each shown once whichever copy is the hit) and relevant ids
their canonical form (``canonical_relevant``), so that ranx or trec_eval reading the files
back gets the figures of report.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from eval.runner import ModeReport, QuestionResult, question_scores
from indexer.language import question_language


def result_row(r: QuestionResult) -> dict[str, object]:
    """One question's line in results-<set>-<mode>.jsonl. ``metrics`` holds only the scores
    that apply to the question (``question_scores``): the mean of a column over the rows that
    have it is the report's figure."""
    q = r.question
    return {
        "id": q.id,
        "question": q.question,
        "language": question_language(q.question),
        "answerable": q.answerable,
        "ranked": r.ranked,
        "relevant": sorted(r.relevant),
        "relevant_listed": sorted(q.relevant),
        "first_relevant_rank": r.first_relevant_rank,
        "metrics": question_scores(r),
        "answer": r.answer,
        "short_answers": r.short_answers,
        "abstained": r.abstained,
        "reference_answers": list(q.answers),
        "citations": [
            {"article_id": cid, "story": story, "valid": valid}
            for cid, story, valid in zip(r.citation_ids, r.cited_stories, r.citations_valid)
        ],
        "latency_ms": r.latency_ms,
    }


def _trec_id(value: str) -> str:
    """TREC files are whitespace-separated: an id with a space would shift every column."""
    if not value or any(ch.isspace() for ch in value):
        raise ValueError(f"id {value!r} cannot be written to a TREC file (empty or has spaces)")
    return value


def run_lines(report: ModeReport) -> Iterable[str]:
    """``qid Q0 docid rank score tag`` per ranked story.

    The scores are rank-derived (n, n-1, ..., 1): the eval ranks stories in the order the
    service showed them, and a story has no single score of its own (the passages under it
    do); TREC tools order by score, so these reproduce the eval's order with no ties. A
    question whose ranking came back empty has no line (trec_eval -c and ranx's
    ``make_comparable`` score it 0, as the eval does).
    """
    tag = _trec_id(f"newsqa-{report.name}")
    for r in report.results:
        qid = _trec_id(r.question.id)
        for rank, story in enumerate(r.ranked, start=1):
            yield f"{qid} Q0 {_trec_id(story)} {rank} {len(r.ranked) - rank + 1} {tag}\n"


def qrels_lines(reports: Sequence[ModeReport]) -> Iterable[str]:
    """``qid 0 docid 1`` per relevant story. Every mode of a set is scored against the same
    local index, so the first report's relevant ids are every report's. Questions without
    retrievable relevant ids have no line: they are left out of the retrieval figures too."""
    for r in reports[0].results if reports else ():
        for story in sorted(r.relevant):
            yield f"{_trec_id(r.question.id)} 0 {_trec_id(story)} 1\n"


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(lines)
    return path


def write_exports(out_dir: Path, set_name: str, reports: Sequence[ModeReport]) -> list[Path]:
    """results-<set>-<mode>.jsonl, run-<set>-<mode>.trec and qrels-<set>.trec."""
    paths = []
    for report in reports:
        rows = (
            json.dumps(result_row(r), ensure_ascii=False, default=str) + "\n"
            for r in report.results
        )
        paths.append(write_lines(out_dir / f"results-{set_name}-{report.name}.jsonl", rows))
        paths.append(write_lines(out_dir / f"run-{set_name}-{report.name}.trec", run_lines(report)))
    paths.append(write_lines(out_dir / f"qrels-{set_name}.trec", qrels_lines(reports)))
    return paths
