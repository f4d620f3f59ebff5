"""The `newsqa` command: index report, clear errors, eval report and quality gate, JSON output
for scripts, filters, search, delete and export."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer.store import IndexStore
from newsqa.cli import app
from service.schemas import AskResponse

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
    assert "line 1: invalid JSON" in result.output  # the reason, not only a count
    assert (index_dir / "CURRENT").read_text() == before
    mistyped = runner.invoke(
        app, ["index", str(tmp_path / "korpus"), "--index-dir", str(index_dir)]
    )
    assert mistyped.exit_code == 1
    assert "korpus: cannot read: no such file or folder" in mistyped.output
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


def test_serve_names_a_port_in_use_before_it_starts(corpus_index):
    """A port in use (or a host that is no address) was a JSON log line among the server's
    and exit 3, after the model had loaded; now the one error line and exit 1."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        for host, reason in (("127.0.0.1", "in use"), ("256.1.1.1", "cannot listen on")):
            args = ["serve", "--index-dir", str(corpus_index), "--host", host, "--port", str(port)]
            result = runner.invoke(app, args)
            assert result.exit_code == 1, result.output
            assert f"cannot listen on {host}:{port}" in result.stderr, result.stderr
            assert reason in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "banjir", "--bogus"], "No such option: --bogus (see '"),
        (["ask", "banjir", "--k", "abc"], "Invalid value for '--k'"),
        (["ask"], "Missing argument 'question'"),
        (["nosuchcmd"], "No such command 'nosuchcmd'"),
        (["--bogus"], "No such option: --bogus"),
        (["model", "build", "--bogus"], "newsqa model build --help')"),
    ],
)
def test_a_bad_option_is_one_error_line_and_exit_2(args, message):
    """README: every failure is one ``error:`` line on stderr, exit 2 for a bad option. Typer
    drew a box of usage, hint and message over five lines instead."""
    proc = subprocess.run(
        [sys.executable, "-m", "newsqa", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr and proc.stdout == ""


def test_a_group_without_a_command_still_prints_its_help():
    proc = subprocess.run(
        [sys.executable, "-m", "newsqa", "model"], capture_output=True, text=True, timeout=120
    )
    assert "newsqa model [OPTIONS]" in proc.stdout + proc.stderr and "error:" not in proc.stderr


def test_ask_prints_answer_and_citations(corpus_index):
    result = runner.invoke(
        app, ["ask", "which Palembang programs won 2020 awards", "--index-dir", str(corpus_index)]
    )
    assert result.exit_code == 0, result.output
    assert "Poltabes" in result.output and "[1]" in result.output
    # the short answers come first, each with its citation, as POST /ask gives them
    as_json = runner.invoke(
        app,
        ["ask", "which Palembang programs won 2020 awards", "--index-dir", str(corpus_index)]
        + ["--json"],
    )
    short = json.loads(as_json.output)["short_answers"]
    assert short
    first_line = result.output.splitlines()[0]
    assert first_line == "; ".join(f"{a['text']} [{a['n']}]" for a in short)


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
    # a gate with no section for this run's sets checked nothing, and passed
    gate.write_text('[detik]\n"mrr@10" = 0.5\n')
    unchecked = runner.invoke(app, [*args, "--mode", "bm25", "--gate", str(gate)])
    assert unchecked.exit_code == 1 and "nothing was checked" in unchecked.output
    # a server that does not answer is one error line, not a traceback
    refused = runner.invoke(app, [*args, "--url", "http://127.0.0.1:9"])
    assert refused.exit_code == 1 and "http://127.0.0.1:9" in refused.stderr, refused.output
    assert "Traceback" not in refused.output


def test_eval_refuses_to_write_into_an_index_it_did_not_build(tmp_path, corpus_index):
    """Pointed at an index of other articles (``newsqa index``, a served one), eval added its
    corpus to it and scored over both."""
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    before = (index_dir / "CURRENT").read_text()
    questions = REPO / "eval/questions/corpus.jsonl"
    result = runner.invoke(
        app,
        ["eval", "--corpus", str(REPO / "corpus"), "--questions", str(questions)]
        + ["--index-dir", str(index_dir), "--mode", "bm25"],
    )
    assert result.exit_code == 1
    assert "newsqa eval did not build" in result.stderr, result.output
    assert (index_dir / "CURRENT").read_text() == before


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--mode", "fast"], 2, "bm25, dense, hybrid or all"),
        (["--mode", "all", "--url", "http://127.0.0.1:9"], 2, "its own mode"),
        (["--timeout", "5"], 2, "give --url too"),
        (["--gate", "{tmp}/none.toml"], 1, "none.toml"),
        (["--gate", "{tmp}/words.toml"], 1, "must be a number"),
        (["--out", "{tmp}/words.toml"], 1, "is a file"),
        (["--questions", "{tmp}/corpus.jsonl"], 1, "would both be reported as 'corpus'"),
        (["--questions", "{tmp}/empty.jsonl"], 1, "empty.jsonl holds no questions"),
        # these two failed only when the report was written, after every question was asked
        (["--out", "{tmp}/words.toml/run1"], 1, "run1: {tmp}/words.toml is a file, not a"),
        (["--questions", "{tmp}/meta.jsonl"], 1, "reported as 'meta', a key of report.json"),
        (["--questions", "{tmp}/typo.jsonl"], 1, "typo.jsonl:1: not a reference question (fi"),
    ],
)
def test_eval_refuses_bad_options_before_the_run(tmp_path, extra, code, message):
    (tmp_path / "words.toml").write_text('[corpus]\n"mrr@10" = "high"\n')
    shutil.copy(REPO / "eval/questions/seed.jsonl", tmp_path / "meta.jsonl")
    (tmp_path / "typo.jsonl").write_text('{"id": "a", "question": "Apa?", "relevent": ["x"]}\n')
    (tmp_path / "empty.jsonl").write_text("\n  \n")
    shutil.copy(REPO / "eval/questions/corpus.jsonl", tmp_path / "corpus.jsonl")
    args = ["eval", "--corpus", str(REPO / "corpus")]
    args += ["--questions", str(REPO / "eval/questions/corpus.jsonl")]
    args += ["--index-dir", str(tmp_path / "index")]
    result = runner.invoke(app, args + [a.replace("{tmp}", str(tmp_path)) for a in extra])
    assert result.exit_code == code, result.output
    assert message.replace("{tmp}", str(tmp_path)) in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "index").exists()  # refused before any work


def test_eval_names_missing_files(tmp_path):
    result = runner.invoke(
        app, ["eval", "--corpus", str(tmp_path / "nope"), "--questions", str(tmp_path / "q")]
    )
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


# ask / search / delete / export / index --json: the commands scripts use, run as `newsqa` is
# (CliRunner keeps stdout and stderr apart: stdout must be nothing but the JSON or the table).


def _invoke(args: list[str]):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def _json(args: list[str]) -> dict:
    return json.loads(_invoke([*args, "--json"]).stdout)


def _overlaps(store, article_id: str, first: date, last: date) -> bool:  # type: ignore[no-untyped-def]
    text = store.article(article_id).text
    return any(e.start <= last and e.end >= first for e in store.events_in(article_id, text))


def test_ask_json_is_the_post_ask_body_with_exact_quotes(corpus_index, store):
    body = _json(
        ["ask", "which Palembang programs won 2020 awards", "--index-dir", str(corpus_index)]
    )
    assert set(body) == set(AskResponse.model_fields)
    assert not body["abstained"] and body["citations"]
    first = body["citations"][0]
    text = store.article(first["article_id"]).text
    assert first["quote"] == text[first["char_start"] : first["char_end"]]
    assert "Poltabes" in body["answer"]


def test_ask_filters_keep_other_sources_out(corpus_index):
    # nq-003 (Kabar Nusantara) is the chili-price article; from Harian Pagi only, it cannot be
    # cited, and every passage and citation is that outlet's (the filter is case-insensitive).
    args = ["ask", "harga cabai rawit di Palembang", "--index-dir", str(corpus_index)]
    body = _json([*args, "--source", "harian pagi", "--k", "3"])
    assert body["passages"] and len({p["article_id"] for p in body["passages"]}) <= 3
    assert {p["source"] for p in body["passages"]} == {"Harian Pagi"}
    assert "nq-003" not in {c["article_id"] for c in body["citations"]}


def test_search_json_and_its_filters(corpus_index, store):
    base = ["search", "harga", "--index-dir", str(corpus_index), "--k", "10"]
    body = _json(base)
    assert set(body) == {"query", "passages", "timings_ms"} and body["query"] == "harga"
    everything = {p["article_id"] for p in body["passages"]}
    assert {p["category"] for p in body["passages"]} - {"Ekonomi", "Olahraga"}  # others too
    assert all(p["highlights"] is not None and p["text"] for p in body["passages"])
    # two categories (any matches), and a year of publication
    narrowed = _json(
        [*base, "--category", "ekonomi", "--category", "Olahraga", "--from", "2023-01-01",
         "--to", "2023-12-31"]
    )  # fmt: skip
    assert narrowed["passages"]
    for p in narrowed["passages"]:
        assert p["category"] in ("Ekonomi", "Olahraga") and p["published"].startswith("2023-")
    # an event window: every article found names a time inside February 2023
    events = _json([*base, "--event-from", "2023-02-01", "--event-to", "2023-02-28"])
    found = {p["article_id"] for p in events["passages"]}
    assert "nq-003" in found and found != everything
    assert all(_overlaps(store, a, date(2023, 2, 1), date(2023, 2, 28)) for a in found)


def test_search_table_one_day_and_full_width(corpus_index, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # pytest-xdist's workers set 80
    # --to with a day alone keeps that whole day: nq-003 was published 2023-02-06 11:45 WIB
    args = ["search", "harga cabai", "--index-dir", str(corpus_index)]
    result = _invoke([*args, "--from", "2023-02-06", "--to", "2023-02-06"])
    rows = [line for line in result.stdout.splitlines() if "nq-0" in line]
    assert len(rows) == 1 and "nq-003" in rows[0]
    # not a terminal: one row on one line, title and passage beside each other
    assert "Harga Cabai Rawit di Pasar Palembang" in rows[0] and "Pasar 16 Ilir" in rows[0]
    assert len(rows[0]) > 80
    # bounds the wrong way round: a usage error naming the option, not an empty table
    swapped = runner.invoke(app, [*args, "--from", "2023-02-07", "--to", "2023-02-06"])
    assert swapped.exit_code == 2 and "--from" in swapped.output and "after" in swapped.output


def test_delete_export_and_index_piped_shows_the_whole_table(corpus_index, tmp_path, settings):
    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    where = ["--index-dir", str(index_dir)]
    deleted = _invoke(["delete", "nq-001", "nq-002", *where])
    assert "deleted 2 article(s)" in deleted.stdout
    ids = [json.loads(line)["id"] for line in _invoke(["export", *where]).stdout.splitlines()]
    assert "nq-003" in ids and not {"nq-001", "nq-002"} & set(ids)
    # a missing id: named, exit 1, no traceback, and nothing deleted (nq-003 stays)
    before = (index_dir / "CURRENT").read_text()
    missing = runner.invoke(app, ["delete", "nq-003", "no-such-id", *where])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    assert "no-such-id" in missing.stderr and missing.stdout == ""
    assert (index_dir / "CURRENT").read_text() == before
    # `newsqa index ... | cat`: the summary is one table row per line, not squeezed to 80 columns
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.run(
        [sys.executable, "-m", "newsqa", "index", str(REPO / "corpus"), *where],
        capture_output=True,
        text=True,
        timeout=300,
        env={**env, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
    )
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if "articles" in line)
    assert "chunks embedded" in header and "seconds" in header and len(header) > 80
    assert "nq-001" in _invoke(["export", *where]).stdout


def test_export_then_index_json_gives_the_same_articles(corpus_index, store, tmp_path):
    exported = tmp_path / "export.jsonl"
    result = _invoke(
        ["export", "--format", "jsonl", "--out", str(exported), "--index-dir", str(corpus_index)]
    )
    assert result.stdout == "" and "exported" in result.stderr
    records = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert {r["id"] for r in records} == set(store.article_ids())
    assert set(records[0]) == {"id", "title", "url", "published", "category", "source", "text"}
    copy = tmp_path / "copy"
    report = _json(["index", str(exported), "--index-dir", str(copy)])
    assert report["added"] == report["articles"] == len(records)
    assert report["skipped"] == [] and report["duplicates"] == {} and report["removed"] == 0
    assert report["generation"] >= 1 and report["chunks"] > 0 and report["seconds"] > 0
    again = IndexStore.open(copy, eager=False)
    try:
        for article_id in store.article_ids():
            assert _fields(again.article(article_id)) == _fields(store.article(article_id))
    finally:
        again.close()


def test_mojibake_beside_a_no_break_space_is_repaired_so_export_reads_back_unchanged(tmp_path):
    # "&nbsp;" before a mojibake run kept ftfy from repairing it: the article showed "Ã©" and
    # "â€œ", and its export, indexed again, came out repaired, a different text (updated).
    corpus = tmp_path / "moj.jsonl"
    record = {
        "id": "moj-1",
        "title": "Kafe\u00a0Ã© baru",
        "text": "Sebuah kafe\u00a0Ã© baru dibuka. Dia berkata\u00a0â€œkami siapâ€\x9d melayani.",
    }
    corpus.write_text(json.dumps(record) + "\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    assert _json(["index", str(corpus), "--index-dir", str(index_dir)])["added"] == 1
    exported = tmp_path / "export.jsonl"
    _invoke(["export", "--out", str(exported), "--index-dir", str(index_dir)])
    (article,) = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert article["title"] == "Kafe é baru"
    assert article["text"] == "Sebuah kafe é baru dibuka. Dia berkata “kami siap” melayani."
    again = _json(["index", str(exported), "--index-dir", str(index_dir)])
    assert (again["unchanged"], again["updated"], again["chunks"]) == (1, 0, 0)


def _fields(article) -> tuple:  # type: ignore[no-untyped-def]
    return (
        article.text,
        article.title,
        article.url,
        article.published,
        article.category,
        article.source,
    )


def test_index_json_lists_skipped_records_with_reasons(tmp_path):
    corpus = tmp_path / "bad.jsonl"
    corpus.write_text(
        '{broken\n{"id": "x-1", "title": "Judul", "text": "Harga beras naik."}\n'
        '{"id": "x-2", "text": ""}\n'
    )
    report = _json(["index", str(corpus), "--index-dir", str(tmp_path / "index")])
    assert report["added"] == 1
    assert report["skipped"] == [
        {"file": str(corpus), "line": 1, "id": None, "reason": report["skipped"][0]["reason"]},
        {"file": str(corpus), "line": 3, "id": "x-2", "reason": "missing or empty 'text'"},
    ]
    assert "invalid JSON" in report["skipped"][0]["reason"]


def test_index_lists_a_record_that_reuses_an_id_as_skipped(tmp_path):
    """Two records under one id with different text: the first is indexed, the second is a
    skipped record with its line, not silently lost; a repeat of the same record is neither."""
    first = {"id": "x-1", "title": "Banjir", "text": "Banjir merendam Kecamatan Ilir Barat."}
    other = {"id": "x-1", "title": "Gempa", "text": "Gempa mengguncang Kota Padang pagi ini."}
    corpus = tmp_path / "ids.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in (first, first, other)) + "\n")
    index_dir = tmp_path / "index"
    report = _json(["index", str(corpus), "--index-dir", str(index_dir)])
    assert (report["added"], report["duplicates"]) == (1, {})
    assert report["skipped"] == [
        {
            "file": str(corpus),
            "line": 3,
            "id": "x-1",
            "reason": "id 'x-1' was read before with other text: ids must be unique, the "
            "first record is kept",
        }
    ]
    assert IndexStore.open(index_dir).article("x-1").text == first["text"]


def test_model_build_reports_the_cached_model():
    result = _invoke(["model", "build"])
    assert "model ready" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ask", "x", "--index-dir", "{missing}"], 1, "no index in"),
        (["search", "x", "--index-dir", "{missing}"], 1, "no index in"),
        (["export", "--index-dir", "{missing}"], 1, "no index in"),
        (["delete", "nq-001", "--index-dir", "{missing}"], 1, "no committed index"),
        (["search", "x", "--from", "yesterday"], 2, "not an ISO date"),
        (["ask", "x", "--event-to", "2023-02-30"], 2, "not an ISO date"),
        (["search", " \u200b "], 2, "empty"),
        (["export", "--format", "csv"], 2, "csv"),
        (["index", "corpus", "--engine", "spark"], 2, "local or ray"),
        (["watch", "{missing}"], 1, "is not a folder"),
        (["index", "{empty}", "--index-dir", "{missing}"], 1, "no article found (no .jsonl line"),
        (["serve", "--port", "99999", "--index-dir", "{missing}"], 2, "--port"),
        (["serve", "--port", "0", "--index-dir", "{missing}"], 2, "--port"),
        (["reader", "evaluate", "--questions", "{missing}"], 1, "no such file"),
        (
            ["reader", "train", "--passages", "{missing}", "--questions", "{missing}"],
            1,
            "no such file",
        ),
        (["bench", "--sections", "nope", "--out", "{missing}"], 2, "unknown sections"),
        # sizes that failed a section minutes in, or ran the whole job
        (["bench", "--sections", "faiss", "--faiss-sizes", "0"], 2, "positive whole numbers"),
        (["bench", "--incremental-sizes", "1000"], 2, "2 positive whole numbers"),
        (["bench", "--index-articles", "-3"], 2, "--index-articles"),
        # filelock reads a negative timeout as "for ever": behind another writer these hung
        (["index", "{empty}", "--index-dir", "{missing}", "--wait", "-1"], 2, "'--wait'"),
        (["delete", "nq-001", "--index-dir", "{missing}", "--wait", "-0.5"], 2, "'--wait'"),
        (["watch", "{empty}", "--index-dir", "{missing}", "--wait", "-1"], 2, "'--wait'"),
        (["delete", "nq-001", "--index-dir", "{missing}", "--wait", "nan"], 2, "'--wait'"),
    ],
)
def test_errors_are_one_message_on_stderr(args, code, message, tmp_path):
    missing = str(tmp_path / "missing")
    (tmp_path / "empty").mkdir()  # a folder without one article file
    empty = str(tmp_path / "empty")
    result = runner.invoke(
        app, [a.replace("{missing}", missing).replace("{empty}", empty) for a in args]
    )
    assert result.exit_code == code, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_reader_evaluate_names_what_is_wrong(tmp_path):
    """A traceback each: weights that are no weights file, and questions none of whose
    passages are given (KeyError after a table of NaN); bad JSON named no file or line."""
    passages = tmp_path / "passages.jsonl"
    passages.write_text(json.dumps({"id": "p-1", "text": "Harga cabai naik."}) + "\n")
    questions = tmp_path / "questions.jsonl"
    question = {"id": "q-1", "question": "Apa yang naik?", "relevant": ["p-9"], "answers": ["x"]}
    questions.write_text(json.dumps(question) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(question) + "\n{not json\n")
    weights = tmp_path / "reader.safetensors"
    weights.write_bytes(b"not weights")
    base = ["reader", "evaluate", "--passages", str(passages)]
    for args, message in (
        (["--questions", str(questions)], "no question of"),
        (["--questions", str(bad)], "bad.jsonl:2: not JSON"),
        (["--questions", str(questions), "--weights", str(weights)], "cannot read reader weights"),
    ):
        result = runner.invoke(app, base + args)
        assert result.exit_code == 1, result.output
        assert message in result.stderr and "Traceback" not in result.output


def test_a_bad_setting_names_its_variable(monkeypatch):
    """The error named the pydantic field ("reload_interval") and linked pydantic's site; nan
    was taken as a threshold."""
    from newsqa.settings import get_settings

    for name, value, words in (
        ("NEWSQA_RELOAD_INTERVAL", "abc", "NEWSQA_RELOAD_INTERVAL='abc': Input should be"),
        ("NEWSQA_ABSTAIN_THRESHOLD", "nan", "NEWSQA_ABSTAIN_THRESHOLD='nan'"),
    ):
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            result = runner.invoke(app, ["search", "banjir"])
        finally:
            monkeypatch.delenv(name)
            get_settings.cache_clear()
        assert result.exit_code == 1, result.output
        assert words in result.stderr and "pydantic.dev" not in result.stderr, result.stderr


def test_index_behind_another_writer_fails_before_loading_the_model(tmp_path, corpus_index):
    """README: a second `newsqa index` "fails at once". It loaded the model first (seconds;
    8.5 s here) and only then asked for the lock; now the lock of an existing index comes
    first, so the refusal costs a small part of what the run that follows it does."""
    import time

    from filelock import FileLock

    from indexer.store import LOCK

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    corpus = REPO / "corpus" / "articles.jsonl"
    args = ["index", str(corpus), "--index-dir", str(index_dir)]
    other_writer = FileLock(str(index_dir / LOCK))  # another object: as another process
    other_writer.acquire(timeout=0)
    try:
        started = time.monotonic()
        refused = runner.invoke(app, args)
        refused_after = time.monotonic() - started
    finally:
        other_writer.release()
    assert refused.exit_code == 1
    assert "being written by another process" in " ".join(refused.output.split())
    started = time.monotonic()
    indexed = runner.invoke(app, args)  # unchanged articles: the model load, nearly all
    indexed_after = time.monotonic() - started
    assert indexed.exit_code == 0, indexed.output
    assert refused_after * 3 < indexed_after, (refused_after, indexed_after)


def test_an_index_dir_whose_name_is_not_utf8_is_indexed_and_searched(tmp_path, settings):
    """A folder named in Latin-1 (``berita-\\xe9``, from an old share) is held by Python as
    surrogates, which FAISS's path argument cannot encode: `newsqa index` ended in SWIG's
    TypeError traceback, exit 1, and no index. Now FAISS writes and reads through Python's
    file, and the index is searched like any other."""
    parent = os.fsdecode(os.fsencode(str(tmp_path)) + b"/berita-\xe9")
    index_dir = Path(parent) / "index"
    corpus = tmp_path / "news.jsonl"
    record = {"id": "lat-1", "title": "Banjir di Palembang", "text": "Banjir melanda Palembang."}
    corpus.write_text(json.dumps(record) + "\n", encoding="utf-8")
    env = {**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir)}
    for args in (["index", str(corpus)], ["search", "banjir"]):
        proc = subprocess.run(
            [sys.executable, "-m", "newsqa", *args, "--index-dir", index_dir, "--json"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert json.loads(proc.stdout)["passages"][0]["article_id"] == "lat-1"


def test_export_writes_utf8_on_an_ascii_locale(corpus_index, store, settings):
    """Under ``LC_ALL=C PYTHONUTF8=0`` stdout is ASCII: `newsqa export > backup.jsonl` stopped
    at the first non-ASCII character (an em dash, a curly quote), exit 1 and a backup cut
    short. The JSONL is UTF-8 whatever the locale, as ``--out`` and ``--json`` write it."""
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "newsqa", "export", "--index-dir", str(corpus_index)],
        capture_output=True,
        timeout=300,
        env={**env, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert len(records) == len(store.article_ids())
    assert any(not r["text"].isascii() for r in records)


def test_tables_and_answers_print_on_an_ascii_locale(tmp_path, settings):
    """Under ``LC_ALL=C PYTHONUTF8=0`` stdout is ASCII: a title with an emoji or an em dash
    ended `newsqa search`, `ask` and `timeline` with "'ascii' codec can't encode", exit 1.
    Now such a character is printed as its escape, and the rest as it is."""
    corpus = tmp_path / "emoji.jsonl"
    record = {
        "id": "emo-1",
        "title": "Banjir \U0001f30a melanda Palembang \u2014 warga mengungsi",
        "published": "2024-02-03T10:00:00+07:00",
        "text": "Banjir \U0001f30a melanda Kota Palembang pada Sabtu (3/2/2024). Ribuan warga "
        "mengungsi ke masjid dan sekolah.",
    }
    corpus.write_text(json.dumps(record) + "\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    assert runner.invoke(app, ["index", str(corpus), "--index-dir", str(index_dir)]).exit_code == 0
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "COLUMNS": "200"}
    for command in ("search", "timeline"):
        proc = subprocess.run(
            [sys.executable, "-m", "newsqa", command, "banjir", "--index-dir", str(index_dir)],
            capture_output=True,
            timeout=300,
            env={**env, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
        )
        assert proc.returncode == 0, proc.stderr
        assert b"emo-1" in proc.stdout and b"Banjir \\U0001f30a melanda" in proc.stdout


def test_search_on_a_narrow_terminal_keeps_ids_and_titles_whole(corpus_index, settings):
    """At ``COLUMNS=40`` the eight-column table squeezed every cell to a letter or two: ids
    read ``n…``, titles ``T…``. A narrow terminal now gets each hit as lines, ids whole."""
    args = [sys.executable, "-m", "newsqa", "search", "banjir", "--index-dir", str(corpus_index)]
    env = {**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir)}
    found = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300, env=env)
    passages = json.loads(found.stdout)["passages"]
    proc = subprocess.run(
        args, capture_output=True, text=True, timeout=300, env={**env, "COLUMNS": "40"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    text = " ".join(proc.stdout.split())  # titles wrap at the terminal's edge
    for passage in passages:
        assert passage["article_id"] in text and " ".join(passage["title"].split()) in text


def test_index_summary_on_a_narrow_terminal_keeps_every_count(tmp_path, settings):
    """At ``COLUMNS=40`` the nine-column summary table cut every header and count to ``…``:
    not one number could be read. A narrow terminal now gets ``name: value`` lines."""
    corpus = tmp_path / "news.jsonl"
    record = {"id": "sempit-1", "title": "Banjir di Palembang", "text": "Banjir melanda Palembang."}
    corpus.write_text(json.dumps(record) + "\n{broken\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "newsqa", "index", str(corpus), "--index-dir", str(tmp_path / "i")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "40", "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "articles: 1" in lines and "added: 1" in lines and "skipped: 1" in lines
    assert "chunks embedded: 1" in lines and "…" not in proc.stdout
    assert "news.jsonl:2:invalidJSON" in "".join(proc.stdout.split())  # a path may fold


def test_ctrl_c_stops_watch_with_one_line_and_exit_130(tmp_path, settings):
    """Ctrl-C (SIGINT) ended `newsqa watch` and `newsqa index` with exit 130 and nothing on
    stderr: a log could not tell it from a crash. Now one ``interrupted`` line, still 130."""
    import signal
    import time

    folder = tmp_path / "masuk"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        json.dumps({"id": "w-1", "title": "Banjir", "text": "Banjir melanda Palembang."}) + "\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsqa", "watch", str(folder), "--index-dir", str(tmp_path / "i")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "i" / "CURRENT").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.splitlines()[-1] == "interrupted", stderr


def _holds_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open (Linux /proc): `newsqa index` holds the
    writer lock's file from before it reads the corpus until after it commits."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path.resolve()) for fd in fds.iterdir())
    except OSError:  # the process ended, or an fd closed while listed
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_sigterm_stops_index_with_one_line_and_the_index_at_its_last_commit(
    tmp_path, corpus_index, store, embedder, shared_dir, settings
):
    """SIGTERM (a supervisor, `kill`, `timeout`) ended `newsqa index` at once, exit 143 and
    nothing on stderr, no ``finally`` run. Now it unwinds as Ctrl-C does: one ``terminated``
    line, 143, the lock released, no temporary file left, and the index still opens and
    answers at the generation it had."""
    import signal
    import time

    from filelock import FileLock

    from indexer.store.layout import CURRENT
    from service.retrieval import HybridRetriever

    index_dir = tmp_path / "index"
    shutil.copytree(corpus_index, index_dir)
    committed = (index_dir / CURRENT).read_text()
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsqa", "index", str(shared_dir / "data/news/detik-2025.jsonl")]
        + ["--index-dir", str(index_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
    )
    try:
        deadline = time.monotonic() + 120
        while not _holds_open(proc.pid, index_dir / ".lock") and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        time.sleep(1.0)  # reading and embedding 1,000 articles: tens of seconds from here
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and stderr.splitlines()[-1] == "terminated", stderr
    assert (index_dir / CURRENT).read_text() == committed
    assert not [p for p in index_dir.rglob("*") if ".tmp" in p.name]
    lock = FileLock(str(index_dir / ".lock"))
    lock.acquire(timeout=0)  # released: the next writer need not wait
    lock.release()
    after = IndexStore.open(index_dir)
    try:
        assert set(after.article_ids()) == set(store.article_ids())
        assert HybridRetriever(after, embedder).retrieve("wali kota Palembang", k=3)
    finally:
        after.close()


@pytest.mark.parametrize("command", [["export"], ["search", "banjir Palembang"]])
def test_a_reader_that_stops_early_ends_the_output_quietly(command, corpus_index, settings):
    """`newsqa export | head -1`: the pipe's reader gone, export and search exited 1, read by a
    script as a failure. Now they stop as `cat` does there: no word on stderr, exit 141."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "newsqa", *command, "--index-dir", str(corpus_index)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NEWSQA_CACHE_DIR": str(settings.cache_dir)},
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == "", proc.stderr
