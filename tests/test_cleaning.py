"""Boilerplate removal and whitespace/Unicode normalisation of article text."""

from __future__ import annotations

import unicodedata

import pytest

from indexer.cleaning import clean_text, normalize_inline


def test_paragraphs_are_separated_by_one_blank_line_whatever_the_source_used() -> None:
    assert clean_text("Satu.\nDua.\n\n\n\nTiga.\r\nEmpat.") == "Satu.\n\nDua.\n\nTiga.\n\nEmpat."


def test_whitespace_inside_lines_is_collapsed_and_stripped() -> None:
    assert (
        clean_text("  Harga \t naik\u00a0 tajam.  \n\t\n Kata   BPS. ")
        == "Harga naik tajam.\n\nKata BPS."
    )


def test_text_is_nfc_normalised() -> None:
    decomposed = "Cafe\u0301 di Jakarta"
    assert clean_text(decomposed) == "Café di Jakarta"
    assert unicodedata.is_normalized("NFC", clean_text(decomposed))


def test_utf8_read_as_latin1_is_repaired() -> None:
    # As in detik-0039: "Jóhann Viðar Ívarsson" scraped as UTF-8 bytes decoded as Latin-1.
    mojibake = "Jóhann Viðar Ívarsson".encode().decode("latin-1")
    assert clean_text(f"Kata {mojibake}, analis.") == "Kata Jóhann Viðar Ívarsson, analis."


def test_mojibake_holding_a_next_line_character_is_not_split_into_lines() -> None:
    # "م" is D9 85 in UTF-8; read as Latin-1 the 0x85 is NEL, which splitlines() breaks on.
    mojibake = "مرحبا".encode().decode("latin-1")
    assert "\x85" in mojibake
    assert clean_text(f"Ayat {mojibake} dibaca.") == "Ayat مرحبا dibaca."


@pytest.mark.parametrize(
    ("scraped", "meant"),
    [
        # UTF-8 read as Windows-1252: "€", "™", "œ" are not Latin-1 characters, so a Latin-1
        # round trip cannot undo them.
        ("Itâ€™s a deal, kata Menteri.", "It’s a deal, kata Menteri."),
        ("â€œKami siapâ€\x9d, ujarnya.", "“Kami siap”, ujarnya."),
        ("Jakarta â€” Harga naik 10â‚¬.", "Jakarta — Harga naik 10€."),
        ("Ã‰cole Polytechnique", "École Polytechnique"),
        ("Ð\x9cÐ¾Ñ\x81ÐºÐ²Ð° dan Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "Москва dan привет"),
        # Mis-decoded twice over.
        ("Dia doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t tahu.", "Dia doesn’t tahu."),
        # Windows-1252 bytes read as Latin-1 leave C1 controls where the quotes were.
        ("Ia berkata \x93cukup\x94.", "Ia berkata “cukup”."),
    ],
)
def test_windows_1252_mojibake_is_repaired(scraped: str, meant: str) -> None:
    assert clean_text(scraped) == meant


def test_correct_typography_is_kept_as_published() -> None:
    # Curly quotes, dashes, ligatures, full-width letters and entities are not mojibake.
    text = "“Kami” ‘siap’ — ﬁnal di Ｊａｋａｒｔａ, AT&amp;T… «oké» Ã"
    assert clean_text(text) == text


def test_form_feed_still_separates_paragraphs() -> None:
    assert clean_text("Satu.\x0cDua.\x0bTiga.") == "Satu.\n\nDua.\n\nTiga."


def test_cleaning_repaired_text_again_changes_nothing() -> None:
    once = clean_text("Itâ€™s\tÃ©tÃ© \x93ok\x94\n\nJÃ³hann  ViÃ°ar")
    assert once == "It’s été “ok”\n\nJóhann Viðar"
    assert clean_text(once) == once


@pytest.mark.parametrize(
    ("scraped", "meant"),
    [
        ("kafe\u00a0Ã© baru", "kafe é baru"),
        ("berkata\u00a0â€œkami siapâ€\x9d.", "berkata “kami siap”."),
        ("caf\u00adÃ© itu", "café itu"),
        # ftfy read the no-break space with the run as Mac Roman: "Kataʉ۪s"
        ("Kata\u00a0â€™s rumah", "Kata ’s rumah"),
        ("Kata\u00a0\u00a0â€™s", "Kata ’s"),
        ("Kata\u00adâ€™s", "Kata’s"),
        ("voilÃ\u00a0 tout", "voilà tout"),  # a no-break space that is part of the run
    ],
)
def test_mojibake_beside_a_no_break_space_or_soft_hyphen_is_repaired(
    scraped: str, meant: str
) -> None:
    # one ftfy pass left these unrepaired until the space was normalised: a second cleaning
    # changed the text
    assert clean_text(scraped) == meant
    assert normalize_inline(scraped) == meant


def test_invisible_characters_are_removed() -> None:
    assert clean_text("Pemi\u00adlu\u200b 2029\u2060 digelar.") == "Pemilu 2029 digelar."


@pytest.mark.parametrize(
    "line",
    [
        "Advertisements",
        "ADVERTISEMENT",
        "SCROLL TO CONTINUE WITH CONTENT",
        "SCROLL TO RESUME CONTENT",
        "Simak juga Video 'Janji Mensos ke Prabowo: Tak Akan Korupsi hingga Main-main Proyek':",
        "Simak juga Video: Sederet Capaian 1 Tahun Kabinet Merah Putih",
        "Simak Video 'Prabowo Panggil Menkeu Purbaya-Menhan Sjafrie, Beri Tugas Ini':",
        'Tonton juga video "Prabowo soal Korupsi CPO Rp 13 T: Bisa Renovasi 8.000 Sekolah" di sini:',
        'Tonton juga "Bank Indonesia Umumkan BI-Rate Tetap 5,75%" di sini:',
        "Lihat juga Video: KPK OTT Wamenaker Immanuel Ebenezer",
        "Video: Melihat Dampak Perubahan Iklim yang Semakin Nyata",
        "Saksikan LiveDetikpagi:",
        "Saksikan Live Detikpagi :",
        '"Detik Pagi, Jangan Tidur Lagi!"',
        "Baca juga: Harga Beras Naik Lagi",
        "Baca selengkapnya di halaman berikutnya....",
        "Baca beritanya dalambahasa Inggris",
        "[Gambas:Video 20detik]",
        "[Gambas:Instagram]",
        "(Foto: dok. Cetaphil)",
        "Editor: Hani Anggraini",
        "Pos terkait",
        "---",
    ],
)
def test_boilerplate_line_is_dropped(line: str) -> None:
    assert clean_text(f"Awal berita.\n{line}\nAkhir berita.") == "Awal berita.\n\nAkhir berita."


@pytest.mark.parametrize(
    "line",
    [
        "Video tersebut langsung menuai reaksi keras dari warganet.",
        "Warga diminta membaca juga aturan baru itu sebelum mendaftar.",
        "Iklan advertisements itu dipasang di halte.",
        "Simak informasinya!",
        "Selanjutnya, Eko merasa bersyukur atas perhatian yang diberikan.",
    ],
)
def test_body_line_that_mentions_a_boilerplate_word_is_kept(line: str) -> None:
    assert clean_text(line) == line


def test_everything_from_the_comment_form_on_is_dropped() -> None:
    page = "\n".join(
        [
            "Isi berita.",
            "Tinggalkan Balasan",
            "Nama *",
            "Komentar pembaca yang tidak termasuk berita.",
        ]
    )
    assert clean_text(page) == "Isi berita."


def test_comment_form_notice_without_heading_also_ends_the_article() -> None:
    page = "Isi berita.\nAlamat email Anda tidak akan dipublikasikan. Ruas yang wajib ditandai *\nSitus web"
    assert clean_text(page) == "Isi berita."


def test_only_boilerplate_gives_empty_text() -> None:
    assert clean_text("ADVERTISEMENT\n\n  \nSCROLL TO CONTINUE WITH CONTENT\n") == ""
    assert clean_text("") == ""


def test_cleaning_is_idempotent() -> None:
    once = clean_text("A  b.\nADVERTISEMENT\n\nC\td.")
    assert clean_text(once) == once


def test_normalize_inline_collapses_a_title_to_one_line() -> None:
    assert normalize_inline("  Banjir\n Rendam   Palembang ") == "Banjir Rendam Palembang"


def test_a_numbered_list_scraped_onto_one_line_gets_one_item_per_paragraph() -> None:
    # detik's lists often lose their line breaks, each number glued to the item before it:
    # the numbers must come apart where the next item's number begins ("3,355." is 3,35).
    scraped = (
        "Peringkat kota:\n"
        "1. Kota Lahat skor 3,41 dari 52. Kabupaten Muara Enim Rp 1,5 triliun3. "
        "Kota Prabumulih tahun 20194. Kabupaten Ogan Ilir skor 3,355. "
        "(Kota Pagar Alam) sejak 2006,6. Kabupaten Empat Lawang\nSumber: survei."
    )
    assert clean_text(scraped).split("\n\n") == [
        "Peringkat kota:",
        "1. Kota Lahat skor 3,41 dari 5",
        "2. Kabupaten Muara Enim Rp 1,5 triliun",
        "3. Kota Prabumulih tahun 2019",
        "4. Kabupaten Ogan Ilir skor 3,35",
        "5. (Kota Pagar Alam) sejak 2006,",
        "6. Kabupaten Empat Lawang",
        "Sumber: survei.",
    ]


def test_ten_and_more_items_are_cut_at_their_two_digit_numbers() -> None:
    items = [f"Desa Suka{chr(97 + i)} tahun 201{i % 10}" for i in range(12)]
    glued = "".join(f"{n}. {item}" for n, item in enumerate(items, start=1))
    assert clean_text(glued).split("\n\n") == [f"{n}. {x}" for n, x in enumerate(items, 1)]


@pytest.mark.parametrize(
    "line",
    [
        "1. Pada tahun 2022. Kemudian harga naik lagi.",  # one "2." is a year before a sentence
        "1. Kendaraan roda empat 7 unit senilai Rp 3,5 miliar",
        "Tahun 2021. Tahun 2022. Tahun 2023. Harga naik.",  # no list opens the line
        "1. Harga naik 3. Lalu turun 2. Lalu naik.",  # numbers out of order
    ],
)
def test_a_line_that_is_no_glued_list_is_kept_whole(line: str) -> None:
    assert clean_text(line) == line
