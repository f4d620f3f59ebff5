"""Eval reports: a table by mode (Rich and Markdown), then the same by question language, JSON
with the run's metadata, a PNG chart, per-question failures and results, TREC run and qrels
files, and paired significance tests between modes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table

from eval import metrics
from eval.exports import write_exports, write_lines
from eval.provenance import EvalResults, code_metadata
from eval.runner import PER_QUESTION, ModeReport
from eval.significance import Comparison, compare_modes, markdown_comparisons

COLUMNS = [
    *PER_QUESTION,  # the means of per-question scores, then the set-level figures
    "abstention_precision",
    "abstention_recall",
    "abstention_on_negatives",
    "citation_precision",
    "citation_validity",
    "latency_p50_ms",
    "latency_p95_ms",
]


def _format(column: str, value: float | None, interval: tuple[float, float] | None = None) -> str:
    if value is None:
        return "-"
    if column.endswith("_ms") or column == "questions":
        text = f"{value:.0f}"
    else:
        text = f"{value:.3f}"
    if interval is not None:
        text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return text


def _cell(report: ModeReport, column: str) -> str:
    """The figure, its interval, and how many questions it is over when fewer than the set's
    (list recall over one list question reads like a figure of the set otherwise)."""
    text = _format(column, report.values.get(column), report.intervals.get(column))
    scored = report.scored.get(column)
    if scored is not None and scored < report.questions:
        text += f" (n={scored})"
    return text


def _grid(reports: list[ModeReport]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Header and rows of the main table: the question count, then a metric per row, a mode
    per column."""
    rows = [("questions", [str(r.questions) for r in reports])]
    rows += [(c, [_cell(r, c) for r in reports]) for c in COLUMNS]
    return [r.name for r in reports], rows


def _language_grid(reports: list[ModeReport]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Header and rows of the per-language table: a column per mode and language, and only the
    rows with a figure (a question set without reference answers has no answer rows)."""
    columns = [(r, lang) for r in reports for lang in r.by_language]
    header = [f"{r.name} {lang}" for r, lang in columns]
    rows = []
    for column in ["questions", *COLUMNS]:
        cells = [_format(column, r.by_language[lang].get(column)) for r, lang in columns]
        if any(cell != "-" for cell in cells):
            rows.append((column, cells))
    return header, rows


def _rich(title: str, header: list[str], rows: list[tuple[str, list[str]]]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    for name in header:
        table.add_column(name, justify="right")
    for column, cells in rows:
        table.add_row(column, *cells)
    return table


def _markdown(title: str, header: list[str], rows: list[tuple[str, list[str]]]) -> str:
    lines = [f"### {title}", "", "| metric | " + " | ".join(header) + " |"]
    lines.append("|---|" + "---|" * len(header))
    for column, cells in rows:
        lines.append(f"| {column} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rich_table(title: str, reports: list[ModeReport]) -> RenderableType:
    """The table by mode, then (when known) the same figures by question language."""
    table = _rich(title, *_grid(reports))
    if not any(r.by_language for r in reports):
        return table
    return Group(table, _rich(f"{title} by language", *_language_grid(reports)))


def markdown_table(title: str, reports: list[ModeReport]) -> str:
    text = _markdown(title, *_grid(reports))
    if any(r.by_language for r in reports):
        text += "\n" + _markdown(f"{title} by language", *_language_grid(reports))
    return text


def failures(report: ModeReport, limit: int = 200) -> list[dict]:
    """Questions that missed: wrong first article, missing answer, or a wrong abstention."""
    out = []
    for r in report.results:
        q = r.question
        rank = r.first_relevant_rank
        missed_article = bool(r.relevant) and rank != 1
        missed_answer = (
            q.answerable and bool(q.answers) and not metrics.contains_answer(r.answer, q.answers)
        )
        wrong_abstention = r.abstained == q.answerable
        if missed_article or missed_answer or wrong_abstention:
            out.append(
                {
                    "id": q.id,
                    "question": q.question,
                    "expected_articles": sorted(q.relevant),
                    "expected_answers": list(q.answers),
                    "answerable": q.answerable,
                    "got_articles": r.ranked[:5],
                    "got_answer": r.answer,
                    "got_short_answers": r.short_answers[:3],
                    "abstained": r.abstained,
                    "first_relevant_rank": rank,
                }
            )
    return out[:limit]


RESERVED = ("meta", "significance")
"""Top-level keys of report.json beside the question sets' names."""


def check_out_dir(out_dir: Path) -> None:
    """Can ``write_report`` write into ``out_dir``? Checked before a run: a folder under a
    file (``--out results.json/run1``) or a read-only place failed only when the report was
    written, after every question had been asked, and the run's figures were lost with it."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"--out {out_dir} is a file, not a folder")
        existing = out_dir
    else:
        existing = next(p for p in out_dir.absolute().parents if p.exists())
        if not existing.is_dir():
            raise ValueError(f"--out {out_dir}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out_dir}: {existing} is not writable")


def _markdown_meta(meta: Mapping[str, object]) -> str:
    """One line under the title: enough to tell two reports apart at a glance."""
    git = meta.get("git") or {}
    commit = git.get("commit") if isinstance(git, dict) else None
    parts = [f"newsqa {meta.get('newsqa_version')}", f"{meta.get('timestamp')}"]
    if commit:
        parts.append(f"commit {str(commit)[:12]}" + (" (dirty)" if git.get("dirty") else ""))
    if "model" in meta:
        parts.append(f"model {meta['model']}, answer mode {meta.get('answer_mode')}")
    index = meta.get("index")
    if isinstance(index, dict):
        parts.append(f"index {str(index.get('source_hash'))[:12]} gen {index.get('generation')}")
    return "Run: " + "; ".join(parts) + " (report.json `meta`)\n"


def _comparison_json(c: Comparison) -> dict[str, object]:
    return {**asdict(c), "difference": c.difference}


def write_report(out_dir: Path, sets: Mapping[str, list[ModeReport]]) -> list[Path]:
    """Write report.md, report.json, metrics.png and, per set and mode, failures-, results- and
    run- files, with qrels-<set>.trec per set (``eval.exports``).

    report.json's ``meta`` is the run's metadata (``eval.provenance``) when ``sets`` came from
    ``run_eval``, else what the code can say of itself. With two or more modes, report.md and
    report.json's ``significance`` hold paired randomization tests of MRR@10 between them.
    """
    clash = [name for name in sets if name in RESERVED]
    if clash:
        raise ValueError(f"question set names {clash} clash with report.json's own keys")
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = sets.meta if isinstance(sets, EvalResults) else code_metadata()
    markdown = ["# newsqa eval report", "", _markdown_meta(meta)]
    payload: dict[str, object] = {"meta": meta}
    significance: dict[str, list[Comparison]] = {}
    paths: list[Path] = []
    failure_paths: list[Path] = []
    for name, reports in sets.items():
        markdown.append(markdown_table(name, reports))
        payload[name] = {
            r.name: {
                "questions": r.questions,
                "metrics": r.values,
                "scored": r.scored,
                "ci95": r.intervals,
                "by_language": r.by_language,
            }
            for r in reports
        }
        for r in reports:
            rows = (json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in failures(r))
            failure_paths.append(write_lines(out_dir / f"failures-{name}-{r.name}.jsonl", rows))
        paths += write_exports(out_dir, name, reports)
        if len(reports) > 1:
            significance[name] = compare_modes(reports)
    if significance:
        markdown += ["## Significance", ""]
        markdown += [markdown_comparisons(name, found) for name, found in significance.items()]
        payload["significance"] = {
            name: [_comparison_json(c) for c in found] for name, found in significance.items()
        }
    (out_dir / "report.md").write_text("\n".join(markdown), encoding="utf-8")
    (out_dir / "report.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    paths[:0] = [out_dir / "report.md", out_dir / "report.json"]
    paths.append(_chart(out_dir / "metrics.png", sets))
    _remove_stale(out_dir, {*paths, *failure_paths})
    return paths


EXPORTS = ("failures-*.jsonl", "results-*.jsonl", "run-*.trec", "qrels-*.trec")
"""The per-set and per-mode files a run writes into ``--out``."""


def _remove_stale(out_dir: Path, written: set[Path]) -> None:
    """Remove the exports of an earlier run that this one did not rewrite.

    An --out folder reused with fewer modes or other sets kept the earlier run's
    run-<set>-dense.trec and results files beside a report.json without them: the README's
    ranx snippet read the old run against the new qrels, as if it were this run's."""
    for pattern in EXPORTS:
        for path in out_dir.glob(pattern):
            if path not in written:
                path.unlink()


def _chart(path: Path, sets: Mapping[str, list[ModeReport]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ["success@1", "success@10", "mrr@10", "ndcg@10", "containment", "citation_precision"]
    fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4), squeeze=False)
    for ax, (name, reports) in zip(axes[0], sets.items()):
        width = 0.8 / max(1, len(reports))
        for i, report in enumerate(reports):
            values = [report.values.get(m, 0.0) for m in shown]
            ax.bar([x + i * width for x in range(len(shown))], values, width, label=report.name)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(shown))], shown, rotation=30)
        ax.set_ylim(0, 1)
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
