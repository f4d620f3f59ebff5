"""Publication date parsing: every result is timezone-aware."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from indexer.dates import parse_date, parse_date_line

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
