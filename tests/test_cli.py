"""The `newsqa` command: index report, clear errors, eval report and quality gate."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from newsqa.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_index_reports_skipped_records_and_continues(tmp_path, shared_dir):
    corpus = tmp_path / "mixed.jsonl"
    good = {"id": "ok-1", "title": "Judul", "text": "Harga beras naik di Palembang pekan ini."}
    corpus.write_bytes(
        (json.dumps(good) + "\n").encode()
        + b"{not json\n"
        + json.dumps({"id": "no-text"}).encode()
        + b"\n"
        + b'{"id": "bad-bytes", "text": "\xff\xfe"}\n'
        + json.dumps({"id": "a/b", "text": "Harga cabai turun."}).encode()  # no valid id
        + b"\n"
    )
    index_dir = tmp_path / "index"
    result = runner.invoke(
        app,
        [
            "index",
            str(corpus),
            str(shared_dir / "data/news/palembang-awards-2020.txt"),
            "--index-dir",
            str(index_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "skipped records" in result.output
    assert "invalid JSON" in result.output
    assert "invalid UTF-8" in result.output
    assert "invalid id 'a/b'" in result.output
    assert "text" in result.output.split("skipped records")[1]
    manifest = json.loads((index_dir / (index_dir / "CURRENT").read_text().strip()).read_text())
    assert manifest["articles"] == 2


def test_nothing_indexed_exits_non_zero_and_keeps_previous_index(tmp_path, corpus_index):
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    before = (index_dir / "CURRENT").read_text()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{broken\n")
    result = runner.invoke(app, ["index", str(bad), "--index-dir", str(index_dir)])
    assert result.exit_code == 1
    assert "nothing to index" in result.output
    assert (index_dir / "CURRENT").read_text() == before


def test_serve_refuses_missing_index_with_clear_message(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "newsqa", "serve", "--index-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 1
    assert "no index in" in proc.stderr


def test_ask_prints_answer_and_citations(corpus_index):
    result = runner.invoke(
        app, ["ask", "which Palembang programs won 2020 awards", "--index-dir", str(corpus_index)]
    )
    assert result.exit_code == 0, result.output
    assert "Poltabes" in result.output and "[1]" in result.output


def test_timeline_prints_dated_sentences_earliest_first(corpus_index, tmp_path):
    result = runner.invoke(
        app, ["timeline", "harga cabai rawit Palembang", "--index-dir", str(corpus_index)]
    )
    assert result.exit_code == 0, result.output
    days = [
        line.split(" ", 1)[0] for line in result.output.splitlines() if line[:2] in ("19", "20")
    ]
    assert days and days == sorted(days)
    # "Senin (6/2/2023)" in the chili article: its day, the expression and the article's quote
    assert "2023-02-06 (Senin (6/2/2023))" in result.output
    assert "[nq-003 " in result.output
    missing = runner.invoke(app, ["timeline", "x", "--index-dir", str(tmp_path / "none")])
    assert missing.exit_code != 0 and "none" in missing.output


def test_eval_writes_report_passes_the_gate_and_fails_a_raised_one(tmp_path):
    # Every 6th project question (answerable and not): the report and the gate are what this
    # tests; the project set's own gate (eval/thresholds.toml) runs whole in tests/test_quality.py.
    lines = (REPO / "eval/questions/corpus.jsonl").read_text().splitlines()
    questions = tmp_path / "corpus.jsonl"
    questions.write_text("\n".join(lines[::6]) + "\n")
    gate = tmp_path / "gate.toml"
    gate.write_text('[corpus]\n"mrr@10" = 0.5\n"citation_validity" = 1.0\n')
    args = ["eval", "--corpus", str(REPO / "corpus"), "--questions", str(questions)]
    args += ["--index-dir", str(tmp_path / "index")]
    passed = runner.invoke(
        app, [*args, "--mode", "all", "--out", str(tmp_path / "report"), "--gate", str(gate)]
    )
    assert passed.exit_code == 0, passed.output
    assert "quality gate passed" in passed.output
    report = json.loads((tmp_path / "report/report.json").read_text())
    assert set(report["corpus"]) == {"bm25", "dense", "hybrid"}
    assert report["corpus"]["hybrid"]["metrics"]["citation_validity"] == 1.0
    assert (tmp_path / "report/metrics.png").stat().st_size > 1000
    assert (tmp_path / "report/failures-corpus-hybrid.jsonl").exists()
    # the index is reused (same content hash); a bar above what bm25 reaches fails the gate
    gate.write_text('[corpus]\n"mrr@10" = 1.01\n')
    failed = runner.invoke(app, [*args, "--mode", "bm25", "--gate", str(gate)])
    assert failed.exit_code == 1
    assert "mrr@10" in failed.output


def test_eval_names_missing_files(tmp_path):
    result = runner.invoke(
        app, ["eval", "--corpus", str(tmp_path / "nope"), "--questions", str(tmp_path / "q")]
    )
    assert result.exit_code == 1
    assert "no such file or folder" in result.output
