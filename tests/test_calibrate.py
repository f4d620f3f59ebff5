"""The reader's no-answer calibration (``eval.calibrate``): how a threshold is chosen, and that
a question set's margins are read once and kept under its file's hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from eval.calibrate import choose_threshold, main

CORPUS_QUESTIONS = Path(__file__).parents[1] / "eval" / "questions" / "corpus.jsonl"


def test_a_wrong_abstention_costs_more_than_a_weak_answer() -> None:
    # set A separates anywhere in (0, 10); set B's positive sits below its negative, so one
    # of them is lost: the threshold keeps B's positive (it counts 2) and drops B's negative
    separable = ([10.0] * 100, [0.0] * 100)
    overlapping = ([4.0], [6.0])
    threshold, answered, abstained = choose_threshold([separable, overlapping], 2.0)
    assert 0.0 < threshold < 4.0
    assert answered == 1.0
    assert abstained == 100 / 101
    # each set counts once: with B alone weighted as A, A's size does not drown it
    assert choose_threshold([separable, overlapping], 0.5)[0] > 6.0


@pytest.mark.usefixtures("embedder")
def test_margins_are_read_once_per_question_set(
    corpus_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = CORPUS_QUESTIONS.read_text().splitlines()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(lines[:4]) + "\n")
    second.write_text("\n".join(lines[4:8]) + "\n")
    margins = tmp_path / "margins.json"

    def calibrate(*names: str) -> str:
        files = {"first": first, "second": second}
        main(
            index=[f"{n}={corpus_index}" for n in names],
            questions=[f"{n}={files[n]}" for n in names],
            sample=10,
            min_questions=1,
            margins_file=margins,
        )
        return capsys.readouterr().out

    assert "margins from" not in calibrate("first")
    out = calibrate("first", "second")
    assert "first: margins from" in out and "second: margins from" not in out
    saved = json.loads(margins.read_text())["sets"]
    assert set(saved) == {"first", "second"}
    assert saved["first"]["margins"]["first"]  # per pair: positives and negatives read
    # a changed file is read again
    first.write_text("\n".join(lines[:3]) + "\n")
    assert "first: margins from" not in calibrate("first", "second")


def test_wrong_arguments_are_usage_errors_naming_them(tmp_path: Path) -> None:
    # each was a traceback (dict()'s "update sequence element", KeyError, FileNotFoundError)
    # after the reader was loaded, or (--english of no set, a repeated name) ignored
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "Apa?"}\n{"id": "b"\n')
    q = f"corpus={CORPUS_QUESTIONS}"
    cases = [
        (["../idx"], [q], [], r"--index '../idx': must be NAME=VALUE"),
        (["corpus=a", "corpus=b"], [q], [], r"--index: 'corpus' given twice"),
        (["facqa=../idx"], [q], [], r"--questions corpus=\.\.\.: no --index corpus=DIR"),
        (["corpus=../idx"], [q], ["facqa"], r"--english facqa: no --questions facqa=FILE"),
        (["corpus=../idx"], ["corpus=nope.jsonl"], [], r"corpus=nope.jsonl: No such file"),
        (["corpus=../idx"], [f"corpus={bad}"], [], r"bad.jsonl:2: not a reference question"),
    ]
    for index, questions, english, message in cases:
        with pytest.raises(typer.BadParameter, match=message):
            main(index=index, questions=questions, english=english, margins_file=tmp_path / "m")


@pytest.mark.usefixtures("embedder")
def test_margins_read_over_another_index_are_read_again(
    corpus_index: Path, embedder, dense, tmp_path: Path, capsys
) -> None:
    from indexer.pipeline import build_index

    # the project's corpus without the shared Palembang page: the questions' article is there
    other = tmp_path / "other-index"
    build_index([Path(__file__).parents[1] / "corpus"], other, embedder, dense=dense)
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(CORPUS_QUESTIONS.read_text().splitlines()[:4]) + "\n")
    margins = tmp_path / "margins.json"

    def calibrate(index: Path) -> str:
        main(
            index=[f"first={index}"],
            questions=[f"first={first}"],
            sample=10,
            min_questions=1,
            margins_file=margins,
        )
        return capsys.readouterr().out

    assert "margins from" not in calibrate(corpus_index)
    assert "first: margins from" in calibrate(corpus_index)
    # the margins were kept under the question file alone: those of corpus_index came back
    assert "margins from" not in calibrate(other)
    with pytest.raises(typer.BadParameter, match="--index first: no index in"):
        calibrate(tmp_path / "no-index")


@pytest.mark.usefixtures("embedder")
def test_a_question_set_of_another_corpus_is_an_error(corpus_index: Path, tmp_path: Path) -> None:
    # it gave no margin at all: the run printed no pair and exited 0
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text(
        json.dumps({"id": "f1", "question": "Siapa juaranya?", "relevant": ["facqa-x1"]}) + "\n"
    )
    with pytest.raises(typer.BadParameter, match="--questions f: none of its questions' relevant"):
        main(
            index=[f"f={corpus_index}"],
            questions=[f"f={foreign}"],
            min_questions=1,
            margins_file=tmp_path / "margins.json",
        )


@pytest.mark.usefixtures("embedder")
def test_margins_read_under_other_retrieval_settings_are_read_again(
    corpus_index: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functools import partial

    import service.retrieval
    from newsqa.settings import get_settings

    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(CORPUS_QUESTIONS.read_text().splitlines()[:4]) + "\n")
    margins = tmp_path / "margins.json"

    def calibrate() -> str:
        main(
            index=[f"first={corpus_index}"],
            questions=[f"first={first}"],
            sample=10,
            min_questions=1,
            margins_file=margins,
        )
        return capsys.readouterr().out

    assert "margins from" not in calibrate()  # reuse itself: test_margins_are_read_once_...
    # fusion weights edited in the code, as after eval.tune_fusion: the margins were kept
    # under the question file and index alone, and the old ones came back
    weights = service.retrieval.FusionWeights
    monkeypatch.setattr(service.retrieval, "FusionWeights", partial(weights, headline=0.0))
    assert "margins from" not in calibrate()
    # and so did a NEWSQA_ retrieval setting: questions embedded by another backend
    monkeypatch.setenv("NEWSQA_EMBED_BACKEND", "torch")
    get_settings.cache_clear()
    try:
        assert "margins from" not in calibrate()
    finally:
        monkeypatch.delenv("NEWSQA_EMBED_BACKEND")
        get_settings.cache_clear()
