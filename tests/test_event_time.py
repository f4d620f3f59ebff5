"""Event-time extraction (indexer/event_time.py), table-driven.

The first table names time expressions in real detik-2025 articles (read from ../shared, not
copied here) with the interval each one means, judged by reading its sentence and the article's
publication date. The second holds the forms the extractor must cover, in sentences written here.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from indexer.dates import parse_date
from indexer.event_time import extract_events, overlapping, publication_day, question_times

D = date.fromisoformat

# (article id, expression as it stands in the article, first day, last day)
DETIK = [
    ("detik-0541", "Selasa (21/10/2025)", "2025-10-21", "2025-10-21"),
    ("detik-0066", "Rabu (17/9/2025)", "2025-09-17", "2025-09-17"),
    ("detik-0626", "Senin (6/10/2025)", "2025-10-06", "2025-10-06"),
    ("detik-0885", "17/10/2025", "2025-10-17", "2025-10-17"),  # "kepadadetikJabar,Jumat (...)"
    ("detik-0056", "11 Januari 2010", "2010-01-11", "2010-01-11"),
    ("detik-0118", "30 September 2025", "2025-09-30", "2025-09-30"),
    ("detik-0460", "9 Juli 2025", "2025-07-09", "2025-07-09"),
    ("detik-0744", "Rabu, 22 Oktober 2025", "2025-10-22", "2025-10-22"),
    ("detik-0242", "Jumat, 17 Oktober 2025", "2025-10-17", "2025-10-17"),
    # day and month, the year from the publication date (and the weekday, where it is given)
    ("detik-0831", "Minggu (19/10)", "2025-10-19", "2025-10-19"),
    ("detik-0784", "Senin (20/10)", "2025-10-20", "2025-10-20"),
    ("detik-0517", "Selasa (16/9)", "2025-09-16", "2025-09-16"),
    ("detik-0297", "Minggu (5/10)", "2025-10-05", "2025-10-05"),
    ("detik-0365", "Rabu (8/10)", "2025-10-08", "2025-10-08"),
    ("detik-0488", "Sabtu (5/7)", "2025-07-05", "2025-07-05"),
    ("detik-0315", "Senin (2/6)", "2025-06-02", "2025-06-02"),
    # published October 2025, about the KPU chair's jet rentals of 2024: 15/5/2024 was a Wednesday
    ("detik-0528", "Rabu (15/5)", "2024-05-15", "2024-05-15"),
    # a slipped weekday a day from publication: 19/10/2025 was a Sunday, 21/10/2025 a Tuesday,
    # but the articles are about Trade Expo Indonesia 2025 and the IHSG at 8,238 (October 2025)
    ("detik-0086", "Sabtu (19/10)", "2025-10-19", "2025-10-19"),
    ("detik-0162", "Senin (21/10)", "2025-10-21", "2025-10-21"),
    ("detik-0221", "Senin (20/10) lalu", "2025-10-20", "2025-10-20"),
    ("detik-0786", "16 Oktober", "2025-10-16", "2025-10-16"),
    ("detik-0964", "21 April lalu", "2025-04-21", "2025-04-21"),
    ("detik-0699", "30 September lalu", "2025-09-30", "2025-09-30"),
    # months
    ("detik-0858", "September 2025", "2025-09-01", "2025-09-30"),
    ("detik-0021", "Februari 2026", "2026-02-01", "2026-02-28"),
    ("detik-0715", "bulan Mei 2025", "2025-05-01", "2025-05-31"),
    ("detik-0553", "bulan Desember 1997", "1997-12-01", "1997-12-31"),
    ("detik-0162", "bulan September", "2025-09-01", "2025-09-30"),
    ("detik-0909", "bulan Oktober", "2025-10-01", "2025-10-31"),
    ("detik-0967", "Agustus lalu", "2025-08-01", "2025-08-31"),
    ("detik-0418", "Juli lalu", "2025-07-01", "2025-07-31"),
    # years and decades
    ("detik-0640", "tahun 2025", "2025-01-01", "2025-12-31"),
    ("detik-0091", "tahun 2024", "2024-01-01", "2024-12-31"),
    ("detik-0082", "2027", "2027-10-01", "2027-12-31"),  # "pada akhir 2027": its last quarter
    ("detik-0577", "2025", "2025-01-01", "2025-03-31"),  # "pada awal 2025 ini"
    ("detik-0044", "2019", "2019-01-01", "2025-10-16"),  # "dimulai sejak 2019, kini ...": to now
    ("detik-0500", "1990-an", "1990-01-01", "2025-10-17"),  # "terus meningkat sejak 1990-an"
    ("detik-0973", "2023", "2023-01-01", "2023-12-31"),  # "sejak gabung MU pada 2023"
    ("detik-0123", "1970-an", "1970-01-01", "1979-12-31"),
    ("detik-0714", "tahun 1980-an", "1980-01-01", "2025-10-17"),  # "dimulai sejak tahun 1980-an"
    # ranges
    ("detik-0810", "1913-1919", "1913-01-01", "1919-12-31"),
    ("detik-0213", "2006-2023", "2006-01-01", "2023-12-31"),
    ("detik-0312", "tahun 2022-2024", "2022-01-01", "2024-12-31"),
    ("detik-0647", "Tahun 2023-2053", "2023-01-01", "2053-12-31"),
    ("detik-0039", "tahun 2023 hingga 2025", "2023-01-01", "2025-12-31"),
    ("detik-0632", "2022 hingga 2045", "2022-01-01", "2045-12-31"),
    ("detik-0190", "2020 sampai 2025", "2020-01-01", "2025-12-31"),
    ("detik-0134", "21-23 Oktober 2025", "2025-10-21", "2025-10-23"),
    ("detik-0075", "16-17 September 2025", "2025-09-16", "2025-09-17"),
    ("detik-0475", "3-10 Oktober 2025", "2025-10-03", "2025-10-10"),
    ("detik-0184", "14 Oktober hingga 14 November 2025", "2025-10-14", "2025-11-14"),
    ("detik-0095", "Januari-September 2025", "2025-01-01", "2025-09-30"),
    ("detik-0092", "Januari-Agustus 2025", "2025-01-01", "2025-08-31"),
    ("detik-0644", "Juli hingga Oktober 2025", "2025-07-01", "2025-10-31"),
    ("detik-0282", "Februari hingga April 2025", "2025-02-01", "2025-04-30"),
    # relative to the publication date
    ("detik-0584", "hari ini", "2025-10-20", "2025-10-20"),
    ("detik-0846", "Kemarin", "2025-10-20", "2025-10-20"),
    ("detik-0305", "besok", "2025-10-19", "2025-10-19"),
    ("detik-0977", "besok", "2025-08-08", "2025-08-08"),  # "Jumat (8/8/2025) besok"
    ("detik-0850", "Sabtu", "2025-10-18", "2025-10-18"),  # "digelar pada Sabtu", a Monday article
    ("detik-0682", "pekan lalu", "2025-10-13", "2025-10-19"),
    ("detik-0978", "Pekan lalu", "2025-09-22", "2025-09-28"),  # published on a Sunday
    ("detik-0876", "minggu depan", "2025-10-20", "2025-10-26"),
    ("detik-0815", "pekan depan", "2025-10-20", "2025-10-26"),
    ("detik-0291", "pekan depan", "2025-07-07", "2025-07-13"),
    ("detik-0492", "minggu ini", "2025-07-07", "2025-07-13"),
    ("detik-0344", "bulan lalu", "2025-09-01", "2025-09-30"),
    ("detik-0872", "bulan ini", "2025-10-01", "2025-10-31"),
    ("detik-0042", "tahun ini", "2025-10-01", "2025-12-31"),  # "pada akhir tahun ini"
    ("detik-0082", "tahun lalu", "2024-01-01", "2024-12-31"),
    ("detik-0108", "tahun depan", "2026-01-01", "2026-12-31"),
]

# (publication date, sentence written here, expression, first day, last day)
FORMS = [
    (
        "2021-01-04",
        "Penyerahan dilakukan 25 November 2020 di Jakarta.",
        "25 November 2020",
        "2020-11-25",
        "2020-11-25",
    ),
    ("2021-01-04", "Surat itu bertanggal 25/11/2020.", "25/11/2020", "2020-11-25", "2020-11-25"),
    (
        "2021-01-04",
        "Diterima wali kota, Rabu (25/11/2020).",
        "Rabu (25/11/2020)",
        "2020-11-25",
        "2020-11-25",
    ),
    (
        "2021-01-04",
        "Jembatan yang diresmikan tahun lalu itu retak.",
        "tahun lalu",
        "2020-01-01",
        "2020-12-31",
    ),
    ("2021-01-04", "Banjir datang pada 28 Desember.", "28 Desember", "2020-12-28", "2020-12-28"),
    (
        "2025-10-22",
        "Rapat digelar Senin (20/10) malam.",
        "Senin (20/10)",
        "2025-10-20",
        "2025-10-20",
    ),
    (
        "2025-10-22",
        "Kontrak diteken 12 Agustus lalu.",
        "12 Agustus lalu",
        "2025-08-12",
        "2025-08-12",
    ),
    ("2025-10-22", "Harga naik sejak Maret 2019.", "Maret 2019", "2019-03-01", "2019-03-31"),
    ("2025-10-22", "Sepanjang 2024 produksi turun.", "2024", "2024-01-01", "2024-12-31"),
    ("2025-10-22", "Pabrik itu dibangun pada 2019.", "2019", "2019-01-01", "2019-12-31"),
    (
        "2025-10-22",
        "Pameran berlangsung 5-7 Desember 2025.",
        "5-7 Desember 2025",
        "2025-12-05",
        "2025-12-07",
    ),
    (
        "2025-10-22",
        "Data periode 2018 hingga 2022 dibuka.",
        "2018 hingga 2022",
        "2018-01-01",
        "2022-12-31",
    ),
    ("2025-10-22", "Tersangka ditangkap kemarin.", "kemarin", "2025-10-21", "2025-10-21"),
    ("2025-10-22", "Sidang digelar hari ini.", "hari ini", "2025-10-22", "2025-10-22"),
    ("2025-10-22", "Hasilnya diumumkan besok.", "besok", "2025-10-23", "2025-10-23"),
    ("2025-10-22", "Pelantikan dijadwalkan lusa.", "lusa", "2025-10-24", "2025-10-24"),
    ("2025-10-22", "Ia kembali pekan lalu.", "pekan lalu", "2025-10-13", "2025-10-19"),
    # colloquial "kemarin" after a unit is "lalu", not yesterday (detik-0249: "pekan kemarin")
    (
        "2025-10-22",
        "Gelar perkara pada pekan kemarin.",
        "pekan kemarin",
        "2025-10-13",
        "2025-10-19",
    ),
    ("2025-10-22", "Data bulan kemarin naik.", "bulan kemarin", "2025-09-01", "2025-09-30"),
    ("2025-10-22", "Sejak tahun kemarin harga naik.", "tahun kemarin", "2024-01-01", "2024-12-31"),
    ("2025-10-22", "Harga turun bulan lalu.", "bulan lalu", "2025-09-01", "2025-09-30"),
    ("2025-10-22", "Tarif naik tahun depan.", "tahun depan", "2026-01-01", "2026-12-31"),
    ("2025-10-22", "Ia pensiun tiga tahun lalu.", "tiga tahun lalu", "2022-01-01", "2022-12-31"),
    ("2025-10-22", "Korban dirawat sejak 2 hari lalu.", "2 hari lalu", "2025-10-20", "2025-10-20"),
    ("2025-10-22", "Warga protes Kamis lalu.", "Kamis lalu", "2025-10-16", "2025-10-16"),
    ("2025-10-22", "The minister resigned yesterday.", "yesterday", "2025-10-21", "2025-10-21"),
    ("2025-10-22", "Prices fell last month.", "last month", "2025-09-01", "2025-09-30"),
    ("2025-10-22", "The bridge opened last year.", "last year", "2024-01-01", "2024-12-31"),
    ("2025-10-22", "The vote is next week.", "next week", "2025-10-27", "2025-11-02"),
    (
        "2025-10-22",
        "It was signed on November 25, 2020.",
        "November 25, 2020",
        "2020-11-25",
        "2020-11-25",
    ),
    ("2025-10-22", "Talks began in March 2019.", "March 2019", "2019-03-01", "2019-03-31"),
    ("2025-10-22", "The plant closed two years ago.", "two years ago", "2023-01-01", "2023-12-31"),
    # "se-" is one, as "a year ago" (detik: "setahun yang lalu", "sebulan yang lalu")
    ("2025-10-22", "Ia wafat setahun yang lalu.", "setahun yang lalu", "2024-01-01", "2024-12-31"),
    ("2025-10-22", "Harga naik sebulan lalu.", "sebulan lalu", "2025-09-01", "2025-09-30"),
    ("2025-10-22", "Jalan dibuka seminggu lalu.", "seminggu lalu", "2025-10-13", "2025-10-19"),
    # the last so many units, up to publication (detik: "dalam 3 tahun terakhir")
    (
        "2025-10-22",
        "Kasus naik dalam 3 tahun terakhir.",
        "3 tahun terakhir",
        "2022-01-01",
        "2025-10-22",
    ),
    (
        "2025-10-22",
        "Hujan turun dalam sepekan terakhir.",
        "sepekan terakhir",
        "2025-10-13",
        "2025-10-22",
    ),
    (
        "2025-10-22",
        "Sales fell over the past two years.",
        "past two years",
        "2023-01-01",
        "2025-10-22",
    ),
    ("2025-10-22", "Cases rose in the last 3 months.", "last 3 months", "2025-07-01", "2025-10-22"),
    # the law's year is no event, the year it took effect is
    # ... and "sejak 2023" lasts until publication, not through 2023 alone
    ("2025-10-22", "UU Nomor 1 Tahun 2022 berlaku sejak 2023.", "2023", "2023-01-01", "2025-10-22"),
    ("2025-10-22", "Harga naik sejak awal tahun 2025.", "tahun 2025", "2025-01-01", "2025-10-22"),
    ("2025-10-22", "Aturan itu berlaku sejak 2027.", "2027", "2027-01-01", "2027-12-31"),
    # the part of a year named: early, mid, late, a half
    ("2025-10-22", "Harga turun pada awal 2025.", "2025", "2025-01-01", "2025-03-31"),
    ("2025-10-22", "Proyek rampung pada pertengahan 2024.", "2024", "2024-04-01", "2024-09-30"),
    (
        "2025-10-22",
        "Target tercapai hingga akhir tahun 2025.",
        "tahun 2025",
        "2025-10-01",
        "2025-12-31",
    ),
    ("2025-10-22", "Ekonomi pulih pada paruh akhir 2025.", "2025", "2025-07-01", "2025-12-31"),
    ("2025-10-22", "Prices fell in early 2024.", "2024", "2024-01-01", "2024-03-31"),
    # English puts the direction before a weekday or a month; a month after "pada", "in"
    ("2025-10-22", "Talks resumed last Monday.", "last Monday", "2025-10-20", "2025-10-20"),
    ("2025-10-22", "The vote is next Friday.", "next Friday", "2025-10-24", "2025-10-24"),
    ("2025-10-22", "Prices peaked last July.", "last July", "2025-07-01", "2025-07-31"),
    ("2025-10-22", "Prices peaked in July.", "July", "2025-07-01", "2025-07-31"),
    ("2025-10-22", "Harga memuncak pada Juli.", "Juli", "2025-07-01", "2025-07-31"),
    # English "May", read only where it cannot be the verb
    ("2025-10-22", "Talks began in May 2024.", "May 2024", "2024-05-01", "2024-05-31"),
    (
        "2025-10-22",
        "Prices rose from March to May 2025.",
        "March to May 2025",
        "2025-03-01",
        "2025-05-31",
    ),
    ("2025-10-22", "Prices peaked last May.", "last May", "2025-05-01", "2025-05-31"),
    # a quarter or a half (detik: "triwulan I 2025", "Semester II 2024", "kuartal IV 2025")
    (
        "2025-10-22",
        "Ekonomi tumbuh pada kuartal III 2025.",
        "kuartal III 2025",
        "2025-07-01",
        "2025-09-30",
    ),
    (
        "2025-10-22",
        "Laba Semester I Tahun 2024 naik.",
        "Semester I Tahun 2024",
        "2024-01-01",
        "2024-06-30",
    ),
    (
        "2025-10-22",
        "Data triwulan ketiga 2025 keluar.",
        "triwulan ketiga 2025",
        "2025-07-01",
        "2025-09-30",
    ),
    ("2025-10-22", "Revenue rose in Q3 2025.", "Q3 2025", "2025-07-01", "2025-09-30"),
    (
        "2025-10-22",
        "Sales fell in the first half of 2024.",
        "first half of 2024",
        "2024-01-01",
        "2024-06-30",
    ),
    # a decade: "era 1970-an" (detik's ASCOPE), English "1990s" as "tahun 1990-an"
    ("2025-10-22", "ASCOPE hadir di era 1970-an.", "1970-an", "1970-01-01", "1979-12-31"),
    ("2025-10-22", "Rates were high in the 1990s.", "1990s", "1990-01-01", "1999-12-31"),
    ("2025-10-22", "It has grown since the 2010s.", "2010s", "2010-01-01", "2025-10-22"),
    ("2025-10-22", "Output peaked in mid-2024.", "2024", "2024-04-01", "2024-09-30"),
    ("2025-10-22", "The line opens by the end of 2026.", "2026", "2026-10-01", "2026-12-31"),
    # ... and of a relative year, read as the whole year before (detik-0042)
    ("2025-10-22", "Obligasi terbit akhir tahun ini.", "tahun ini", "2025-10-01", "2025-12-31"),
    ("2025-10-22", "Harga naik sejak awal tahun lalu.", "tahun lalu", "2024-01-01", "2025-10-22"),
    (
        "2025-10-22",
        "Proyek mulai pertengahan tahun depan.",
        "tahun depan",
        "2026-04-01",
        "2026-09-30",
    ),
    ("2025-10-22", "The plant reopened late last year.", "last year", "2024-10-01", "2024-12-31"),
    (
        "2025-10-22",
        "Bonds are due at the end of this year.",
        "this year",
        "2025-10-01",
        "2025-12-31",
    ),
]

# Text that names no time: a figure after a noun, a village, a vague span.
NO_EVENT = [
    "Anggaran APBD 2025 naik, 2024 orang mendaftar.",
    "Warga Desa Jagalan dan 5 Desa lain mengungsi.",
    "Kejadiannya beberapa bulan lalu di sana.",
    "Skornya 20/10 untuk tim tamu.",
    # a regulation's number and year name the law, as "UU 19/2000" does (detik-0036, -0055)
    "Penyitaan mengacu pada Undang-Undang Nomor 19 Tahun 2000 tentang Penagihan Pajak.",
    # a span of weekdays is a weekly schedule (detik-0913, -0761)
    "Disiarkan langsung pada Senin-Jumat, pukul 08.00-11.00 WIB.",
    "Layanan ini melayani perjalanan setiap Senin hingga Jumat.",
    "The last may be the best, in may cases.",
    # the end of another time, not the last days before publication (detik-2025)
    "Dalam sepekan terakhir Agustus, aksi solidaritas meluas.",
    "Diskon berlaku 3 hari terakhir bulan Ramadan.",
    "Efisiensi mengacu pada Inpres No. 1 Tahun 2025, UU No.7 Tahun 2021 dan Nomor MD-12 tahun 2024.",
]


@pytest.fixture(scope="module")
def detik(shared_dir):
    path = shared_dir / "data" / "news" / "detik-2025.jsonl"
    wanted = {row[0] for row in DETIK}
    with open(path, encoding="utf-8") as f:
        rows = (json.loads(line) for line in f)
        return {r["id"]: r for r in rows if r["id"] in wanted}


def test_the_table_is_large_enough():
    assert len(DETIK) >= 60 and len({r[0] for r in DETIK}) >= 55


@pytest.mark.parametrize(("article_id", "expression", "first", "last"), DETIK)
def test_detik_expressions_resolve(detik, article_id, expression, first, last):
    article = detik[article_id]
    assert expression in article["text"]
    published = parse_date(article["published"]).date()
    events = extract_events(article["text"], published)
    for ev in events:
        assert ev.text == article["text"][ev.char_start : ev.char_end]
        assert ev.start <= ev.end
    found = {(ev.start, ev.end) for ev in events if ev.text == expression}
    assert (D(first), D(last)) in found, [(e.text, str(e.start), str(e.end)) for e in events]


@pytest.mark.parametrize(("published", "sentence", "expression", "first", "last"), FORMS)
def test_forms_resolve(published, sentence, expression, first, last):
    events = extract_events(sentence, D(published))
    assert [(e.text, e.start, e.end) for e in events] == [(expression, D(first), D(last))]
    at = sentence.index(expression)
    assert (events[0].char_start, events[0].char_end) == (at, at + len(expression))


@pytest.mark.parametrize("sentence", NO_EVENT)
def test_no_event_where_no_time_is_named(sentence):
    assert extract_events(sentence, D("2025-10-22")) == []


def test_since_a_year_needs_a_publication_date():
    """ "sejak 2019" was read as 2019 alone; it lasts until publication, and without a
    publication date it has no end to give (no event, as "tahun lalu" has none)."""
    text = "Kerja sama berjalan sejak 2019 dan dievaluasi pada 2024."
    assert [(e.text, e.start, e.end) for e in extract_events(text)] == [
        ("2024", D("2024-01-01"), D("2024-12-31"))
    ]


def test_relative_forms_need_a_publication_date():
    text = "Rapat kemarin membahas hasil 25 November 2020 dan Senin (20/10)."
    assert [e.text for e in extract_events(text)] == ["25 November 2020"]
    assert [e.text for e in extract_events(text, D("2025-10-22"))] == [
        "kemarin",
        "25 November 2020",
        "Senin (20/10)",
    ]


def test_times_outside_the_calendar_are_skipped():
    """Relative to the first or last representable day, "kemarin" or "tahun depan" has no
    date: no event, no error (an API client may send any as_of)."""
    text = "Kemarin dan tahun depan, juga tahun lalu dan besok."
    assert [e.text for e in extract_events(text, date.min)] == ["tahun depan", "besok"]
    assert [e.text for e in extract_events(text, date.max)] == ["Kemarin", "tahun lalu"]


def test_overlapping_keeps_the_events_inside_a_span():
    text = "Dibuka 5-7 Desember 2025. Ditutup kemarin."
    events = extract_events(text, D("2025-10-22"))
    second = text.index("Ditutup")
    assert [e.text for e in overlapping(events, second, len(text))] == ["kemarin"]
    assert [e.text for e in overlapping(events, 0, second)] == ["5-7 Desember 2025"]


@pytest.mark.parametrize(
    ("published", "yesterday"),
    [
        ("2025-10-21T00:30:00+08:00", "2025-10-20"),  # WITA (Makassar): still the 20th in Jakarta
        ("2025-10-21T01:30:00+09:00", "2025-10-20"),  # WIT (Jayapura)
        ("2025-10-21T00:30:00+07:00", "2025-10-20"),  # WIB
        ("2025-10-20T17:30:00+00:00", "2025-10-20"),  # a feed's UTC: 00:30 on the 21st in Jakarta
    ],
)
def test_kemarin_is_counted_from_the_day_where_the_article_was_written(published, yesterday):
    text = "Gempa terjadi kemarin."
    day = publication_day(parse_date(published))
    assert [(e.start, e.end) for e in extract_events(text, day)] == [(D(yesterday), D(yesterday))]


def test_dated_weekdays_joined_by_hingga_are_days():
    """A span of bare weekdays is a weekly schedule (no event); with their dates they are days."""
    text = "Rapat digelar Senin (20/10) hingga Jumat (24/10)."
    assert [(e.text, e.start) for e in extract_events(text, D("2025-10-22"))] == [
        ("Senin (20/10)", D("2025-10-20")),
        ("Jumat (24/10)", D("2025-10-24")),
    ]


@pytest.mark.parametrize(
    ("question", "years"),
    [
        ("which Palembang programs won 2020 awards", [2020]),
        ("harga BBM Rp 2025 per liter", []),
        ("harga Rp2025 pada 2020", [2020]),
        ("saham senilai US$ 2019", []),
        ("isi surat nomor 2019", []),
        # a number before the noun it counts is a count typed without its thousands dot
        ("beasiswa untuk 2020 orang", []),
        ("berapa hadiah bagi 2020 peserta", []),
        ("Jasa Marga punya 2019 unit SPKLU", []),
        ("about 2000 participants in 2024", [2024]),
        ("the No. 2020 bus route", []),
        # the year of a regulation's number names the law, as in an article
        ("apa isi UU Nomor 19 Tahun 2019", []),
        ("apa isi UU 19/2019", []),
        # a decade is a decade, and "2000-an orang" about 2,000 people, in a question too
        ("harga beras era 1990-an", [("1990-01-01", "1999-12-31")]),
        ("rice prices in the 1990s", [("1990-01-01", "1999-12-31")]),
        ("the 1990's oil boom", [("1990-01-01", "1999-12-31")]),
        ("sekitar 2000-an orang hadir", []),
        ("pertumbuhan ekonomi kuartal III 2025", [("2025-07-01", "2025-09-30")]),
    ],
)
def test_a_question_reads_the_years_it_names(question, years):
    """A question's bare four-digit number is a year, but "Rp 2025", "nomor 2019" and the
    "Tahun 2019" of a law's number were read as one too, and lifted that year's articles;
    "era 1990-an" and "1990's" were the year 1990, "in the 1990s" no time at all."""
    asked = question_times(question, D("2025-10-22"))

    def interval(y: int | tuple[str, str]) -> tuple[date, date]:
        return (D(f"{y}-01-01"), D(f"{y}-12-31")) if isinstance(y, int) else (D(y[0]), D(y[1]))

    assert asked == [interval(y) for y in years]


def test_full_width_digits_and_letters_are_read_as_their_ascii():
    """Stored text keeps full-width forms as published: "tahun ２０２０" was no year, so the
    article had no event of 2020 (and a question naming "２０２０" no time). The event's text
    and offsets are the stored ones."""
    text = "Jembatan diresmikan pada tahun ２０２０, Ｒａｂｕ (２５/１１/２０２０)."
    events = extract_events(text, date(2020, 12, 1))
    assert [(e.start, e.end) for e in events] == [
        (date(2020, 1, 1), date(2020, 12, 31)),
        (date(2020, 11, 25), date(2020, 11, 25)),
    ]
    assert all(text[e.char_start : e.char_end] == e.text for e in events)
    assert question_times("program apa menang ２０２０", None) == [
        (date(2020, 1, 1), date(2020, 12, 31))
    ]
