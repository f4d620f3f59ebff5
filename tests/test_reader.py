"""The extractive reader (indexer/reader/): a few training steps end to end, spans with exact
character offsets, windows over long passages, and the shipped weights on facqa-valid."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from indexer.cleaning import clean_text
from indexer.language import question_language
from indexer.model_build import build_bundled_model
from indexer.reader import MANIFEST_PATH, WEIGHTS_PATH
from indexer.reader.config import TrainConfig
from indexer.reader.examples import (
    Example,
    lengthen,
    load_passages,
    passage_pool,
    prepare_examples,
    read_jsonl,
    sample_negatives,
    topical_negatives,
    without_answer,
)
from indexer.reader.model import WORD_EMBEDDINGS, load_reader
from indexer.reader.news_examples import news_examples
from indexer.reader.provenance import sha256_file
from indexer.reader.runtime import (
    RUNTIMES,
    SAME_AS_TORCH,
    SAME_THRESHOLDS,
    export_path,
    forward_by_length,
    resolve,
)
from indexer.reader.scoring import token_f1
from indexer.reader.spans import (
    MAX_WINDOWS,
    MAX_WORD_CHARS,
    Readable,
    Reader,
    encode_pairs,
    trim_span,
)
from indexer.reader.train import NewsData, train
from indexer.sentences import sentence_windows

MAX_WEIGHTS_BYTES = 48 * 10**6


@pytest.fixture(scope="module")
def encoder_dir(settings):
    return build_bundled_model(settings.cache_dir)


@pytest.fixture(scope="module")
def facqa(shared_dir):
    return {
        "passages": shared_dir / "data/news/facqa-passages.jsonl",
        "train": shared_dir / "data/eval/facqa-train.jsonl",
        "valid": shared_dir / "data/eval/facqa-valid.jsonl",
    }


@pytest.fixture(scope="module")
def trained(encoder_dir, facqa, tmp_path_factory):
    """Three steps over 32 facqa-train questions (8 of them held out), short windows."""
    root = tmp_path_factory.mktemp("reader")
    settings = dict(
        seed=7,
        epochs=1,
        max_steps=3,
        batch_size=4,
        max_length=128,
        doc_stride=32,
        limit_questions=32,
        holdout_fraction=0.25,
        limit_valid=4,
        long_context_words=(40, 80),
        log_every=1,
    )
    config = TrainConfig(**settings)
    lines: list[str] = []
    manifest = train(
        encoder_dir,
        facqa["passages"],
        facqa["train"],
        facqa["valid"],
        root / "out",
        root / "checkpoints",
        config,
        log=lines.append,
    )
    return {
        "manifest": manifest,
        "out": root / "out",
        "root": root,
        "log": lines,
        "config": settings,
    }


@pytest.fixture(scope="module")
def reader(trained, encoder_dir):
    return Reader.from_files(encoder_dir, trained["out"] / "reader.safetensors")


def test_training_writes_one_bf16_file_without_word_embeddings(trained):
    weights = trained["out"] / "reader.safetensors"
    assert weights.is_file() and weights.stat().st_size <= MAX_WEIGHTS_BYTES
    assert sorted(p.name for p in trained["out"].iterdir()) == [
        "manifest.json",
        "reader.safetensors",
    ]
    with safe_open(str(weights), "pt") as f:
        keys = list(f.keys())
        assert f.metadata()["format"] == "newsqa-extractive-reader"
        assert {f.get_slice(k).get_dtype() for k in keys} == {"BF16"}
    assert WORD_EMBEDDINGS not in keys
    assert "qa_head.weight" in keys and "qa_head.bias" in keys
    # ~21.5M parameters: everything but the 96M-parameter word-embedding matrix
    assert 20e6 < trained["manifest"]["weights"]["parameters"] < 23e6
    assert (trained["root"] / "checkpoints/epoch-1.safetensors").is_file()
    assert any("step 3/3" in line for line in trained["log"])


def test_manifest_records_data_settings_and_figures(trained, facqa):
    manifest = json.loads((trained["out"] / "manifest.json").read_text())
    assert manifest == json.loads(json.dumps(trained["manifest"]))
    assert manifest["data"]["passages"]["sha256"] == sha256_file(facqa["passages"])
    assert manifest["data"]["questions"]["sha256"] == sha256_file(facqa["train"])
    assert manifest["data"]["valid"]["sha256"] == sha256_file(facqa["valid"])
    settings = manifest["settings"]
    for key in ("seed", "lr", "epochs", "max_steps", "batch_size", "max_length", "doc_stride"):
        assert key in settings
    assert settings["negatives_ratio"] == 0.5 and settings["seed"] == 7
    assert settings["frozen"] == [WORD_EMBEDDINGS]
    assert "commit" in manifest["git"]
    assert manifest["weights"]["sha256"] == sha256_file(trained["out"] / "reader.safetensors")
    training = manifest["training"]
    assert training["steps"] == 3 and training["seconds_per_step"] > 0
    assert training["epochs"][0]["held_out"]["questions"] > 0
    assert manifest["data_stats"]["train"]["used"] == 32
    for precision in ("fp32", "bf16"):
        figures = manifest["validation"][precision]
        assert figures["questions"] == 4 and figures["negatives"] == 4
        assert 0 <= figures["f1"] <= 1 and 0 <= figures["em"] <= 1
        assert 0 <= figures["no_answer_accuracy"] <= 1
    assert math.isfinite(manifest["tuned"]["no_answer_threshold"])
    assert manifest["validation"]["bf16_long_context"]["questions"] == 4


NEWS_QUESTIONS = Path(__file__).parents[1] / "indexer/reader/news-train.jsonl"


def test_news_questions_become_the_sentence_windows_the_service_reads(shared_dir, tmp_path):
    corpus = shared_dir / "data/news/detik-2025.jsonl"
    examples, stats = news_examples(NEWS_QUESTIONS, corpus, 108)
    assert stats["used"] == stats["questions"] == len(examples) >= 600
    articles = {e.passage_id.split("#")[0] for e in examples}
    texts = {r["id"]: clean_text(r["text"]) for r in read_jsonl(corpus) if r["id"] in articles}
    english = 0
    for e in examples:
        article, start = e.passage_id.split("#")
        text = texts[article]
        window = (int(start), int(start) + len(e.passage))
        assert window in sentence_windows(text, 108)  # the service's window, not a cut of ours
        assert e.passage[e.answer_start : e.answer_end] == e.answers[0]
        english += question_language(e.question) == "en"
    assert english >= 0.6 * len(examples)
    # none of the report sets' or calibration sets' articles is trained on
    held = _held_out_articles()
    assert held and not held & articles
    # a question whose evidence or answer its article does not hold is skipped and counted
    bad = dict(read_jsonl(NEWS_QUESTIONS)[0])
    wrong = [
        {**bad, "id": "x1", "evidence": "tidak ada di artikel"},
        {**bad, "id": "x2", "answers": ["Zzz"]},
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in [bad, *wrong]))
    assert news_examples(path, corpus, 108)[1] == {
        "questions": 3, "used": 1, "answer_not_in_article": 2,
    }  # fmt: skip


def test_the_unshipped_news_questions_are_usable_and_held_apart(shared_dir):
    """news-train-more.jsonl (docs/reader-experiments.md, "More news questions"): every
    question found in its article, none over another news question's article or a report or
    calibration set's."""
    more = NEWS_QUESTIONS.with_name("news-train-more.jsonl")
    examples, stats = news_examples(more, shared_dir / "data/news/detik-2025.jsonl", 108)
    assert stats["used"] == stats["questions"] == len(examples) >= 500
    articles = {e.passage_id.split("#")[0] for e in examples}
    shipped = {r for q in read_jsonl(NEWS_QUESTIONS) for r in q["relevant"]}
    assert not articles & (_held_out_articles() | shipped)


def _held_out_articles() -> set[str]:
    """The articles of the report sets and the calibration set: never trained on."""
    return {r for f in ("detik-written", "detik-tune", "seed") for r in _relevant(f)}


def _relevant(name: str) -> set[str]:
    path = Path(__file__).parents[1] / f"eval/questions/{name}.jsonl"
    return {r for q in read_jsonl(path) for r in q.get("relevant", [])}


def test_a_second_stage_starts_from_trained_weights_and_adds_news(
    trained, encoder_dir, facqa, shared_dir, tmp_path
):
    first = trained["out"] / "reader.safetensors"
    news = NewsData(NEWS_QUESTIONS, shared_dir / "data/news/detik-2025.jsonl")
    # A small held-out slice: reading 370 held-out news questions took two minutes.
    settings = {"max_steps": 1, "limit_valid": 2, "holdout_fraction": 0.02}
    config = TrainConfig(**{**trained["config"], **settings})
    manifest = train(
        encoder_dir, facqa["passages"], facqa["train"], facqa["valid"], tmp_path / "out",
        tmp_path / "checkpoints", config, log=lambda m: None, news=news, init_weights=first,
    )  # fmt: skip
    assert manifest["training"]["started_from"] == {
        "path": str(first),
        "sha256": sha256_file(first),
    }
    assert manifest["data"]["news_questions"]["sha256"] == sha256_file(NEWS_QUESTIONS)
    assert manifest["data_stats"]["train"]["news"]["used"] >= 600
    # one step at a small learning rate moves the first stage's weights, not a fresh start's
    ours = load_file(str(tmp_path / "out/reader.safetensors"))
    start = load_file(str(first))
    assert manifest["weights"]["sha256"] != trained["manifest"]["weights"]["sha256"]
    gap = [(ours[k].float() - start[k].float()).abs().max().item() for k in ours]
    assert 0 < max(gap) < 0.05


def test_lengthened_contexts_keep_the_answer_offsets(facqa):
    passages = load_passages(facqa["passages"])
    examples, stats = prepare_examples(read_jsonl(facqa["train"])[:60], passages)
    assert stats == {"questions": 60, "used": 60}
    pool = passage_pool(examples)
    rng = random.Random(3)
    for e in examples:
        long = lengthen(e, pool, rng, 220)
        assert len(long.passage.split()) >= 220 and e.passage in long.passage
        assert (
            long.passage[long.answer_start : long.answer_end]
            == (e.passage[e.answer_start : e.answer_end])
        )
        assert long.answer_start >= long.passage.index(e.passage)
    negatives = sample_negatives(examples, 0.5, rng)
    assert len(negatives) == 30
    for n in negatives:
        own = next(e for e in examples if e.qid == n.qid)
        assert n.answer_start is None and n.passage == passages[n.passage_id]
        assert n.passage_id != own.passage_id
        assert not any(a.lower() in n.passage.lower() for a in n.answers)
    topical = topical_negatives(examples, 1.0, rng)
    assert 0 < len(topical) < len(examples)  # one-sentence passages give none
    for n in topical:
        own = next(e for e in examples if e.qid == n.qid)
        assert n.answer_start is None and n.passage_id == own.passage_id
        assert len(n.passage) < len(own.passage) and n.passage.split()[-1] in own.passage
        assert not any(a.lower() in n.passage.lower() for a in n.answers)


def test_a_topical_negative_keeps_only_the_sentences_without_the_answer():
    passage = (
        "Wali kota meresmikan jembatan baru di Kecamatan Ilir Barat, Senin (3/2). "
        "Biayanya Rp 12 miliar dari APBD. Jembatan itu menghubungkan dua kampung nelayan."
    )
    cost = Example("q", "Berapa biaya jembatan itu?", "p", passage, ["Rp 12 miliar"], 82, 94)
    negative = without_answer(cost)
    assert negative is not None and negative.answer_start is None
    assert negative.passage == (
        "Wali kota meresmikan jembatan baru di Kecamatan Ilir Barat, Senin (3/2). "
        "Jembatan itu menghubungkan dua kampung nelayan."
    )
    one_sentence = Example(
        "q", "Kapan?", "p", "Jembatan diresmikan Senin (3/2).", ["Senin"], 20, 25
    )
    assert without_answer(one_sentence) is None  # nothing of the topic left to read


def test_loading_is_strict_about_the_keys(trained, encoder_dir, tmp_path):
    weights = trained["out"] / "reader.safetensors"
    state = load_file(str(weights))
    model = load_reader(encoder_dir, weights)
    for key, tensor in state.items():
        loaded = model.state_dict()[key]
        assert loaded.dtype == torch.float32
        assert torch.equal(loaded, tensor.float())
    meta = {"format": "newsqa-extractive-reader"}
    extra = dict(state, **{"encoder.extra.weight": torch.zeros(2, dtype=torch.bfloat16)})
    save_file(extra, str(tmp_path / "extra.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="unexpected"):
        load_reader(encoder_dir, tmp_path / "extra.safetensors")
    missing = {k: v for k, v in state.items() if k != "qa_head.bias"}
    save_file(missing, str(tmp_path / "missing.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="missing"):
        load_reader(encoder_dir, tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError):
        load_reader(encoder_dir, tmp_path / "absent.safetensors")


def test_spans_are_exact_substrings_with_scores(reader, facqa):
    passages = load_passages(facqa["passages"])
    questions = read_jsonl(facqa["valid"])[:3]
    texts = [passages[q["relevant"][0]] for q in questions] + ["", "  Jakarta.  "]
    results = reader.read(questions[0]["question"], texts, top_k=4)
    assert len(results) == len(texts)
    assert results[3] == []  # an empty passage has no span
    for text, spans in zip(texts, results):
        assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
        for span in spans:
            assert text[span.start : span.end] == span.text
            assert span.text == span.text.strip() and span.text
            assert span.text[-1] not in ",.;:" and span.text[0] not in ",.;:"
            assert math.isfinite(span.score) and math.isfinite(span.no_answer_score)
            assert span.margin == span.score - span.no_answer_score
    assert [s.text for s in results[4]] == ["Jakarta"]
    assert reader.read("apa?", []) == []


def test_long_passage_is_read_in_overlapping_windows(reader, facqa):
    passages = list(load_passages(facqa["passages"]).values())
    long_text = " ".join(passages[:12])  # ~500 words
    enc = encode_pairs(reader.tokenizer, ["Siapa?"], [long_text], reader.max_length, 32)
    windows = len(enc["input_ids"])
    assert windows >= 3
    covered = []
    for w in range(windows):
        ctx = [off for off, seq in zip(enc["offset_mapping"][w], enc.sequence_ids(w)) if seq == 1]
        covered.append((ctx[0][0], ctx[-1][1]))
    assert covered[0][0] <= 1 and covered[-1][1] == len(long_text)
    for (_, end), (start, _) in zip(covered, covered[1:]):
        assert start < end  # neighbours overlap

    calls = []
    forward = reader.forward

    def counting(ids, mask):
        calls.append(tuple(ids.shape))
        return forward(ids, mask)

    reader.forward = counting
    try:
        short = passages[20]
        results = reader.read("Siapa yang menyatakan?", [long_text, short], top_k=1000)
    finally:
        reader.forward = forward
    # every window of both passages once: the long passage's full windows in one pass, the
    # short passage (and the long one's short last window) in shorter ones, not padded to 384
    assert sum(rows for rows, _ in calls) == reader.last_timings_ms["windows"] >= 4
    assert calls[0][1] == reader.max_length and calls[-1][1] < reader.max_length
    for text, spans in zip([long_text, short], results):
        assert spans
        for span in spans:
            assert text[span.start : span.end] == span.text
            # whole words: no span starts or ends inside one
            assert not (span.start > 0 and text[span.start - 1 : span.start + 1].isalnum())
            assert not (span.end < len(text) and text[span.end - 1 : span.end + 1].isalnum())
    # candidates come from every window of the long passage, not only the first
    assert max(s.end for s in results[0]) > covered[0][1]
    assert min(s.start for s in results[0]) < covered[1][0]


def test_windows_read_in_length_groups_score_as_in_one_padded_pass(reader, facqa):
    passages = list(load_passages(facqa["passages"]).values())
    texts = [" ".join(passages[:8]), passages[20], " ".join(passages[21].split()[:12])]
    enc = encode_pairs(reader.tokenizer, ["Siapa?"] * 3, texts, reader.max_length, 32)
    ids = torch.tensor(enc["input_ids"])
    mask = torch.tensor(enc["attention_mask"])
    shapes = []

    def counting(i, m):
        shapes.append(tuple(i.shape))
        return reader.forward(i, m)

    start, end = forward_by_length(counting, ids, mask)
    whole_start, whole_end = reader.forward(ids, mask)
    assert len(shapes) >= 3 and sum(rows for rows, _ in shapes) == len(ids)
    assert [width for _, width in shapes] == sorted({w for _, w in shapes}, reverse=True)
    real = mask.bool()
    assert torch.allclose(start[real], whole_start[real].float(), atol=1e-3)
    assert torch.allclose(end[real], whole_end[real].float(), atol=1e-3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Jakarta, ", "Jakarta"),
        ("Badan Tenaga Atom Internasional (IAEA)", "Badan Tenaga Atom Internasional (IAEA)"),
        ("(IAEA", "IAEA"),
        ("IAEA).", "IAEA"),
        ('"Saints".', '"Saints"'),
        ('klub " Saints "', 'klub " Saints "'),
        ("Apa Jang Kau Tjari, Palupi?", "Apa Jang Kau Tjari, Palupi?"),
        ("- 45 derajat", "- 45 derajat"),
        ("“Kartini", "Kartini"),
        (" , . ", ""),
    ],
)
def test_trim_span(text, expected):
    start, end = trim_span(text, 0, len(text))
    assert text[start:end] == expected


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        ("seven underground station", "seven underground stations"),  # ends inside a word
        ("ew stretch", "new stretch"),  # starts inside one
        ("Menteri Perindustria", "Menteri Perindustrian"),
        ("Rp 26", "Rp 26,5"),  # a number's decimal comma belongs to it
        ("5 triliun", "26,5 triliun"),
        ("triliun", "triliun"),  # a comma after a word is no part of it
    ],
)
def test_trim_span_widens_to_whole_words(cut: str, expected: str) -> None:
    text = "The new stretch has seven underground stations, Rp 26,5 triliun, Menteri Perindustrian."
    start = text.index(cut)
    start, end = trim_span(text, start, start + len(cut))
    assert text[start:end] == expected


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        ("-1 MP I", "ke-1 MP I"),  # the reader's span, cut out of "ke-1"
        ("ke", "ke-1"),
        ("19 dan", "Covid-19 dan"),
        ("anak pada", "anak-anak pada"),
        ("2020", "2020"),  # a range's hyphen joins no word
        ("2021", "2021"),
    ],
)
def test_trim_span_keeps_hyphenated_words_whole(cut: str, expected: str) -> None:
    text = "Rapat Paripurna ke-1 MP I membahas Covid-19 dan anak-anak pada 2020-2021."
    start = text.index(cut)
    start, end = trim_span(text, start, start + len(cut))
    assert text[start:end] == expected


def test_trim_span_closes_the_bracket_it_opened():
    text = "Program Layanan Tidak Boleh Berhenti Sekolah (Poltabes) melalui sekolah"
    start, end = trim_span(text, 0, text.index(")"))
    assert text[start:end] == "Program Layanan Tidak Boleh Berhenti Sekolah (Poltabes)"


@pytest.mark.parametrize(
    ("span", "expected"),
    [  # the aside the span starts in, with the name it follows
        (
            "program keluarga harapan) dan BPNT (bantuan pangan non tunai)",
            "PKH (program keluarga harapan) dan BPNT (bantuan pangan non tunai)",
        ),
        ('program "Infrastruktur Tuntas Merata', 'program "Infrastruktur Tuntas Merata"'),
        ('Tuntas Merata" yang', '"Infrastruktur Tuntas Merata" yang'),
        ("(Poltabes", "Poltabes"),  # at the edge, the stray bracket goes
        ("Ma’ruf Amin", "Ma’ruf Amin"),  # an apostrophe, not a closing quote
        ("‘Ma’ruf", "Ma’ruf"),
    ],
)
def test_trim_span_balances_brackets_and_quotes_inside(span, expected):
    text = (
        "Bansos yang tidak tepat sasaran: PKH (program keluarga harapan) dan BPNT (bantuan "
        'pangan non tunai), kata dia. Lalu program "Infrastruktur Tuntas Merata" yang baru. '
        "Program Layanan Tidak Boleh Berhenti Sekolah (Poltabes). Kata ‘Ma’ruf Amin."
    )
    start = text.index(span)
    start, end = trim_span(text, start, start + len(span))
    assert text[start:end] == expected


def test_trim_span_cuts_at_a_stray_bracket_with_none_near():
    text = "rata-rata naik 5 persen) dan harga " + "x " * 40 + "(tahun lalu"
    start, end = trim_span(text, text.index("persen"), text.index(" x"))
    assert text[start:end] == "dan harga"


def test_readable_leaves_out_over_long_words_and_maps_back_exactly():
    text = "a " + "x" * 150 + " b, c\n" + "y" * (MAX_WORD_CHARS + 1) + " " + "z" * MAX_WORD_CHARS
    read = Readable.of(text)
    assert read.text == "a  b, c\n " + "z" * MAX_WORD_CHARS
    for i, ch in enumerate(read.text):
        if not ch.isspace():
            assert text[read.start(i)] == ch and text[read.end(i + 1) - 1] == ch
    assert Readable.of("x" * 200) == Readable("", (0,), (200,))
    assert Readable.of("Wali kota Palembang").text == "Wali kota Palembang"


def test_an_over_long_word_is_not_read_and_the_work_stays_bounded(encoder_dir):
    """One 50,000-character "word" (a data URI, a table scraped without spaces) is one word
    but about 17,000 tokens: it was read in 70 windows, each of its 20 spans per window widened
    to the whole word one character at a time, and POST /ask over a 200,000-character one had
    not answered after minutes, at 8 GB. Now it is left out of what the reader reads, and no
    passage is read in more than ``MAX_WINDOWS`` windows (words just under the limit)."""
    reader = Reader.from_files(encoder_dir, WEIGHTS_PATH)
    answer = " Wali kota Palembang adalah Harnojoyo. Ia menerima penghargaan."
    blob = "data:image/png;base64," + "iVBORw0KGgo" * 4500
    under = " ".join(f"{i:03d}" + "Ab1" * ((MAX_WORD_CHARS - 3) // 3) for i in range(300))
    texts = ["x" * 50_000 + answer, "Kota" + answer + " " + blob + " akhir.", under]
    results = reader.read("Siapa wali kota Palembang?", texts, top_k=5)
    assert reader.last_timings_ms["windows"] <= 2 + MAX_WINDOWS
    assert results[0][0].text == results[1][0].text == "Harnojoyo"
    for text, spans in zip(texts, results):
        for span in spans:
            assert text[span.start : span.end] == span.text
            assert max(len(w) for w in span.text.split()) <= MAX_WORD_CHARS
    # within a character range (a list's second item) of a passage with a word left out
    (inside,) = reader.read_pairs(
        ["Siapa wali kota Palembang?"], [texts[0]], within=[(50_000, len(texts[0]))]
    )
    assert inside and all(50_000 <= s.start and s.end <= len(texts[0]) for s in inside)
    assert texts[0][inside[0].start : inside[0].end] == inside[0].text == "Harnojoyo"


def test_shipped_weights_answer_facqa_valid(encoder_dir, facqa):
    if not WEIGHTS_PATH.is_file():
        pytest.skip(
            f"no shipped reader weights at {WEIGHTS_PATH} yet: train them with "
            "`newsqa reader train --passages ../shared/data/news/facqa-passages.jsonl "
            "--questions ../shared/data/eval/facqa-train.jsonl`"
        )
    assert WEIGHTS_PATH.stat().st_size <= MAX_WEIGHTS_BYTES
    manifest = json.loads(MANIFEST_PATH.read_text())
    assert manifest["weights"]["sha256"] == sha256_file(WEIGHTS_PATH)
    reader = Reader.from_files(encoder_dir, WEIGHTS_PATH)
    assert reader.no_answer_threshold == manifest["tuned"]["no_answer_threshold"]
    passages = load_passages(facqa["passages"])
    questions = read_jsonl(facqa["valid"])[:24]
    gold = [passages[q["relevant"][0]] for q in questions]
    others = gold[1:] + gold[:1]
    random.Random(0).shuffle(others)
    spans = reader.read_pairs([q["question"] for q in questions] * 2, gold + others, top_k=1)
    f1 = [
        max(token_f1(found[0].text, a) for a in q["answers"])
        for q, found in zip(questions, spans[: len(questions)])
    ]
    assert sum(f1) / len(f1) >= 0.6, f1
    answered = [reader.is_answer(found[0]) for found in spans[: len(questions)]]
    declined = [
        not found or not reader.is_answer(found[0])
        for q, text, found in zip(questions, others, spans[len(questions) :])
        if not any(a.lower() in text.lower() for a in q["answers"])
    ]
    assert sum(answered) / len(answered) >= 0.6
    assert sum(declined) / len(declined) >= 0.6


def test_the_settings_offer_every_reader_runtime_and_default_to_the_calibrated_margins():
    """``NEWSQA_READER_RUNTIME`` spells out the runtimes (settings import nothing of the
    indexer): the same set as ``indexer.reader.runtime``, and a default that stands on every
    CPU for a runtime whose margins are torch's, so the shipped thresholds hold for it."""
    from typing import get_args

    from newsqa.settings import ReaderRuntime, Settings

    assert set(get_args(ReaderRuntime)) == set(RUNTIMES)
    assert resolve(Settings.model_fields["reader_runtime"].default) in SAME_THRESHOLDS


@pytest.mark.parametrize("has_bf16", [True, False])
def test_auto_runs_openvino_in_bf16_only_where_the_cpu_has_bf16(monkeypatch, has_bf16):
    """``auto`` and the bf16 runtimes name what runs on this CPU: on one without bf16
    instructions (AVX2 only; simulated, as this machine has them) their fp32 counterparts,
    whose margins the shipped thresholds were calibrated on."""
    import indexer.reader.runtime as runtime

    monkeypatch.setattr(runtime, "cpu_supports_bf16", lambda: has_bf16)
    runs = {name: runtime.resolve(name) for name in RUNTIMES}
    if has_bf16:
        assert runs == {name: name for name in RUNTIMES} | {"auto": "openvino-bf16"}
    else:
        fp32 = {"auto": "openvino", "openvino-bf16": "openvino", "torch-bf16": "torch"}
        assert runs == {name: name for name in RUNTIMES} | fp32
    assert runs["auto"] in SAME_THRESHOLDS


@pytest.mark.parametrize(
    ("runtime", "tolerance"),
    [("openvino", 1e-3), ("openvino-bf16", 0.05), ("onnx-int8", 1e-3), ("torch-bf16", 0.05)],
)
def test_faster_runtimes_read_what_torch_reads(encoder_dir, facqa, settings, runtime, tolerance):
    """The shipped weights exported to ONNX (OpenVINO f32 or bf16, ONNX Runtime int8), and
    torch with bf16 matrix products: mostly the same best spans as torch fp32, and as good, on
    facqa-valid questions inside long contexts (several windows, padded batches); and a pair
    read alone scores as it does beside longer pairs (bf16 rounds differently by batch shape:
    within 0.05). OpenVINO f32 reads exactly what torch reads, and OpenVINO bf16's logits are
    within cosine 0.999 of torch's, window by window: torch's thresholds hold for both."""
    if not WEIGHTS_PATH.is_file():
        pytest.skip("no shipped reader weights")
    torch_reader = Reader.from_files(encoder_dir, WEIGHTS_PATH, runtime="torch")
    fast_reader = Reader.from_files(
        encoder_dir, WEIGHTS_PATH, runtime=runtime, cache_dir=settings.cache_dir
    )
    if not runtime.startswith("torch"):
        kind = "int8" if runtime == "onnx-int8" else "fp32"
        assert export_path(settings.cache_dir, encoder_dir, WEIGHTS_PATH, kind).is_file()
    passages = load_passages(facqa["passages"])
    examples, _ = prepare_examples(read_jsonl(facqa["valid"])[:20], passages)
    rng = random.Random(5)
    pool = passage_pool(examples)
    examples = [lengthen(e, pool, rng, rng.choice([30, 150, 320])) for e in examples]
    questions, texts = [e.question for e in examples], [e.passage for e in examples]
    if runtime in SAME_THRESHOLDS:  # each window's logits within cosine 0.999 of torch's
        enc = encode_pairs(torch_reader.tokenizer, questions, texts)
        ids = torch.tensor(enc["input_ids"], dtype=torch.long)
        mask = torch.tensor(enc["attention_mask"], dtype=torch.long)
        for ours, theirs in zip(torch_reader.forward(ids, mask), fast_reader.forward(ids, mask)):
            for window in range(len(ids)):
                real = mask[window].bool()
                cosine = torch.nn.functional.cosine_similarity(
                    ours[window][real].float(), theirs[window][real].float(), dim=0
                )
                assert cosine >= 0.999, (window, float(cosine))
    by_torch = torch_reader.read_pairs(questions, texts, top_k=1)
    assert torch_reader.last_timings_ms["windows"] > len(examples)  # some pairs span windows
    by_fast = fast_reader.read_pairs(questions, texts, top_k=1)
    same = [a[0].text == b[0].text for a, b in zip(by_torch, by_fast)]
    assert sum(same) >= 0.75 * len(same), same  # the others: near ties (margins within 0.2)
    if runtime in SAME_AS_TORCH:
        assert all(same), same
        for a, b in zip(by_torch, by_fast):
            assert b[0].margin == pytest.approx(a[0].margin, abs=tolerance)

    def f1(found):
        return sum(max(token_f1(s[0].text, a) for a in e.answers) for e, s in zip(examples, found))

    assert f1(by_fast) >= f1(by_torch) - 0.05 * len(examples)
    short = min(range(len(texts)), key=lambda i: len(texts[i]))  # padded in the batch
    alone = fast_reader.read_pairs([questions[short]], [texts[short]], top_k=1)[0][0]
    beside = by_fast[short][0]
    assert (alone.text, alone.start) == (beside.text, beside.start)
    assert alone.score == pytest.approx(beside.score, abs=tolerance)
    assert alone.no_answer_score == pytest.approx(beside.no_answer_score, abs=tolerance)


def test_resume_with_nothing_to_resume_says_so(encoder_dir, facqa, tmp_path):
    """`newsqa reader train --resume` with no resume point (a mistyped --checkpoint-dir) began
    a new run from step 0 without a word; it still starts one (a restart loop passes --resume
    from the first try), but names the folder it found nothing in."""

    class Stopped(Exception):
        pass

    lines: list[str] = []

    def log(message: str) -> None:
        lines.append(message)
        if message.startswith("epoch "):  # the run has begun: what it said before is enough
            raise Stopped

    settings = dict(max_steps=1, batch_size=2, max_length=64, doc_stride=16, log_every=1)
    config = TrainConfig(**settings, limit_questions=4, holdout_fraction=0.0, resume=True)
    args = (encoder_dir, facqa["passages"], facqa["train"], None, tmp_path / "out")
    with pytest.raises(Stopped):
        train(*args, tmp_path / "typo", config, log=log)
    said = [line for line in lines if line.startswith("nothing to resume")]
    assert said and str(tmp_path / "typo") in said[0], lines


@pytest.mark.slow
def test_training_is_reproducible_and_resumes_exactly(trained, encoder_dir, facqa, tmp_path):
    """The fixture's run again, killed in step 2 (after its update, before its resume point)
    and resumed from step 1: the same weights, bit for bit."""

    class Killed(Exception):
        pass

    def killing_log(message: str) -> None:
        if "step 2/3" in message:
            raise Killed

    config = TrainConfig(**{**trained["config"], "save_every": 1, "resume": True})
    args = (encoder_dir, facqa["passages"], facqa["train"], facqa["valid"])
    with pytest.raises(Killed):
        train(*args, tmp_path / "out", tmp_path / "checkpoints", config, log=killing_log)
    assert (tmp_path / "checkpoints/resume.pt").is_file()
    manifest = train(*args, tmp_path / "out", tmp_path / "checkpoints", config, log=lambda m: None)
    assert manifest["training"]["resumed_at_step"] == 1
    assert not (tmp_path / "checkpoints/resume.pt").exists()
    ours = load_file(str(tmp_path / "out/reader.safetensors"))
    reference = load_file(str(trained["out"] / "reader.safetensors"))
    assert ours.keys() == reference.keys()
    assert all(torch.equal(ours[k], reference[k]) for k in ours)
    assert (tmp_path / "out/reader.safetensors").read_bytes() == (
        trained["out"] / "reader.safetensors"
    ).read_bytes()


def test_a_reader_export_the_cache_cannot_hold_is_refused_in_one_line(tmp_path, settings):
    """The reader's OpenVINO runtime over a cache where its graph cannot be exported (a
    read-only NEWSQA_CACHE_DIR; here ``models`` is a file, as root writes through permission
    bits): `newsqa serve` passed its checks and died in the app's start-up (traceback, exit 3)
    and `newsqa ask` said only "[Errno 30] Read-only file system: '.../.reader-onnx.jo1ube8r'".
    ``check_export`` (serve's preflight) now names the folder and the ways out; the torch
    runtime, which exports nothing, passes."""
    from indexer.reader.runtime import check_export
    from newsqa.errors import ModelBuildError

    encoder = build_bundled_model(settings.cache_dir)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "models").write_text("not a folder")
    with pytest.raises(ModelBuildError) as refused:
        check_export("openvino", encoder, WEIGHTS_PATH, cache)
    message = str(refused.value)
    assert message.startswith(
        f"reader runtime openvino runs a graph exported into {cache / 'models'}"
    )
    assert "NEWSQA_READER_RUNTIME=torch" in message
    check_export("torch", encoder, WEIGHTS_PATH, cache)


def test_a_reader_export_waits_for_the_one_under_way_and_sweeps_killed_ones(
    settings, encoder_dir, tmp_path
):
    """The reader's ONNX export ran without a lock: two servers starting at once each spent
    30 s exporting it, and renamed their IR files over each other's; a killed export left its
    450 MB ``.reader-onnx.*`` folder for good. Now a start that finds another export under way
    (the lock held) waits for it and reads its graph without exporting one of its own; and an
    export first removes what killed ones left."""
    import os
    import threading
    import time

    from filelock import FileLock

    from indexer.reader.runtime import load_forward

    cached = export_path(settings.cache_dir, encoder_dir, WEIGHTS_PATH, "fp32")
    if not cached.is_file():  # exported once into the session's cache
        load_forward(
            "openvino",
            encoder_dir,
            WEIGHTS_PATH,
            settings.cache_dir,
            lambda: load_reader(encoder_dir, WEIGHTS_PATH),
        )
    cache = tmp_path / "cache"
    target = export_path(cache, encoder_dir, WEIGHTS_PATH, "fp32")
    target.parent.mkdir(parents=True)
    exported: list[str] = []

    def no_export():  # what this test's starts would export, were they to
        exported.append("export")
        raise RuntimeError("exported while another export held the lock")

    done: dict[str, object] = {}

    def start() -> None:
        try:
            done["forward"] = load_forward("openvino", encoder_dir, WEIGHTS_PATH, cache, no_export)
        except Exception as exc:
            done["error"] = exc

    with FileLock(target.parent / ".reader-export.lock"):
        waiting = threading.Thread(target=start)
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive() and not exported  # it waits for the export under way
        for suffix in (".onnx", ".bin", ".xml"):  # as that export would put them in place
            os.link(cached.with_suffix(suffix), target.with_suffix(suffix))
    waiting.join(timeout=120)
    assert "error" not in done, done.get("error")
    assert callable(done["forward"]) and not exported

    stale = target.parent / ".reader-onnx.killed"
    stale.mkdir()
    (stale / "reader.onnx").write_bytes(b"\0" * 1024)
    with pytest.raises(RuntimeError, match="exported while"):  # another encoder: exports
        load_forward("openvino", tmp_path, WEIGHTS_PATH, cache, no_export)
    assert not stale.exists()
