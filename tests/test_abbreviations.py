"""Questions for an abbreviation's long form, and the long forms news spells out in brackets
(``service.abbreviations``), down to the short answer the shipped reader gives."""

from __future__ import annotations

import pytest

from indexer.reader import WEIGHTS_PATH
from indexer.store.segment import ChunkRecord
from service.abbreviations import asked_abbreviation, long_form
from service.reader_answer import load_reader_answerer
from service.retrieval import ArticleHit, Passage


@pytest.mark.parametrize(
    ("question", "abbreviation"),
    [
        ("Pangling singkatan dari apa", "Pangling"),
        ("TKD itu singkatan dari apa?", "TKD"),
        ("kepanjangan Poltabes itu apa", "Poltabes"),
        ("Apakah kepanjangan dari JICA?", "JICA"),
        ("what does Poltabes stand for", "Poltabes"),
        ("What does the abbreviation 3T stand for?", "3T"),
        ("Pangling is short for what", "Pangling"),
        # the other way round: the long form is given, the abbreviation asked
        ("Apakah singkatan dari Kepolisian Sektor", None),
        ("siapa wali kota Palembang", None),
        ("apa singkatan dari apa", None),
    ],
)
def test_asked_abbreviation(question: str, abbreviation: str | None) -> None:
    assert asked_abbreviation(question) == abbreviation


@pytest.mark.parametrize(
    ("text", "span", "abbreviation", "expected"),
    [
        # the span runs up to the bracket, into it, or past it: cut at the bracket
        ("Kedua, Inovasi Penyuluhan Keliling Anak (Pangling).", "Inovasi Penyuluhan Keliling Anak",
         "Pangling", "Inovasi Penyuluhan Keliling Anak"),
        ("Badan Rehabilitasi dan Rekonstruksi (BRR) Aceh menyatakan", "Badan Rehabilitasi dan "
         "Rekonstruksi (BRR) Aceh", "BRR", "Badan Rehabilitasi dan Rekonstruksi"),
        # the start moves to the words whose initials spell it
        ("antara Pemerintah RI dan Gerakan Aceh Merdeka (GAM) di Helsinki", "Pemerintah RI dan "
         "Gerakan Aceh Merdeka", "GAM", "Gerakan Aceh Merdeka"),
        # the long form inside the bracket after the abbreviation
        ("Ketua KPU (Komisi Pemilihan Umum) Jawa Barat", "Komisi Pemilihan Umum", "KPU",
         "Komisi Pemilihan Umum"),
        # said in words
        ("Adapun Pangling adalah kependekan dari Penyuluhan Keliling Anak.",
         "Penyuluhan Keliling Anak", "Pangling", "Penyuluhan Keliling Anak"),
        ("The council said Sesumu stands for Sekolah Sungai Musi.", "Sekolah Sungai Musi",
         "Sesumu", "Sekolah Sungai Musi"),
        ("Poltabes merupakan singkatan dari Program Layanan Tidak Boleh Berhenti Sekolah.",
         "Program Layanan Tidak Boleh Berhenti Sekolah", "Pangling", None),
        ("Poltabes stands for Program Layanan Tidak Boleh Berhenti Sekolah.",
         "Program Layanan Tidak Boleh Berhenti Sekolah", "Pangling", None),
        ("Pangling adalah kependekan dari Penyuluhan Keliling Anak. Program itu menyasar anak.",
         "menyasar anak", "Pangling", None),
        # spelling out nothing: no bracket with the abbreviation next to the span
        ("Inovasi Penyuluhan Keliling Anak diluncurkan di Palembang", "Inovasi Penyuluhan",
         "Pangling", None),
        ("Program Sekolah (Poltabes) dan Inovasi Keliling (Pangling)", "Program Sekolah",
         "Pangling", None),
        ("Program Sekolah (Poltabes) dan Inovasi Keliling (Pangling)", "Program Sekolah "
         "(Poltabes) dan Inovasi Keliling", "Pangling", None),
    ],
)  # fmt: skip
def test_long_form(text: str, span: str, abbreviation: str, expected: str | None) -> None:
    start = text.index(span)
    found = long_form(text, start, start + len(span), abbreviation)
    assert (text[found[0] : found[1]] if found else None) == expected


@pytest.mark.skipif(not WEIGHTS_PATH.is_file(), reason="no shipped reader weights")
def test_the_long_form_in_brackets_answers(settings) -> None:
    """English and Indonesian, the reader's span becomes the long form the bracket closes,
    and the answer cites the sentence that spells it out."""
    builder = load_reader_answerer(settings)
    text = (
        "Dinas Kesehatan Kota Lubuklinggau kembali menjalankan program kesehatan lansia tahun "
        "ini. Program Sapa Lansia Keliling (Sarling) mendatangi warga lanjut usia di rumah "
        "mereka setiap pekan untuk pemeriksaan gratis."
    )
    chunk = ChunkRecord(3, "s", 0, 0, len(text), text, "Layanan lansia", None, None, None, None)
    hits = [ArticleHit("s", 1.0, [Passage(chunk)])]
    for question in ("Sarling singkatan dari apa", "what does Sarling stand for"):
        answer = builder.answer(question, hits)
        assert not answer.abstained, question
        assert answer.short_answers[0].text in (
            "Sapa Lansia Keliling",
            "Program Sapa Lansia Keliling",
        )
        assert answer.citations[0].quote.startswith("Program Sapa Lansia Keliling (Sarling)")
