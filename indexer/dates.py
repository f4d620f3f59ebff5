"""Publication dates as timezone-aware datetimes, from ISO strings or Indonesian date lines.

Every date is aware so that sorting and filtering never mix naive and aware values; a source that
gives no offset is taken to be in Asia/Jakarta (WIB, +07:00), where the corpora are published.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

import dateparser

JAKARTA = timezone(timedelta(hours=7), "WIB")

# A longer line is a body sentence that happens to contain a date, not a dateline.
MAX_DATE_LINE_CHARS = 40

_DATEPARSER_LANGUAGES = ["id", "en"]
_DATEPARSER_SETTINGS = {
    # WIB as a fixed offset, as ``JAKARTA`` for ISO dates: the zone "Asia/Jakarta" gave a date
    # before 1964 its historical offset ("1 Januari 1960" +07:30, 1942-45 +09:00), which put a
    # page's midnight on the day before in WIB, out of its own day's filter
    "TIMEZONE": "+0700",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "DATE_ORDER": "DMY",  # "25/11/2020" is day first in Indonesia
    # A publication date needs day, month and year: "Agustus" or "2020" alone is not one, and
    # dateparser would otherwise fill the gaps from today.
    "REQUIRE_PARTS": ["day", "month", "year"],
    # Relative dates ("kemarin", "3 hari lalu") depend on when the page was scraped, unknown here;
    # a bare number is a figure far more often than a Unix timestamp.
    "PARSERS": ["custom-formats", "absolute-time"],
}


# A date written year first, in digits ("2025-13-01", "2025/04/31 10:00"): always year, month,
# day. dateparser, given one that is no date, swapped month and day ("2025-13-01" became 13
# January), so an impossible date was stored, and accepted by a write, as another day.
_YEAR_FIRST = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")


def _is_day(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def to_timestamp(value: datetime) -> float:
    """Seconds since the epoch, a naive value taken as Jakarta time like every parsed date.
    (A naive ``datetime.timestamp()`` goes through the local clock, which fails for year 1.)"""
    if value.tzinfo is None:
        value = value.replace(tzinfo=JAKARTA)
    return value.timestamp()


def day_bound(value: str, end: bool) -> datetime | None:
    """A day alone ("2022-09-20") as a bound of a publication range: its first moment, or its
    last where it ends the range, so that ``published_to=2022-09-20`` keeps that day's
    articles instead of stopping at its midnight. ``None`` for anything but a bare day. Naive:
    Jakarta time, as a source's dates without an offset."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return datetime.combine(day, time.max if end else time.min)


DATE_FORMATS = "ISO 8601, or a day, month and year"
"""What ``parse_date`` reads, as a refusal of an unreadable date says it (HTTP, Python API)."""


def parse_date(value: str | None) -> datetime | None:
    """Parse a date or date-time string; ``None`` when it is missing or not a full date.

    ISO 8601 strings (the JSONL corpora) take the fast path through ``datetime.fromisoformat``
    and keep their own offset; everything else goes through dateparser in Indonesian and English.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        parsed: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        year_first = _YEAR_FIRST.match(text)
        if year_first and not _is_day(*map(int, year_first.groups())):
            return None
        parsed = dateparser.parse(
            text, languages=_DATEPARSER_LANGUAGES, settings=_DATEPARSER_SETTINGS
        )
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=JAKARTA)
    try:  # "0001-01-01T00:00:00+08:00" (a "no date" placeholder) is year 0 in Jakarta
        parsed.astimezone(JAKARTA).astimezone(UTC)
    except OverflowError:
        return None
    return parsed


def parse_date_line(line: str) -> datetime | None:
    """Return the date when the whole line is a dateline ("Rabu, 25 November 2020"), else ``None``.

    Plain-text pages put the date on its own line under the headline; the length limit keeps a
    short body sentence that mentions a date from being mistaken for it.
    """
    if len(line.strip()) > MAX_DATE_LINE_CHARS:
        return None
    return parse_date(line)
