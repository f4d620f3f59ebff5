"""Duplicate detection by id, URL and text."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.dedup import DuplicateReason, dedupe, normalize_url, same_page, text_key
from indexer.documents import Article
from indexer.sources import read_articles


def _article(article_id: str, text: str, url: str | None = None) -> Article:
    return Article(id=article_id, text=text, url=url)


def test_url_normalisation() -> None:
    canonical = normalize_url("https://news.detik.com/berita/d-1/judul")
    assert normalize_url("HTTPS://News.Detik.com/berita/d-1/judul/") == canonical
    assert normalize_url("https://news.detik.com/berita/d-1/judul#komentar") == canonical
    assert (
        normalize_url("https://news.detik.com/berita/d-1/judul?utm_source=x&UTM_medium=y")
        == canonical
    )
    assert normalize_url("https://contoh.example/") == normalize_url("https://contoh.example")
    # Other query parameters can select the article, so they count.
    assert normalize_url("https://contoh.example/baca?id=1") != normalize_url(
        "https://contoh.example/baca?id=2"
    )
    assert (
        normalize_url("https://contoh.example/baca?id=1&utm_campaign=z")
        == "https://contoh.example/baca?id=1"
    )
    # The path is case-sensitive on most servers.
    assert normalize_url("https://contoh.example/A") != normalize_url("https://contoh.example/a")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Already one key before courlan.
        ("https://news.detik.com/d-1/judul", "HTTPS://NEWS.DETIK.COM/d-1/judul/"),
        ("https://news.detik.com/d-1/judul", "https://news.detik.com/d-1/judul#komentar"),
        ("https://contoh.example/baca?id=1", "https://contoh.example/baca?utm_source=x&id=1"),
        ("https://contoh.example/baca?q=a+b", "https://contoh.example/baca?q=a%20b"),
        ("https://contoh.example/", " https://contoh.example "),
        # One key since courlan: default ports, doubled slashes, IDN hosts, percent-encoding.
        ("https://contoh.example/a", "https://contoh.example:443/a"),
        ("http://contoh.example/a", "http://contoh.example:80/a"),
        ("https://contoh.example/berita/a", "https://contoh.example//berita//a"),
        ("https://bücher.example/a", "https://xn--bcher-kva.example/a"),
        ("https://contoh.example/kota/Médan", "https://contoh.example/kota/M%C3%A9dan"),
        ("https://contoh.example/a b", "https://contoh.example/a%20b"),
    ],
)
def test_urls_of_one_page_share_a_key(first: str, second: str) -> None:
    assert normalize_url(first) == normalize_url(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("https://contoh.example/baca?id=1", "https://contoh.example/baca?id=2"),
        ("https://contoh.example/A", "https://contoh.example/a"),
        ("http://contoh.example/a", "https://contoh.example/a"),
        ("https://contoh.example/a", "https://contoh.example:8443/a"),
        ("https://www.contoh.example/a", "https://m.contoh.example/a"),
        # Parameters that courlan's tracker pattern or strict mode would drop, and blank ones.
        ("https://contoh.example/read.php?cid=101", "https://contoh.example/read.php?cid=102"),
        ("https://contoh.example/view?source=a1", "https://contoh.example/view?source=b2"),
        ("https://contoh.example/foto?galeri=3", "https://contoh.example/foto?galeri=4"),
        ("https://contoh.example/berita?slug=banjir", "https://contoh.example/berita?slug=gempa"),
        ("https://contoh.example/read.php?1234", "https://contoh.example/read.php?5678"),
    ],
)
def test_urls_of_different_pages_keep_different_keys(first: str, second: str) -> None:
    assert normalize_url(first) != normalize_url(second)


def test_text_key_ignores_case_and_spacing_only() -> None:
    assert text_key("Harga  Beras\n\nNaik.") == text_key("harga beras naik.")
    assert text_key("Harga beras naik.") != text_key("Harga beras turun.")


PAGE = (
    "Banjir merendam tiga kelurahan di Kecamatan Seberang Ulu I sejak Senin pagi. Air setinggi "
    "lutut orang dewasa masuk ke rumah warga setelah hujan deras turun selama enam jam. Badan "
    "Penanggulangan Bencana Daerah mengerahkan dua perahu karet untuk mengevakuasi warga lanjut "
    "usia dan anak-anak ke masjid terdekat. Dinas Sosial membuka dapur umum di halaman kantor "
    "kelurahan dan membagikan nasi bungkus kepada para pengungsi hingga malam hari."
)


def test_same_url_and_same_text_duplicates_map_to_the_first_article() -> None:
    result = dedupe(
        [
            _article("a", PAGE, "https://contoh.example/1"),
            _article("b", "Berita dua.", "https://contoh.example/2"),
            # the page scraped again: a typo mended and a line of boilerplate more
            _article(
                "a-copy",
                PAGE.replace("nasi bungkus", "nasi kotak") + " Baca juga: harga cabai naik.",
                "https://CONTOH.example/1/",
            ),
            _article("b-copy", "BERITA   dua.", "https://lain.example/b"),
        ]
    )
    assert [a.id for a in result.kept] == ["a", "b"]
    assert result.duplicates == {"a-copy": "a", "b-copy": "b"}
    assert [d.reason for d in result.dropped] == [
        DuplicateReason.SAME_URL,
        DuplicateReason.SAME_TEXT,
    ]


def test_a_copy_of_a_copy_resolves_to_the_kept_article() -> None:
    second = PAGE + " Baca juga: harga cabai naik."
    result = dedupe(
        [
            _article("a", PAGE, "https://contoh.example/1"),
            _article("b", second, "https://contoh.example/1"),  # same URL as a, same page
            _article("c", second, "https://sindikasi.example/9"),  # same text as b
        ]
    )
    assert [a.id for a in result.kept] == ["a"]
    assert result.duplicates == {"b": "a", "c": "a"}


def test_another_text_under_the_same_url_is_an_article_of_its_own() -> None:
    """A correction sent under a new id, or a live page that moved on: folding it into the
    first as a copy lost its words, and its id cited the other text."""
    rewritten = (
        "Kebakaran melanda deretan kios di Pasar 16 Ilir pada Selasa dini hari. Api diduga "
        "berasal dari korsleting listrik di salah satu kios pakaian dan merambat ke kios lain."
    )
    result = dedupe(
        [
            _article("a", PAGE, "https://contoh.example/1"),
            _article("a-2", rewritten, "https://contoh.example/1?utm_source=x"),
            _article(
                "a-3", PAGE.replace("tiga kelurahan", "empat kelurahan"), "https://contoh.example/1"
            ),
        ]
    )
    assert [a.id for a in result.kept] == ["a", "a-2"]
    assert result.duplicates == {"a-3": "a"}
    assert same_page(PAGE, PAGE.replace("enam jam", "tujuh jam"))
    assert not same_page(PAGE, rewritten)


def test_repeated_id_with_same_text_is_a_plain_duplicate() -> None:
    result = dedupe([_article("a", "Isi."), _article("a", "isi.")])
    assert [a.id for a in result.kept] == ["a"]
    assert [d.reason for d in result.dropped] == [DuplicateReason.REPEATED_ID]
    assert result.duplicates == {}


def test_id_conflict_keeps_the_first_and_is_reported_but_not_mapped() -> None:
    first = _article("a", "Isi pertama.", "https://contoh.example/1")
    conflicting = _article("a", "Isi yang lain sama sekali.", "https://contoh.example/2")
    later = _article("z", "Isi yang lain sama sekali.", "https://contoh.example/2")
    result = dedupe([first, conflicting, later])
    # The conflicting record's content is not in the index, so a later copy of it is kept.
    assert result.kept == [first, later]
    [dropped] = result.dropped
    assert dropped.article is conflicting
    assert dropped.reason is DuplicateReason.ID_CONFLICT and dropped.kept_id == "a"
    assert result.duplicates == {}


def test_articles_without_url_are_compared_by_text_only() -> None:
    result = dedupe([_article("a", "Satu."), _article("b", "Dua.")])
    assert [a.id for a in result.kept] == ["a", "b"] and result.dropped == []


def test_detik_corpus_has_91_duplicates_all_by_url(shared_dir: Path) -> None:
    articles = list(read_articles([shared_dir / "data" / "news" / "detik-2025.jsonl"]))
    result = dedupe(a for a in articles if isinstance(a, Article))
    assert len(result.dropped) == 91
    assert len(result.duplicates) == 91
    assert len(result.kept) == 909
    assert {d.reason for d in result.dropped} == {DuplicateReason.SAME_URL}
    kept_ids = {a.id for a in result.kept}
    assert set(result.duplicates.values()) <= kept_ids
