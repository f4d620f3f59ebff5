"""Eval reports: a table by mode (Rich and Markdown), JSON, a PNG chart, per-question failures."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from eval import metrics
from eval.runner import ModeReport

COLUMNS = [
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "containment",
    "token_f1",
    "abstention_precision",
    "abstention_recall",
    "citation_precision",
    "citation_validity",
    "latency_p50_ms",
    "latency_p95_ms",
]


def _cell(report: ModeReport, column: str) -> str:
    value = report.values.get(column)
    if value is None:
        return "-"
    text = f"{value:.0f}" if column.endswith("_ms") else f"{value:.3f}"
    if column in report.intervals:
        low, high = report.intervals[column]
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def rich_table(title: str, reports: list[ModeReport]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    for report in reports:
        table.add_column(report.name, justify="right")
    for column in COLUMNS:
        table.add_row(column, *(_cell(r, column) for r in reports))
    return table


def markdown_table(title: str, reports: list[ModeReport]) -> str:
    lines = [f"### {title}", "", "| metric | " + " | ".join(r.name for r in reports) + " |"]
    lines.append("|---|" + "---|" * len(reports))
    for column in COLUMNS:
        lines.append(f"| {column} | " + " | ".join(_cell(r, column) for r in reports) + " |")
    return "\n".join(lines) + "\n"


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
                    "abstained": r.abstained,
                    "first_relevant_rank": rank,
                }
            )
    return out[:limit]


def write_report(out_dir: Path, sets: dict[str, list[ModeReport]]) -> list[Path]:
    """Write report.md, report.json, failures-<set>-<mode>.jsonl and metrics.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = ["# newsqa eval report", ""]
    payload: dict[str, dict] = {}
    for name, reports in sets.items():
        markdown.append(markdown_table(name, reports))
        payload[name] = {
            r.name: {"questions": r.questions, "metrics": r.values, "ci95": r.intervals}
            for r in reports
        }
        for r in reports:
            with (out_dir / f"failures-{name}-{r.name}.jsonl").open("w", encoding="utf-8") as fh:
                for row in failures(r):
                    fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    (out_dir / "report.md").write_text("\n".join(markdown), encoding="utf-8")
    (out_dir / "report.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    paths = [out_dir / "report.md", out_dir / "report.json"]
    paths.append(_chart(out_dir / "metrics.png", sets))
    return paths


def _chart(path: Path, sets: dict[str, list[ModeReport]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ["recall@1", "recall@10", "mrr@10", "ndcg@10", "containment", "citation_precision"]
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
