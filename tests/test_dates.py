"""Publication date parsing: every result is timezone-aware."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from indexer.dates import day_bound, parse_date, parse_date_line

WIB = timezone(timedelta(hours=7))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Rabu, 25 November 2020", datetime(2020, 11, 25, tzinfo=WIB)),
        ("25/11/2020", datetime(2020, 11, 25, tzinfo=WIB)),
        ("Senin, 20 Oktober 2025 10:15 WIB", datetime(2025, 10, 20, 10, 15, tzinfo=WIB)),
        ("2025-10-21T20:43:00+07:00", datetime(2025, 10, 21, 20, 43, tzinfo=WIB)),
        ("2020-11-25", datetime(2020, 11, 25, tzinfo=WIB)),
        ("Oct 21, 2025 8:43 PM", datetime(2025, 10, 21, 20, 43, tzinfo=WIB)),
        # WIB whatever the year: Asia/Jakarta's history gave these +07:30 and +09:00
        ("Jumat, 1 Januari 1960", datetime(1960, 1, 1, tzinfo=WIB)),
        ("Jumat, 17 Agustus 1945 10:00", datetime(1945, 8, 17, 10, tzinfo=WIB)),
    ],
)
def test_parses_to_an_aware_datetime(value: str, expected: datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == expected.utcoffset()


def test_iso_offset_is_kept_not_converted() -> None:
    parsed = parse_date("2025-10-21T13:43:00Z")
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.hour == 13


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "Pos terkait",
        "Advertisements",
        "Agustus",
        "2020",
        "kemarin",
        "3 hari lalu",
        "31/02/2020",
        # year first is year, month, day: month 13 is no date, not 13 January or 12 December
        "2025-13-01",
        "2025-13-12T10:00:00",
        "2025/13/01",
        # outside what Jakarta's clock can show: year 0 and year 10000 there
        "0001-01-01T00:00:00+08:00",
        "9999-12-31T23:59:59-12:00",
    ],
)
def test_missing_partial_relative_or_invalid_dates_give_none(value: str | None) -> None:
    assert parse_date(value) is None


def test_date_line_is_recognised() -> None:
    assert parse_date_line("Rabu, 25 November 2020") == datetime(2020, 11, 25, tzinfo=WIB)


def test_body_sentence_with_a_date_is_not_a_date_line() -> None:
    sentence = "Penghargaan diserahkan di Jakarta pada Rabu, 25 November 2020."
    assert parse_date_line(sentence) is None
    assert parse_date_line("Pemkot Palembang, meraih dua penghargaan") is None


def test_a_day_alone_bounds_a_range_from_its_first_to_its_last_moment() -> None:
    assert day_bound("2022-09-20", end=False) == datetime(2022, 9, 20)
    assert day_bound("2022-09-20", end=True) == datetime(2022, 9, 20, 23, 59, 59, 999999)
    assert day_bound("2022-09-20T10:00", end=True) is None  # a time is its own bound
