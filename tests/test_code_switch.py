"""The pseudo-English question rewriter (indexer/reader/code_switch.py), on real FacQA questions
and on a few hand-written ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from indexer.reader.code_switch import LEXICON, english_question

FACQA_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / "facqa-train.jsonl"
WH_STARTS = {"what", "who", "which", "when", "where", "how", "in", "on", "since"}


@pytest.fixture(scope="module")
def rewrites() -> list[tuple[str, str | None]]:
    if not FACQA_TRAIN.is_file():
        pytest.skip(f"FacQA training questions not found at {FACQA_TRAIN}")
    with open(FACQA_TRAIN, encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()]
    return [(q, english_question(q)) for q in questions]


def test_most_questions_are_rewritten(rewrites: list[tuple[str, str | None]]) -> None:
    done = sum(e is not None for _, e in rewrites)
    assert done >= 0.85 * len(rewrites), f"{done}/{len(rewrites)} rewritten"


def test_rewrites_start_with_an_english_question_word(
    rewrites: list[tuple[str, str | None]],
) -> None:
    done = [e for _, e in rewrites if e]
    firsts = [re.sub(r"\W", "", e.split()[0]).lower() for e in done]
    wh = sum(w in WH_STARTS for w in firsts)
    assert wh >= 0.85 * len(done), f"{wh}/{len(done)} start with an English question word"


def test_names_and_numbers_survive(rewrites: list[tuple[str, str | None]]) -> None:
    lost = []
    for q, e in rewrites:
        if e is None:
            continue
        # Capitalised words after the first (the first is capitalised as the sentence start).
        names = [re.sub(r"^\W+|\W+$", "", w) for w in q.split()[1:]]
        names = [n for n in names if any(c.isupper() for c in n)]
        lost += [(q, e, n) for n in names + re.findall(r"\d+", q) if n not in e]
    assert not lost, f"{len(lost)} names or numbers lost, e.g. {lost[:5]}"


def test_capital_and_question_mark(rewrites: list[tuple[str, str | None]]) -> None:
    for q, e in rewrites:
        if e is not None:
            assert e[0].isupper(), e
            asks = re.search(r"\?\W*$", q) is not None  # "?" among the final punctuation
            assert e.endswith("?") == asks and "??" not in e[-2:], (q, e)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "Siapakah nama presiden pertama Indonesia?",
            "What is the name of president first Indonesia?",
        ),
        ("Siapa yang memimpin rapat kabinet di Jakarta?", "Who lead meeting cabinet in Jakarta?"),
        ("Siapakah ketua KPK sekarang?", "Who is chairman KPK now?"),
        (
            "Pada tahun berapakah Universitas Gadjah Mada didirikan?",
            "In what year Universitas Gadjah Mada founded?",
        ),
        (
            "Universitas Gadjah Mada didirikan pada tahun berapa?",
            "In what year Universitas Gadjah Mada founded?",
        ),
        ("Tanggal berapa pemilu presiden diadakan?", "On what date election president held?"),
        (
            "Berapakah jumlah korban gempa di Yogyakarta?",
            "How many victim earthquake in Yogyakarta?",
        ),
        (
            "Berapa persen suara yang diperoleh partai itu?",
            "What percentage vote that obtained party that?",
        ),
        ("Berapakah usia pelatih tim nasional?", "How old is coach team national?"),
        ("Di kota manakah PT Semen Gresik berlokasi?", "In which city PT Semen Gresik located?"),
        ("Bandara Polonia terletak di kota apa?", "In what city Bandara Polonia located?"),
        ("Partai apakah yang memenangkan pemilu 2004?", "What party win election 2004?"),
        ("Apa kepanjangan dari BPPT?", "What does BPPT stand for?"),
        ("Apakah judul lagu terbaru Dewa 19?", "What is the title of song latest Dewa 19?"),
        ("Kapankah Piala Dunia 2010 dimulai?", "When Piala Dunia 2010 started?"),
        ("Sejak kapan harga beras naik?", "Since when price rice rise?"),
        ("Dimana letak Candi Borobudur?", "Where is Candi Borobudur?"),
        (
            "Berasal dari negara manakah pelatih tim itu?",
            "Which country does coach team that come from?",
        ),
        ("Oleh siapa DPR dipimpin", "By whom DPR led"),
    ],
)
def test_exact_rewrites(question: str, expected: str) -> None:
    assert english_question(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "",
        "Presiden Indonesia adalah Joko Widodo.",
        # Capitalised mid-sentence, "Mengapa" is part of a title, not a question word.
        "Buku 50 Alasan Mengapa Anwar terbit tahun 1998",
    ],
)
def test_unrecognised_forms_give_none(question: str) -> None:
    assert english_question(question) is None


def test_lexicon_is_large_and_lower_case() -> None:
    assert len(LEXICON) >= 400
    assert all(k == k.lower() and k.strip() == k for k in LEXICON)
