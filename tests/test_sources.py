"""Reading corpus files into Articles, and bad records into SkippedRecords."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from indexer.documents import Article, SkippedRecord
from indexer.sources import read_articles

WIB = timezone(timedelta(hours=7))

PALEMBANG_BOILERPLATE = (
    "Advertisements",
    "Pos terkait",
    "Tinggalkan Balasan",
    "Alamat email",
    "Akismet",
)


def _articles(records: list[Article | SkippedRecord]) -> list[Article]:
    return [r for r in records if isinstance(r, Article)]


def _skipped(records: list[Article | SkippedRecord]) -> list[SkippedRecord]:
    return [r for r in records if isinstance(r, SkippedRecord)]


def _jsonl_line(**fields: object) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8") + b"\n"


# --- the shared corpora -------------------------------------------------------------------------


def test_palembang_text_page(shared_dir: Path) -> None:
    path = shared_dir / "data" / "news" / "palembang-awards-2020.txt"
    [article] = list(read_articles([path]))
    assert isinstance(article, Article)
    assert article.id == "palembang-awards-2020"
    assert article.title == "Palembang Raih 2 Penghargaan Top 21 Inovasi Pelayanan Publik 2020"
    assert article.published is not None and article.published.tzinfo is not None
    assert article.published.date() == date(2020, 11, 25)
    assert article.url is None and article.source is None
    assert article.origin == str(path)
    assert "Poltabes" in article.text and "Pangling" in article.text
    for boilerplate in PALEMBANG_BOILERPLATE:
        assert boilerplate not in article.text
    # The date line and headline are metadata, not body.
    assert not article.text.startswith(("Palembang Raih", "Rabu, 25 November 2020"))
    assert article.text.endswith("tutupnya. (rel)")


def test_detik_corpus_reads_every_row_cleaned(shared_dir: Path) -> None:
    path = shared_dir / "data" / "news" / "detik-2025.jsonl"
    records = list(read_articles([path]))
    articles = _articles(records)
    assert len(records) == len(articles) == 1000
    assert len({a.id for a in articles}) == 1000
    for article in articles:
        assert "SCROLL TO CONTINUE WITH CONTENT" not in article.text
        assert "ADVERTISEMENT" not in article.text
        assert "Simak juga Video" not in article.text
        assert "\n\n\n" not in article.text and article.text == article.text.strip()
        assert article.published is not None and article.published.tzinfo is not None
        assert article.url and article.title
    first = articles[0]
    assert first.id == "detik-0001"
    assert first.origin == f"{path}:1"
    assert first.published == datetime(2025, 10, 21, 20, 43, tzinfo=WIB)
    assert first.category == "Ekonomi & Keuangan"


# --- JSON Lines: good and bad records -----------------------------------------------------------


def test_bad_jsonl_lines_are_skipped_and_good_lines_still_read(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    cut_short = '{"id": "a2", "text": "tanpa penutup"'
    path.write_bytes(
        _jsonl_line(id="a1", title="Judul", text="Isi pertama.\nADVERTISEMENT\nIsi kedua.")  # 1
        + cut_short.encode()
        + b"\r\n"  # 2: invalid JSON, a CRLF line
        + _jsonl_line(id="a3", title="Tanpa isi")  # 3: missing text
        + b"\n"  # 4: blank, ignored
        + b'{"id": "a5", "text": "Harga \xff\xfe naik."}\n'  # 5: invalid UTF-8
        + b'["not", "an", "object"]\n'  # 6
        + _jsonl_line(id=7, text="Isi.")  # 7: id of the wrong type
        + _jsonl_line(id="a8", text="Isi.", url=["x"])  # 8: url of the wrong type
        + _jsonl_line(id="a9", text="SCROLL TO CONTINUE WITH CONTENT\nADVERTISEMENT")  # 9
        + _jsonl_line(id="", text="Isi.")  # 10: empty id
        + _jsonl_line(id="a11", text="Isi terakhir.", published="2025-06-01T10:00:00+07:00")  # 11
    )
    records = list(read_articles([path]))

    articles = _articles(records)
    assert [a.id for a in articles] == ["a1", "a11"]
    assert articles[0].text == "Isi pertama.\n\nIsi kedua."
    assert articles[0].title == "Judul"
    assert articles[0].origin == f"{path}:1"
    assert articles[1].published == datetime(2025, 6, 1, 10, tzinfo=WIB)

    skipped = {r.line: r for r in _skipped(records)}
    assert set(skipped) == {2, 3, 5, 6, 7, 8, 9, 10}
    assert all(r.path == str(path) for r in skipped.values())
    # where the line ends, not "column 1" of the line break after it
    assert (
        skipped[2].reason == f"invalid JSON: Expecting ',' delimiter at column {len(cut_short) + 1}"
    )
    assert "'text'" in skipped[3].reason
    assert "invalid UTF-8" in skipped[5].reason
    (tmp_path / "b.jsonl").write_text('{"id": "b1", "text": "Isi')  # cut inside its text
    [cut_in_text] = _skipped(list(read_articles([tmp_path / "b.jsonl"])))
    assert cut_in_text.reason == "invalid JSON: Unterminated string starting at column 22"
    assert skipped[5].article_id == "a5"  # named: a prune keeps its indexed version
    assert "not a JSON object" in skipped[6].reason
    assert "'id'" in skipped[7].reason and "string" in skipped[7].reason
    assert "'url'" in skipped[8].reason
    assert "empty after removing boilerplate" in skipped[9].reason
    assert "'id'" in skipped[10].reason
    # Reading order is kept: records come out in line order.
    assert [r.line if isinstance(r, SkippedRecord) else r.origin for r in records][:3] == [
        f"{path}:1",
        2,
        3,
    ]


def test_a_line_beyond_the_parsers_limits_costs_that_line_only(tmp_path: Path) -> None:
    """Nesting deeper than the parser recurses, or a number longer than Python converts
    (4,300 digits), ended the whole run with a traceback; a NUL in the text cut the stored
    passage short where it stood."""
    path = tmp_path / "limits.jsonl"
    path.write_bytes(
        b'{"id": "d1", "text": "x", "meta": '
        + b"[" * 3000
        + b"]" * 3000
        + b"}\n"
        + b'{"id": "d2", "text": "y", "n": '
        + b"7" * 5000
        + b"}\n"
        + _jsonl_line(id="d3", text="Kebakaran malam. \x00Sebanyak 120 kios\x07 terbakar.")
    )
    records = list(read_articles([path]))
    assert [(r.line, r.reason) for r in _skipped(records)] == [
        (1, "invalid JSON: nested too deeply"),
        (2, "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion"),
    ]
    [article] = _articles(records)
    assert article.text == "Kebakaran malam. Sebanyak 120 kios terbakar."


def test_unparseable_published_date_keeps_the_article(tmp_path: Path) -> None:
    path = tmp_path / "dates.jsonl"
    path.write_bytes(
        _jsonl_line(id="d1", text="Isi.", published="bukan tanggal")
        # a "no date" placeholder that is year 0 in Jakarta: an OverflowError traceback before
        + _jsonl_line(id="d2", text="Isi lain.", published="0001-01-01T00:00:00+08:00")
    )
    articles = list(read_articles([path]))
    assert [(a.id, a.published) for a in articles if isinstance(a, Article)] == [
        ("d1", None),
        ("d2", None),
    ]


def test_byte_order_mark_on_first_line_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _jsonl_line(id="b1", text="Isi."))
    assert [a.id for a in _articles(list(read_articles([path])))] == ["b1"]


# --- files and folders --------------------------------------------------------------------------


def test_folder_is_read_recursively_in_sorted_order_ignoring_other_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.jsonl").write_bytes(_jsonl_line(id="z", text="Isi z."))
    (tmp_path / "a.jsonl").write_bytes(_jsonl_line(id="a", text="Isi a."))
    (tmp_path / "c.txt").write_text("Judul C\nIsi c.\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# bukan berita\n", encoding="utf-8")
    (tmp_path / "data.csv").write_text("id,text\n", encoding="utf-8")
    records = list(read_articles([tmp_path]))
    assert [r.id for r in _articles(records)] == ["a", "z", "c"]
    assert _skipped(records) == []


def test_a_folder_read_passes_over_hidden_files_and_folders(tmp_path: Path) -> None:
    """Editors' lock and swap files were skipped records ("invalid id '.#a'") at every run,
    and a ``.git`` or trash folder was read as articles; named on the command line, a hidden
    file is still read, or refused with its reason."""
    (tmp_path / "a.txt").write_text("Judul A\nIsi a.\n", encoding="utf-8")
    for name in (".#a.txt", ".a.txt", ".a.txt.swp", ".DS_Store", "a.txt~", "#a.txt#"):
        (tmp_path / name).write_text("Judul A\nIsi a yang lama.\n", encoding="utf-8")
    (tmp_path / ".Trash-1000" / "files").mkdir(parents=True)
    (tmp_path / ".Trash-1000" / "files" / "ditarik.jsonl").write_bytes(
        _jsonl_line(id="ditarik", text="Berita yang ditarik.")
    )
    records = list(read_articles([tmp_path]))
    assert [r.id for r in _articles(records)] == ["a"]
    assert _skipped(records) == []
    [refused] = list(read_articles([tmp_path / ".#a.txt"]))
    assert isinstance(refused, SkippedRecord) and "the id is the file name" in refused.reason
    hidden = tmp_path / ".Trash-1000" / "files" / "ditarik.jsonl"
    assert [r.id for r in _articles(list(read_articles([hidden])))] == ["ditarik"]


def test_linked_folders_are_read_once_each(tmp_path: Path) -> None:
    """A subfolder that is a link (the files moved to another disk) was skipped without a
    word, and a prune removed its articles; a link back up ends."""
    main, other = tmp_path / "main", tmp_path / "other"
    main.mkdir()
    other.mkdir()
    (main / "a.jsonl").write_bytes(_jsonl_line(id="a", text="Isi a."))
    (other / "b.jsonl").write_bytes(_jsonl_line(id="b", text="Isi b."))
    (main / "linked").symlink_to(other, target_is_directory=True)
    (other / "up").symlink_to(main, target_is_directory=True)  # a cycle
    records = list(read_articles([main]))
    assert sorted(r.id for r in _articles(records)) == ["a", "b"]
    assert _skipped(records) == []


def test_explicit_file_of_unknown_type_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "corpus.csv"
    path.write_text("id,text\n", encoding="utf-8")
    [record] = list(read_articles([path]))
    assert isinstance(record, SkippedRecord)
    assert record.path == str(path) and record.line is None
    assert "unsupported file type" in record.reason and ".csv" in record.reason


def test_missing_file_is_skipped_and_the_next_path_still_read(tmp_path: Path) -> None:
    missing = tmp_path / "hilang.jsonl"
    good = tmp_path / "ada.jsonl"
    good.write_bytes(_jsonl_line(id="ada", text="Isi."))
    records = list(read_articles([missing, good]))
    assert isinstance(records[0], SkippedRecord)
    assert records[0].path == str(missing) and records[0].line is None
    assert "cannot read" in records[0].reason
    assert [a.id for a in _articles(records)] == ["ada"]


def test_missing_folder_is_skipped_as_missing_not_as_a_file_type(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    mistyped = tmp_path / "corpsu"
    [record] = list(read_articles([mistyped]))
    assert isinstance(record, SkippedRecord) and record.path == str(mistyped)
    assert record.reason == "cannot read: no such file or folder"


def test_broken_link_in_a_folder_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "rusak.txt").symlink_to(tmp_path / "tidak-ada.txt")
    (tmp_path / "baik.txt").write_text("Judul\nIsi.\n", encoding="utf-8")
    records = list(read_articles([tmp_path]))
    [skipped] = _skipped(records)
    assert skipped.path == str(tmp_path / "rusak.txt") and "cannot read" in skipped.reason
    assert [a.id for a in _articles(records)] == ["baik"]


def test_a_link_in_a_loop_named_on_the_command_line_says_why(tmp_path: Path) -> None:
    """It was reported as "no such file or folder", though it is there."""
    (tmp_path / "putar.txt").symlink_to("putar.txt")
    [record] = list(read_articles([tmp_path / "putar.txt"]))
    assert isinstance(record, SkippedRecord) and record.article_id == "putar"
    assert record.reason == "cannot read: Too many levels of symbolic links"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rahasia.txt"
    path.write_text("Judul\nIsi.\n", encoding="utf-8")
    path.chmod(0)
    try:
        [record] = list(read_articles([path]))
    finally:
        path.chmod(0o600)
    assert isinstance(record, SkippedRecord) and "cannot read" in record.reason


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_pipes_and_devices_in_a_folder_are_skipped_not_read(tmp_path: Path) -> None:
    """A FIFO named like a page hung the indexer in ``open`` for ever (no writer ever came),
    and a link to /dev/zero read until memory ran out: each is a skipped record now."""
    import threading

    os.mkfifo(tmp_path / "pipa.txt")
    os.mkfifo(tmp_path / "pipa.jsonl")
    (tmp_path / "nol.html").symlink_to("/dev/zero")
    (tmp_path / "baik.txt").write_text("Judul\nIsi.\n", encoding="utf-8")
    records: list[Article | SkippedRecord] = []
    reading = threading.Thread(target=lambda: records.extend(read_articles([tmp_path])))
    reading.daemon = True  # if it hangs, the test fails rather than the run
    reading.start()
    reading.join(timeout=30)
    assert not reading.is_alive(), "reading the folder hung"
    assert [a.id for a in _articles(records)] == ["baik"]
    reasons = {Path(s.path).name: (s.article_id, s.reason) for s in _skipped(records)}
    not_regular = "cannot read: not a regular file (a pipe, device or socket)"
    assert reasons == {
        "pipa.txt": ("pipa", not_regular),  # a page names its article: a prune keeps it
        "pipa.jsonl": (None, not_regular),
        "nol.html": ("nol", not_regular),
    }


# --- plain-text pages ---------------------------------------------------------------------------


def test_text_page_without_a_date_line_keeps_the_second_line_as_body(tmp_path: Path) -> None:
    path = tmp_path / "tanpa-tanggal.txt"
    path.write_text(
        "\n  Judul Berita  \n\nJakarta - Isi berita pertama.\nIsi kedua.\n", encoding="utf-8"
    )
    [article] = list(read_articles([path]))
    assert isinstance(article, Article)
    assert article.id == "tanpa-tanggal"
    assert article.title == "Judul Berita"
    assert article.published is None
    assert article.text == "Jakarta - Isi berita pertama.\n\nIsi kedua."


def test_text_page_with_only_a_title_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "judul-saja.txt"
    path.write_text("Judul\nRabu, 25 November 2020\nAdvertisements\n", encoding="utf-8")
    [record] = list(read_articles([path]))
    assert isinstance(record, SkippedRecord) and "no body text" in record.reason


def test_text_page_with_invalid_utf8_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rusak.txt"
    path.write_bytes(b"Judul\nIsi \xff rusak.\n")
    [record] = list(read_articles([path]))
    assert isinstance(record, SkippedRecord) and "invalid UTF-8" in record.reason


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_one_skipped_record_naming_its_encoding(
    tmp_path: Path, encoding: str
) -> None:
    # PowerShell's Out-File writes UTF-16: each of its lines was skipped for a reason that was
    # not the cause ("invalid UTF-8 at byte 0", then "invalid JSON ... at column 1" per line)
    lines = "".join(_jsonl_line(id=f"u{n}", text="Isi.").decode() for n in range(3))
    bom = {"utf-16-le": "\ufeff", "utf-16-be": "\ufeff"}.get(encoding, "")
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes((bom + lines).encode(encoding))
    page = tmp_path / "halaman.txt"
    page.write_bytes((bom + "Judul\nRabu, 25 November 2020\nIsi berita.\n").encode(encoding))
    records = list(read_articles([feed, page]))
    assert [(r.path, r.line, r.article_id) for r in records] == [
        (str(feed), None, None),
        (str(page), None, "halaman"),
    ]
    assert all(isinstance(r, SkippedRecord) and "UTF-16" in r.reason for r in records)


# --- HTML pages ---------------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<title>Banjir Rendam Ratusan Rumah di Palembang | Contoh News</title>
<meta property="og:title" content="Banjir Rendam Ratusan Rumah di Palembang">
<meta property="article:published_time" content="2024-01-15T08:30:00+07:00">
<link rel="canonical" href="https://contoh.example/berita/banjir-palembang">
</head>
<body>
<nav><ul><li><a href="/">Beranda</a></li><li><a href="/politik">Politik</a></li>
<li><a href="/olahraga">Olahraga</a></li></ul></nav>
<header><h1>Banjir Rendam Ratusan Rumah di Palembang</h1></header>
<article>
<p>Hujan deras yang mengguyur Kota Palembang sejak Minggu malam menyebabkan ratusan rumah warga
di kawasan Sekip terendam banjir setinggi satu meter.</p>
<p>Kepala BPBD Palembang mengatakan sebanyak 350 kepala keluarga terdampak dan sebagian telah
dievakuasi ke posko pengungsian di masjid terdekat.</p>
<p>Advertisements</p>
<p>Warga berharap pemerintah kota segera memperbaiki saluran drainase yang tersumbat sampah agar
banjir serupa tidak terulang setiap musim hujan.</p>
</article>
<footer><p>Hak cipta 2024 Contoh News. Semua hak dilindungi.</p><a href="/kontak">Kontak kami</a></footer>
</body>
</html>
"""


def test_html_page_main_text_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "banjir-palembang.html"
    path.write_text(HTML_PAGE, encoding="utf-8")
    [article] = list(read_articles([path]))
    assert isinstance(article, Article)
    assert article.id == "banjir-palembang"
    assert article.title == "Banjir Rendam Ratusan Rumah di Palembang"
    assert article.url == "https://contoh.example/berita/banjir-palembang"
    assert article.published == datetime(2024, 1, 15, 8, 30, tzinfo=WIB)
    assert article.text.startswith("Hujan deras yang mengguyur Kota Palembang")
    assert article.text.endswith("tidak terulang setiap musim hujan.")
    assert article.text.count("\n\n") == 2  # three paragraphs, the ad label gone
    for boilerplate in ("Beranda", "Olahraga", "Hak cipta", "Kontak kami", "Advertisements"):
        assert boilerplate not in article.text


def test_html_headline_inside_the_article_is_not_its_first_paragraph(tmp_path: Path) -> None:
    """Read as the body's first paragraph, the <h1> answered "berapa rumah" with the
    headline's "Ratusan Rumah" instead of the body's "350 kepala keluarga"."""
    path = tmp_path / "banjir-palembang.html"
    headline = "<h1>Banjir Rendam Ratusan Rumah di Palembang</h1>"
    path.write_text(
        HTML_PAGE.replace(f"<header>{headline}</header>", "").replace(
            "<article>", f"<article>{headline}"
        ),
        encoding="utf-8",
    )
    [article] = list(read_articles([path]))
    assert article.title == "Banjir Rendam Ratusan Rumah di Palembang"
    assert article.text.startswith("Hujan deras yang mengguyur Kota Palembang")


def test_html_page_without_article_text_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "kosong.htm"
    path.write_text(
        "<html><head><title>Kosong</title></head><body></body></html>", encoding="utf-8"
    )
    [record] = list(read_articles([path]))
    assert isinstance(record, SkippedRecord) and "no article text" in record.reason


# --- article ids ----------------------------------------------------------------------------------

BAD_IDS = [
    "a/b",  # a path separator: could be written but never read over HTTP
    "../etc",
    "a b",
    " a1",
    "-a1",
    ".hidden",
    "berita\n",
    "berita-ä",
    "x" * 201,
]


def test_shared_corpus_ids_match_the_id_pattern(shared_dir: Path) -> None:
    from indexer.ids import is_article_id

    news = shared_dir / "data" / "news"
    corpus = Path(__file__).resolve().parents[1] / "corpus"
    for path in (news / "detik-2025.jsonl", news / "facqa-passages.jsonl", corpus):
        records = list(read_articles([path]))
        assert records and not _skipped(records), _skipped(records)[:3]
        assert all(is_article_id(a.id) for a in _articles(records))
    for good in ("detik-0050", "facqa-b92b6b3ee972", "nq-001", "Ab0._:@+-z", "x" * 200):
        assert is_article_id(good), good


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_jsonl_record_with_an_invalid_id_is_skipped_naming_the_pattern(
    tmp_path: Path, bad_id: str
) -> None:
    path = tmp_path / "ids.jsonl"
    path.write_bytes(_jsonl_line(id=bad_id, text="Isi.") + _jsonl_line(id="baik-1", text="Isi."))
    records = list(read_articles([path]))
    [skipped] = _skipped(records)
    assert skipped.line == 1
    assert skipped.reason.startswith("invalid id") and "ASCII letter or digit" in skipped.reason
    assert "[A-Za-z0-9]" in skipped.reason  # the pattern itself
    assert [a.id for a in _articles(records)] == ["baik-1"]


def test_pages_whose_file_name_is_no_valid_id_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "berita palembang.txt").write_text("Judul\nIsi berita.\n", encoding="utf-8")
    (tmp_path / "-awal.html").write_text(HTML_PAGE, encoding="utf-8")
    (tmp_path / "berita-palembang.txt").write_text("Judul\nIsi berita.\n", encoding="utf-8")
    records = list(read_articles([tmp_path]))
    assert [a.id for a in _articles(records)] == ["berita-palembang"]
    reasons = {Path(s.path).name: s.reason for s in _skipped(records)}
    assert set(reasons) == {"berita palembang.txt", "-awal.html"}
    for reason in reasons.values():
        assert reason.startswith("invalid id") and "the id is the file name" in reason


def test_validate_article_id_raises_naming_the_pattern() -> None:
    from indexer.ids import ARTICLE_ID_PATTERN, validate_article_id

    assert validate_article_id("detik-0050") == "detik-0050"
    for bad in BAD_IDS:
        with pytest.raises(ValueError, match="invalid id") as raised:
            validate_article_id(bad)
        assert ARTICLE_ID_PATTERN in str(raised.value)
