"""Sentence spans: Indonesian abbreviations, numbers, quotes, paragraphs, exact offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.sentences import sentence_windows, split_sentences

NEWS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "news"


def sents(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def check_invariants(text: str, spans: list[tuple[int, int]]) -> None:
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip(), repr(piece)
        previous_end = end
    # everything outside the spans is whitespace
    covered = "".join(text[s:e] for s, e in spans)
    assert "".join(covered.split()) == "".join(text.split())


def test_palembang_paragraph_exact_spans():
    text = (
        "Walikota Palembang H. Harnojoyo menerima penghargaan di Gedung Tribrata, "
        "Rabu (25/11/2020). Anggarannya Rp1,5 triliun.\n"
        "“Pemkot Palembang terus berkomitmen,” tegasnya. Ia menambahkan, "
        "“Kami bangga.” Lalu acara ditutup."
    )
    spans = split_sentences(text)
    assert sents(text) == [
        (
            "Walikota Palembang H. Harnojoyo menerima penghargaan di Gedung Tribrata, "
            "Rabu (25/11/2020)."
        ),
        "Anggarannya Rp1,5 triliun.",
        "“Pemkot Palembang terus berkomitmen,” tegasnya.",
        "Ia menambahkan, “Kami bangga.”",
        "Lalu acara ditutup.",
    ]
    # hand-computed offsets of the first two sentences
    assert spans[0] == (0, 91)
    assert spans[1] == (92, 118)
    assert text[118] == "\n"
    check_invariants(text, spans)


@pytest.mark.parametrize(
    "abbrev",
    [
        "H.",
        "Hj.",
        "Dr.",
        "dr.",
        "Prof.",
        "Ir.",
        "S.H.",
        "M.Si.",
        "No.",
        "Jl.",
        "Kec.",
        "Kab.",
        "Rp.",
        "dll.",
        "dsb.",
        "tsb.",
        "a.n.",
        "u.p.",
        "St.",
        "Tn.",
        "Ny.",
        "A.",
        "KH.",
        "Drs.",
    ],
)
def test_no_split_after_abbreviation(abbrev: str):
    text = f"Surat itu untuk {abbrev} 25 Budi yang hadir. Kalimat kedua."
    assert sents(text) == [f"Surat itu untuk {abbrev} 25 Budi yang hadir.", "Kalimat kedua."]


def test_titles_and_degrees_before_names():
    text = "Rektor Prof. Dr. Ir. Budi Santoso, S.H., M.Si. membuka acara di Jl. Sudirman No. 5. Acara selesai."
    assert sents(text) == [
        "Rektor Prof. Dr. Ir. Budi Santoso, S.H., M.Si. membuka acara di Jl. Sudirman No. 5.",
        "Acara selesai.",
    ]


def test_initials_and_dotted_abbreviations():
    text = "Susilo B. Yudhoyono bertemu B. J. Habibie. Surat a.n. Tn. Ali dikirim u.p. Ny. Ani."
    assert sents(text) == [
        "Susilo B. Yudhoyono bertemu B. J. Habibie.",
        "Surat a.n. Tn. Ali dikirim u.p. Ny. Ani.",
    ]


def test_numbers_are_not_boundaries():
    text = (
        "Sebanyak 1.500 warga menerima Rp 2,5 juta pada pukul 10.00 WIB. Dana tahap 2. Lalu cair."
    )
    assert sents(text) == [
        "Sebanyak 1.500 warga menerima Rp 2,5 juta pada pukul 10.00 WIB.",
        "Dana tahap 2.",
        "Lalu cair.",
    ]


def test_list_ending_abbreviations_split_only_before_capital():
    text = "Bantuan berupa beras, minyak, dll. yang dibagikan warga. Ada pula sayur, buah, dll. Selain itu ada susu."
    assert sents(text) == [
        "Bantuan berupa beras, minyak, dll. yang dibagikan warga.",
        "Ada pula sayur, buah, dll.",
        "Selain itu ada susu.",
    ]


def test_question_exclamation_and_quotes():
    text = '“Apa kabar?” tanya Budi. Dia diam! Kenapa? Ia berkata "ayo pergi." Lalu pergi. Katanya.” Selesai.'
    assert sents(text) == [
        "“Apa kabar?” tanya Budi.",
        "Dia diam!",
        "Kenapa?",
        'Ia berkata "ayo pergi."',
        "Lalu pergi.",
        "Katanya.”",
        "Selesai.",
    ]


def test_comma_after_closing_quote_continues_sentence():
    text = "“Kita mampu menjaga inflasi,” ujar Prabowo. Ia puas."
    assert sents(text) == ["“Kita mampu menjaga inflasi,” ujar Prabowo.", "Ia puas."]


def test_paragraph_breaks_split_and_whitespace_is_excluded():
    text = "  Judul Berita\n\nRabu, 25 November 2020\r\n  Isi pertama.   Isi kedua  \n\n"
    spans = split_sentences(text)
    assert sents(text) == ["Judul Berita", "Rabu, 25 November 2020", "Isi pertama.", "Isi kedua"]
    assert spans[0] == (2, 14)
    check_invariants(text, spans)


def test_list_markers_stay_with_their_item():
    text = "1. Pertama dibahas.\n2. Kedua disetujui.\nIV. Penutup."
    assert sents(text) == ["1. Pertama dibahas.", "2. Kedua disetujui.", "IV. Penutup."]


def test_no_split_inside_urls_and_ellipsis_splits():
    text = "Baca di detik.com/berita hari ini... Kemudian tutup."
    assert sents(text) == ["Baca di detik.com/berita hari ini...", "Kemudian tutup."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t"])
def test_blank_text(text: str):
    assert split_sentences(text) == []


def test_text_without_final_punctuation():
    assert sents("Tanpa titik di akhir") == ["Tanpa titik di akhir"]


def test_invariants_on_detik_and_palembang():
    with (NEWS_DIR / "detik-2025.jsonl").open(encoding="utf-8") as f:  # not splitlines(): \x85
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    texts.append((NEWS_DIR / "palembang-awards-2020.txt").read_text(encoding="utf-8"))
    total = 0
    for text in texts:
        spans = split_sentences(text)
        check_invariants(text, spans)
        total += len(spans)
    assert total > 10 * len(texts)
    palembang = sents(texts[-1])
    assert any(s.startswith("Walikota Palembang H. Harnojoyo mengatakan") for s in palembang)
    assert any(s.endswith("Jakarta Selatan, Rabu (25/11/2020).") for s in palembang)


@pytest.mark.parametrize("overlap", [False, True])
@pytest.mark.parametrize("max_words", [1, 20, 108])
def test_sentence_windows_hold_whole_sentences_within_the_limit(max_words: int, overlap: bool):
    text = (NEWS_DIR / "palembang-awards-2020.txt").read_text(encoding="utf-8")
    spans = split_sentences(text)
    windows = sentence_windows(text, max_words, overlap)
    starts, ends = [s for s, _ in spans], [e for _, e in spans]
    seen: set[int] = set()
    for lo, hi in windows:
        assert lo in starts and hi in ends  # whole sentences
        inside = [i for i, (s, e) in enumerate(spans) if lo <= s and e <= hi]
        assert inside == list(range(inside[0], inside[-1] + 1))
        assert len(inside) == 1 or len(text[lo:hi].split()) <= max_words
        seen.update(inside)
    assert seen == set(range(len(spans)))  # every sentence read
    pairs = list(zip(windows, windows[1:]))
    assert all(a[0] < b[0] for a, b in pairs)
    if not overlap:
        assert all(a[1] < b[0] for a, b in pairs)
    if max_words == 108:
        assert 3 <= len(windows) < len(spans)  # a news page is read in a few windows


def test_sentence_windows_reject_a_zero_limit():
    with pytest.raises(ValueError, match="max_words"):
        sentence_windows("Satu. Dua.", 0)
