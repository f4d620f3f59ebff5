"""Datelines and enumerations of news text (``service.news_layout``), on the shared seed page
and on lines written in the shape of other outlets' datelines."""

from __future__ import annotations

from indexer.sentences import split_sentences
from service.news_layout import (
    asks_for_source,
    continues_enumeration,
    dateline_outlets,
    enumeration_around,
    opens_enumeration,
)


def test_dateline_outlets_are_found_and_dates_are_not_outlets(shared_dir):
    page = (shared_dir / "data/news/palembang-awards-2020.txt").read_text(encoding="utf-8")
    assert [page[s:e] for s, e in dateline_outlets(page)] == ["Sumselupdate.com"]
    lines = {
        "Sichuan, Kompas - Pemerintah Indonesia dan China sepakat": ["Kompas"],
        "Palembang (ANTARA News) – Wali Kota membuka": ["ANTARA News"],
        "JAKARTA, KOMPAS.com - Menteri Keuangan": ["KOMPAS.com"],
        "Beijing, Selasa - Pemerintah China membatalkan": [],  # a weekday: the date
        "Wakidi (1890-1979), satu dari tiga pelukis": [],  # no dash after the bracket
        "Harga cabai naik, kata pedagang - bukan petani": [],  # lower case: not a place
    }
    for line, outlets in lines.items():
        assert [line[s:e] for s, e in dateline_outlets(line)] == outlets, line
    text = "Judul\n\nMedan, Waspada.id – Banjir merendam dua kecamatan."
    ((start, end),) = dateline_outlets(text)
    assert text[start:end] == "Waspada.id"


def test_questions_about_the_source():
    assert asks_for_source("which news site reported the flood")
    assert asks_for_source("berita banjir itu dimuat media apa")
    assert not asks_for_source("which Palembang programs won 2020 awards")
    assert not asks_for_source("siapa yang melantik bupati")


def test_enumerations_spread_over_sentences():
    text = (
        "Ada tiga program yang menang. Pertama, aplikasi Lacewa untuk aduan banjir. "
        "Acara digelar di Jakarta. Kedua, gerakan Gasibar di pasar. "
        "Dan yang ketiga, Dapur Gizi Keliling. Kelima, ini bukan urutan berikutnya."
    )
    bounds = split_sentences(text)
    assert enumeration_around(text, bounds, 0) == []
    assert enumeration_around(text, bounds, 1) == [1, 3, 4]
    assert enumeration_around(text, bounds, 4) == [1, 3, 4]  # from a later item back
    assert enumeration_around(text, bounds, 2) == []  # between the items, not one of them
    assert enumeration_around(text, bounds, 5) == []


def test_first_time_is_no_enumeration():
    assert not opens_enumeration("Ia pertama kali datang ke Palembang pada 2019.")
    assert not opens_enumeration("It was the first time the city won.")
    assert opens_enumeration("Dua penghargaan itu, pertama yakni, Program Poltabes.")
    assert continues_enumeration("Kedua, Inovasi Pangling.", 1)
    assert continues_enumeration("Second, the Pangling outreach.", 1)
    assert not continues_enumeration("Kedua, Inovasi Pangling.", 2)
    assert not continues_enumeration("Keduanya menerima hadiah.", 1)


def test_a_numbered_list_is_an_enumeration_item_by_item():
    text = (
        "Ada empat tersangka.\n\n1. Andi Saputra (AS) selaku kepala dinas\n\n"
        "2. Budi Hartono (BH) selaku kontraktor. Ia ditahan sejak Maret.\n\n"
        "3. Citra Lestari (CL) selaku bendahara\n\n5. Dedi (D) selaku swasta"
    )
    bounds = split_sentences(text)
    assert [text[s:e][:2] for s, e in bounds] == ["Ad", "1.", "2.", "Ia", "3.", "5."]
    assert enumeration_around(text, bounds, 2) == [1, 2, 4]  # "5." is not the fourth item
    assert enumeration_around(text, bounds, 3) == []
    assert not opens_enumeration("Tahun 1. Januari dimulai.")
    assert not continues_enumeration("2025. Harga naik.", 1)
