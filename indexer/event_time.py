"""Event time: every time expression in a text, with its exact span, resolved to a date interval.

News is about events, and an event's time is often not the publication date: "diresmikan tahun
lalu" in a January 2021 article is about 2020, "Senin (20/10)" is 20 October of the publication
year, "kemarin" the day before publication. ``extract_events(text, published)`` finds these and
resolves each against the publication date (forms that need it are skipped without one).

The rules are data (the tables below) over regular expressions, not dateparser: its
``search_dates`` returns points without spans or granularity, reads "5-7 Desember 2025" as
5 July, "28 Desember lalu" as the coming December and "tahun lalu" as one day (checked with
dateparser 1.5). Forms covered, Indonesian and English:

* absolute dates: "25 November 2020", "25/11/2020", "Rabu (25/11/2020)", "November 25, 2020";
* partial dates, the year taken from the publication date: "Senin (20/10)" (the year in which
  20/10 is a Monday, nearest first), "28 Desember" (nearest: in a January article, the previous
  December), "12 Agustus lalu" (the last one before), "Agustus lalu", "bulan Maret";
* months and years: "Maret 2019" (the whole month), "sepanjang 2024", "pada tahun 2019", a part
  of one ("awal 2025", "end of 2025", "akhir tahun ini", "late last year");
* quarters and halves: "kuartal III 2025", "Semester I 2024", "Q3 2025", "first half of 2024";
* ranges: "5-7 Desember 2025", "5 hingga 7 Desember", "2018 hingga 2022";
* relative expressions: "kemarin", "hari ini", "besok", "lusa", "pekan lalu" (the previous
  Monday-Sunday week), "bulan lalu", "tahun lalu", "tahun depan", "3 hari lalu", "Senin lalu",
  and the English ones ("yesterday", "last week", "two years ago", ...).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from indexer.dates import JAKARTA

MONTHS = {
    **dict.fromkeys(["januari", "january", "jan"], 1),
    **dict.fromkeys(["februari", "pebruari", "february", "feb", "peb"], 2),
    **dict.fromkeys(["maret", "march", "mar"], 3),
    **dict.fromkeys(["april", "apr"], 4),
    **dict.fromkeys(["mei", "may"], 5),
    **dict.fromkeys(["juni", "june", "jun"], 6),
    **dict.fromkeys(["juli", "july", "jul"], 7),
    **dict.fromkeys(["agustus", "august", "agu", "agt", "ags", "aug"], 8),
    **dict.fromkeys(["september", "sept", "sep"], 9),
    **dict.fromkeys(["oktober", "october", "okt", "oct"], 10),
    **dict.fromkeys(["november", "nopember", "nov", "nop"], 11),
    **dict.fromkeys(["desember", "december", "des", "dec"], 12),
}
# Month names that stand alone ("Maret 2019", "Agustus lalu"); the short forms only with a day.
FULL_MONTHS = [m for m in MONTHS if len(m) > 4 or m in ("mei", "juni", "juli", "june", "july")]
WEEKDAYS = {
    **dict.fromkeys(["senin", "monday"], 0),
    **dict.fromkeys(["selasa", "tuesday"], 1),
    **dict.fromkeys(["rabu", "wednesday"], 2),
    **dict.fromkeys(["kamis", "thursday"], 3),
    **dict.fromkeys(["jumat", "jum'at", "jum’at", "friday"], 4),
    **dict.fromkeys(["sabtu", "saturday"], 5),
    **dict.fromkeys(["minggu", "ahad", "sunday"], 6),
}
NUMBER_WORDS = {
    **dict.fromkeys(["satu", "one", "a"], 1),
    **dict.fromkeys(["dua", "two"], 2),
    **dict.fromkeys(["tiga", "three"], 3),
    **dict.fromkeys(["empat", "four"], 4),
    **dict.fromkeys(["lima", "five"], 5),
    **dict.fromkeys(["enam", "six"], 6),
    **dict.fromkeys(["tujuh", "seven"], 7),
    **dict.fromkeys(["delapan", "eight"], 8),
    **dict.fromkeys(["sembilan", "nine"], 9),
    **dict.fromkeys(["sepuluh", "ten"], 10),
}
# Relative expressions: (unit, offset) from the publication date.
RELATIVE = {
    "kemarin lusa": ("day", -2),
    "the day before yesterday": ("day", -2),
    "kemarin": ("day", -1),
    "yesterday": ("day", -1),
    "hari ini": ("day", 0),
    "today": ("day", 0),
    "besok": ("day", 1),
    "esok hari": ("day", 1),
    "tomorrow": ("day", 1),
    "lusa": ("day", 2),
    # "pekan kemarin" (colloquial for "pekan lalu") is last week, not yesterday
    **dict.fromkeys(
        ["pekan lalu", "minggu lalu", "pekan kemarin", "minggu kemarin", "last week"], ("week", -1)
    ),
    **dict.fromkeys(["pekan ini", "minggu ini", "this week"], ("week", 0)),
    **dict.fromkeys(["pekan depan", "minggu depan", "next week"], ("week", 1)),
    **dict.fromkeys(["bulan lalu", "bulan kemarin", "last month"], ("month", -1)),
    **dict.fromkeys(["bulan ini", "this month"], ("month", 0)),
    **dict.fromkeys(["bulan depan", "next month"], ("month", 1)),
    **dict.fromkeys(["tahun lalu", "tahun kemarin", "last year"], ("year", -1)),
    **dict.fromkeys(["tahun ini", "this year"], ("year", 0)),
    **dict.fromkeys(["tahun depan", "next year"], ("year", 1)),
}
UNITS = {
    **dict.fromkeys(["hari", "day", "days"], "day"),
    **dict.fromkeys(["pekan", "minggu", "week", "weeks"], "week"),
    **dict.fromkeys(["bulan", "month", "months"], "month"),
    **dict.fromkeys(["tahun", "year", "years"], "year"),
}
PAST = ("lalu", "kemarin", "silam", "last")
FUTURE = ("mendatang", "depan", "nanti", "next")
# Words after which a bare year is a time ("pada 2019", "sepanjang 2024", "in 2019"); "tahun"
# makes one too. Other bare years ("APBD 2025", "2024 orang") are not read.
YEAR_CUES = (
    "pada|sepanjang|sejak|hingga|sampai|awal|akhir|pertengahan|periode|selama|"
    "in|since|during|until|by|throughout|early|late"
)
# The part of a year a cue names, as its first and last month: "awal 2025" is early 2025, not
# all of it (its first quarter; "akhir 2025" the last; "pertengahan 2025" the two between;
# "paruh akhir 2025" its second half).
YEAR_PARTS = {
    **dict.fromkeys(["awal", "early"], (1, 3)),
    **dict.fromkeys(["pertengahan"], (4, 9)),
    **dict.fromkeys(["akhir", "late"], (10, 12)),
    **dict.fromkeys(["paruh awal", "paruh pertama"], (1, 6)),
    **dict.fromkeys(["paruh akhir", "paruh kedua"], (7, 12)),
    **dict.fromkeys(["beginning of", "start of"], (1, 3)),
    **dict.fromkeys(["mid", "middle of"], (4, 9)),
    **dict.fromkeys(["end of"], (10, 12)),
}
# A year's quarters and halves ("kuartal III 2025", "Semester I 2024", "Q3 2025", "the first
# half of 2025"): the months in one, and which one an ordinal names.
PERIOD_MONTHS = {
    **dict.fromkeys(["kuartal", "triwulan", "quarter", "q"], 3),
    **dict.fromkeys(["caturwulan"], 4),
    **dict.fromkeys(["semester", "half", "h"], 6),
}
ORDINALS = {
    **dict.fromkeys(["i", "1", "1st", "satu", "pertama", "first"], 1),
    **dict.fromkeys(["ii", "2", "2nd", "dua", "kedua", "second"], 2),
    **dict.fromkeys(["iii", "3", "3rd", "tiga", "ketiga", "third"], 3),
    **dict.fromkeys(["iv", "4", "4th", "empat", "keempat", "fourth"], 4),
}
# "sejak 2019" starts then and is not over: it lasts until the day the article was written.
SINCE = ("sejak", "since")


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_ABBREVIATED = [m for m in MONTHS if m not in FULL_MONTHS and m != "may"]
_NOT_ABBREVIATED = set(MONTHS) - set(_ABBREVIATED)  # "Desember." ends a sentence
_MONTH = rf"(?:(?:{_alternation(_ABBREVIATED)})\b\.?|(?:{_alternation(_NOT_ABBREVIATED)})\b)"
_FULL_MONTH = rf"(?:{_alternation(FULL_MONTHS)})\b"
# English "May" stands alone only before a year ("May 2025") or as a name ("last May", "in
# May"): "may" is also a verb ("prices may 2x", "the last may be").
_MONTH_WITH_YEAR = rf"(?:{_alternation([*FULL_MONTHS, 'may'])})\b"
_ENGLISH_MONTH = rf"(?:{_FULL_MONTH}|(?-i:May)\b)"
_WEEKDAY = rf"(?:{_alternation(WEEKDAYS)})\b"
_DAY = r"(?:[0-2]?\d|3[01])"
_YEAR = r"(?:19|20)\d\d"
_TO = r"\s*(?:-|–|—|s\.?/?d\.?|sampai(?:\s+dengan)?|hingga|to|until)\s*"
_PART = _alternation(YEAR_PARTS).replace(r"\ ", r"\s+")
_AFTER_PART = r"(?:\s+|(?<=mid)-)"  # "mid 2025", "mid-2025"
# "sejak awal 2025" is open-ended like "sejak 2025", from the part of the year it names.
_YEAR_CUE = (
    rf"(?:(?:(?P<since>sejak|since)\s+(?=(?:{_PART})[\s-]))?"
    rf"(?P<cue>{_PART}|{YEAR_CUES}){_AFTER_PART}|(?=tahun\s))"
)
_NUMBER = rf"(?:\d{{1,3}}|{_alternation(NUMBER_WORDS)})"


@dataclass(frozen=True)
class EventTime:
    """A time expression in a text and the interval it names (both ends inclusive)."""

    start: date
    end: date
    char_start: int
    char_end: int
    text: str


Resolve = Callable[[re.Match[str], date | None], tuple[date, date] | None]
VAGUE = (date.min, date.min)
"""What a resolver returns for a vague time ("beberapa bulan lalu"): it takes its text, so that
"bulan lalu" inside it is not read, and gives no event."""


def _word(match: re.Match[str], name: str) -> str:
    return (match.groupdict().get(name) or "").lower().rstrip(".")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


SLIPPED_WEEKDAY_DAYS = 7
"""A day and month without a year within this many days of publication are of its year even
when the weekday beside them does not fit: a reporter omits the year of this week's dates, and a
slipped weekday ("Sabtu (19/10)" on Sunday 19 October 2025, in an article of the 20th about Trade
Expo Indonesia 2025) is likelier than an event a year old written without its year. Further out
the weekday still picks the year ("Rabu (15/5)" in October 2025 about 2024's KPU jets). On
detik-2025 this moved 4 dates, all four to the year the article was about."""


def _nearest_year(
    month: int, day: int, published: date, direction: str = "", weekday: int | None = None
) -> date | None:
    """The date of ``day/month`` nearest to publication (the last one before it for "lalu",
    the next one for "mendatang"), preferring a year in which it falls on ``weekday`` unless
    the nearest is within ``SLIPPED_WEEKDAY_DAYS`` of publication."""
    options = [
        d
        for y in (published.year - 1, published.year, published.year + 1)
        if (d := _safe_date(y, month, day))
    ]
    if direction == "past":
        options = [d for d in options if d <= published]
    elif direction == "future":
        options = [d for d in options if d >= published]
    if not options:
        return None
    nearest = min(options, key=lambda d: abs((d - published).days))
    if abs((nearest - published).days) <= SLIPPED_WEEKDAY_DAYS:
        return nearest
    return min(
        options,
        key=lambda d: (weekday is not None and d.weekday() != weekday, abs((d - published).days)),
    )


def _direction(word: str) -> str:
    return "past" if word in PAST else "future" if word in FUTURE else ""


def _full_date(m: re.Match[str], _: date | None) -> tuple[date, date] | None:
    month = MONTHS.get(_word(m, "month")) or int(_word(m, "mm") or 0)
    d = _safe_date(int(m.group("year")), month, int(m.group("day"))) if month else None
    return (d, d) if d else None


def _partial_date(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    if published is None:
        return None
    month = MONTHS.get(_word(m, "month")) or int(_word(m, "mm") or 0)
    if not 1 <= month <= 12:
        return None
    weekday = WEEKDAYS.get(_word(m, "weekday"))
    d = _nearest_year(month, int(m.group("day")), published, _direction(_word(m, "dir")), weekday)
    return (d, d) if d else None


def _vague(_: re.Match[str], __: date | None) -> tuple[date, date]:
    return VAGUE


def _day_range(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    """ "5-7 Desember 2025", "14 Oktober hingga 14 November 2025"; the year from the
    publication date when it is not given."""
    month = MONTHS[_word(m, "month")]
    first_month = MONTHS.get(_word(m, "month1"), month)
    first, last = int(m.group("day")), int(m.group("day2"))
    if _word(m, "year"):
        year = int(m.group("year"))
    elif published is not None:
        anchor = _nearest_year(first_month, first, published)
        if anchor is None:
            return None
        year = anchor.year
    else:
        return None
    start, end = _safe_date(year, first_month, first), _safe_date(year, month, last)
    return (start, end) if start and end and start <= end else None


def _month_year(m: re.Match[str], _: date | None) -> tuple[date, date] | None:
    year, month = int(m.group("year")), MONTHS[_word(m, "month")]
    first = MONTHS.get(_word(m, "month1"), month)  # "Oktober-Desember 2025"
    return (date(year, first, 1), _month_end(year, month)) if first <= month else None


def _month_alone(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    if published is None:
        return None
    month = MONTHS[_word(m, "month")]
    anchor = _nearest_year(month, 1, published.replace(day=1), _direction(_word(m, "dir")))
    return (anchor, _month_end(anchor.year, month)) if anchor else None


def _since(start: date, end: date, published: date | None) -> tuple[date, date] | None:
    """ "sejak 2019": from ``start`` to publication, the time it names no end of (no event
    without a publication date); a start after publication ("berlaku sejak 2027" written in
    2025) is the period it begins in."""
    if published is None:
        return None
    return (start, published) if start <= published else (start, end)


def _year(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    year = int(m.group("year"))
    last_year = int(_word(m, "year2") or year)
    cue = " ".join(_word(m, "cue").split())
    first_month, last_month = YEAR_PARTS.get(cue, (1, 12))
    if last_year != year:  # "awal 2019 hingga 2022": the cue is of the first year only
        last_month = 12
    start, end = date(year, first_month, 1), _month_end(last_year, last_month)
    if (cue in SINCE or _word(m, "since")) and last_year == year:
        return _since(start, end, published)
    return start, end


def _year_part_relative(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    """ "akhir tahun ini", "awal tahun lalu", "late last year": the part of the year counted
    from publication that the cue names, as "akhir 2025" is 2025's last quarter ("tahun ini"
    alone is all of it); "sejak awal tahun ini" from then to publication."""
    if published is None:
        return None
    _, offset = RELATIVE[" ".join(_word(m, "span").split())]
    first_month, last_month = YEAR_PARTS[" ".join(_word(m, "cue").split())]
    year = published.year + offset
    start, end = date(year, first_month, 1), _month_end(year, last_month)
    return _since(start, end, published) if _word(m, "since") else (start, end)


def _period(m: re.Match[str], _: date | None) -> tuple[date, date] | None:
    """ "kuartal III 2025" is July to September 2025, "Semester I 2024" January to June."""
    months = PERIOD_MONTHS[_word(m, "period")]
    n = ORDINALS[_word(m, "ord")]
    if n * months > 12:  # "kuartal V", "semester III"
        return None
    year = int(m.group("year"))
    return date(year, (n - 1) * months + 1, 1), _month_end(year, n * months)


def _decade(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    start, end = date(int(m.group("decade")), 1, 1), date(int(m.group("decade")) + 9, 12, 31)
    return _since(start, end, published) if _word(m, "cue") in SINCE else (start, end)


def _shift(published: date, unit: str, offset: int) -> tuple[date, date]:
    if unit == "day":
        d = published + timedelta(days=offset)
        return d, d
    if unit == "week":
        monday = published - timedelta(days=published.weekday()) + timedelta(weeks=offset)
        return monday, monday + timedelta(days=6)
    if unit == "month":
        index = published.year * 12 + published.month - 1 + offset
        year, month = divmod(index, 12)
        return date(year, month + 1, 1), _month_end(year, month + 1)
    year = published.year + offset
    return date(year, 1, 1), date(year, 12, 31)


def _relative(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    if published is None:
        return None
    unit, offset = RELATIVE[" ".join(m.group(0).lower().split())]
    return _shift(published, unit, offset)


def _ago(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    if published is None:
        return None
    sign = 1 if _word(m, "dir") in FUTURE + ("lagi", "later") else -1
    return _shift(published, UNITS[_word(m, "unit")], sign * _count(m))


def _count(m: re.Match[str]) -> int:
    """The number of units a match names: "3", "tiga", "three", or 1 for "setahun"."""
    count = _word(m, "n")
    return int(count) if count.isdigit() else NUMBER_WORDS.get(count, 1)


def _last(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    """ "3 tahun terakhir", "the past two weeks": from the start of the unit that many back (as
    "3 tahun lalu" is all of that year) to publication."""
    if published is None:
        return None
    return _shift(published, UNITS[_word(m, "unit")], -_count(m))[0], published


def _weekday(m: re.Match[str], published: date | None) -> tuple[date, date] | None:
    if published is None:
        return None
    weekday = WEEKDAYS[_word(m, "weekday")]
    back = (published.weekday() - weekday) % 7
    if _direction(_word(m, "dir")) == "future":
        d = published + timedelta(days=(weekday - published.weekday()) % 7 or 7)
    else:  # news tells what happened: the last such day, publication day included
        d = published - timedelta(days=back or (7 if _word(m, "dir") else 0))
    return d, d


_DIR = rf"(?:\s+(?P<dir>{'|'.join(PAST + FUTURE)})\b)"
_NUMERIC = rf"(?P<day>{_DAY})[/-](?P<mm>0?[1-9]|1[0-2])[/-](?P<year>{_YEAR})"
# (pattern, resolver). A group ``span`` narrows the quoted text to the time itself ("pada 2019"
# quotes "2019"). Where matches overlap, the longest wins, then the earliest, then the first rule.
RULES: list[tuple[str, Resolve]] = [
    (rf"(?:{_WEEKDAY},?\s+)?(?P<day>{_DAY})\s+(?P<month>{_MONTH})\s+(?P<year>{_YEAR})", _full_date),
    (rf"(?P<month>{_MONTH})\s+(?P<day>{_DAY})(?:st|nd|rd|th)?,?\s+(?P<year>{_YEAR})", _full_date),
    (rf"(?:{_WEEKDAY},?\s*(?P<open>\()?\s*)?{_NUMERIC}(?(open)\s*\))", _full_date),
    (
        rf"(?:(?P<weekday>{_WEEKDAY})\s*)?\(\s*(?P<day>{_DAY})/(?P<mm>0?[1-9]|1[0-2])\s*\){_DIR}?",
        _partial_date,
    ),
    (rf"(?P<day>{_DAY})\s+(?P<month>{_MONTH}){_DIR}?", _partial_date),
    (rf"(?P<month>{_FULL_MONTH})\s+(?P<day>{_DAY})(?:st|nd|rd|th)?(?![.,]?\d)", _partial_date),
    (
        rf"(?P<day>{_DAY}){_TO}(?P<day2>{_DAY})\s+(?P<month>{_MONTH})(?:\s+(?P<year>{_YEAR}))?",
        _day_range,
    ),
    (
        rf"(?P<day>{_DAY})\s+(?P<month1>{_MONTH}){_TO}(?P<day2>{_DAY})\s+(?P<month>{_MONTH})"
        rf"(?:\s+(?P<year>{_YEAR}))?",
        _day_range,
    ),
    (rf"(?:bulan\s+)?(?P<month>{_MONTH_WITH_YEAR})\s+(?:tahun\s+)?(?P<year>{_YEAR})", _month_year),
    (rf"bulan\s+(?P<month>{_FULL_MONTH}){_DIR}?", _month_alone),
    (rf"(?P<month>{_FULL_MONTH}){_DIR}", _month_alone),
    # English puts the direction first ("last July", "next March"); a month after "pada", "in"
    # is its nearest one, as "bulan Juli" is
    (rf"(?P<dir>last|next)\s+(?P<month>{_ENGLISH_MONTH})", _month_alone),
    (
        rf"(?:pada|in|during)\s+(?P<span>(?P<month>{_ENGLISH_MONTH}))"
        rf"(?!\s+(?:(?:tahun\s+)?{_YEAR}|{_DAY}|{'|'.join(PAST + FUTURE)})\b)",
        _month_alone,
    ),
    (
        rf"(?P<month1>{_FULL_MONTH}){_TO}(?P<month>{_MONTH_WITH_YEAR})\s+(?:tahun\s+)?"
        rf"(?P<year>{_YEAR})",
        _month_year,
    ),
    (rf"(?:tahun\s+)?(?P<year>{_YEAR}){_TO}(?:tahun\s+)?(?P<year2>{_YEAR})", _year),
    (
        r"(?P<period>kuartal|triwulan|caturwulan|semester|quarter|half)\s+(?:ke-?)?"
        rf"(?P<ord>{_alternation(ORDINALS)})\s+(?:(?:tahun|of)\s+)?(?P<year>{_YEAR})",
        _period,
    ),
    (rf"(?P<period>q|h)(?P<ord>[1-4])\s*[-/]?\s*(?P<year>{_YEAR})", _period),
    (
        rf"(?P<ord>{_alternation(ORDINALS)})\s+(?P<period>quarter|half)\s+(?:of\s+)?"
        rf"(?P<year>{_YEAR})",
        _period,
    ),
    (rf"{_YEAR_CUE}(?P<span>(?:tahun\s+)?(?P<decade>(?:19|20)\d0)-an)", _decade),
    # "era 1990-an"; English "the 1990s", "since the 1990s" need no cue ("2000-an orang" is
    # about 2,000 people, "1990s" only a decade).
    (r"era\s+(?P<span>(?:tahun\s+)?(?P<decade>(?:19|20)\d0)-an)", _decade),
    (r"(?:(?P<cue>sejak|since)\s+(?:the\s+)?)?(?P<span>(?P<decade>(?:19|20)\d0)[’']?s)", _decade),
    (
        rf"{_YEAR_CUE}(?P<span>(?:tahun\s+)?(?P<year>{_YEAR})"
        rf"(?:{_TO}(?:tahun\s+)?(?P<year2>{_YEAR}))?)",
        _year,
    ),
    (
        rf"(?:(?P<since>sejak|since)\s+)?(?P<cue>{_PART}){_AFTER_PART}"
        r"(?P<span>tahun\s+(?:ini|lalu|kemarin|depan)|(?:this|last|next)\s+year)",
        _year_part_relative,
    ),
    (_alternation(RELATIVE), _relative),
    (
        rf"(?P<n>{_NUMBER})\s+(?P<unit>{_alternation(UNITS)})\s+(?:yang\s+)?"
        r"(?P<dir>lalu|silam|ago|lagi|later|mendatang)",
        _ago,
    ),
    # "setahun lalu", "sebulan yang lalu": one unit, as "a year ago"
    (
        r"se(?P<unit>hari|minggu|pekan|bulan|tahun)\s+(?:yang\s+)?"
        r"(?P<dir>lalu|silam|lagi|mendatang)",
        _ago,
    ),
    # "3 tahun terakhir" up to publication; "sepekan terakhir Agustus", "3 hari terakhir bulan
    # Ramadan" are the end of another time
    (
        rf"(?P<n>{_NUMBER}|se)\s*(?P<unit>{_alternation(UNITS)})\s+terakhir"
        rf"(?!\s+(?:{_FULL_MONTH}|{_alternation(UNITS)}|{_YEAR}|of)\b)",
        _last,
    ),
    (rf"(?:last|past)\s+(?P<n>{_NUMBER})\s+(?P<unit>{_alternation(UNITS)})", _last),
    (
        rf"(?:beberapa|sekian|several|a\s+few)\s+(?:{_alternation(UNITS)})\s+(?:yang\s+)?"
        r"(?:lalu|silam|ago|terakhir|lagi|later|mendatang)",
        _vague,
    ),
    # A regulation's number ("UU Nomor 19 Tahun 2000", "PP No. 28 Tahun 2025", "Nomor
    # MD-12 tahun 2024") names a law, not a time, as its short form "UU 19/2000" does.
    (rf"(?:nomor|no\.?)\s*:?\s*[\w./-]*\d[\w./-]*\s+tahun\s+{_YEAR}", _vague),
    # A span of weekdays ("setiap Senin hingga Jumat", "live pada Senin-Jumat") is a weekly
    # schedule, not a day; with dates ("Senin (20/10) hingga Jumat (24/10)") it is no match.
    (rf"{_WEEKDAY}{_TO}{_WEEKDAY}(?!\s*\()", _vague),
    (rf"(?P<weekday>{_WEEKDAY}){_DIR}", _weekday),
    (rf"(?P<dir>last|next)\s+(?P<weekday>{_WEEKDAY})", _weekday),
    (rf"(?:pada|hari|on|sejak|since)\s+(?P<span>(?P<weekday>{_WEEKDAY}))", _weekday),
]
_COMPILED = [(re.compile(rf"(?<![\w.,/])(?:{p})(?!\w)", re.IGNORECASE), f) for p, f in RULES]


# Full-width forms (U+FF01-FF5E, the ideographic space) as the ASCII they stand for, one
# character for one so that offsets into the folded text are offsets into the stored one:
# "tahun ２０２０" (stored as published) was no year, and its article no event of 2020.
_HALF_WIDTH = {0x3000: " ", **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}}


def extract_events(text: str, published: date | None = None) -> list[EventTime]:
    """Every time expression in ``text``, in text order, resolved against ``published`` (the
    forms that need a publication date are skipped without one)."""
    return [ev for ev, _ in _read(text, published) if ev is not None]


def _read(text: str, published: date | None) -> list[tuple[EventTime | None, tuple[int, int]]]:
    """The expressions read in ``text``, in text order: each event, or None for a vague one
    ("beberapa bulan lalu", a regulation's "Nomor 19 Tahun 2000"), with the span it takes."""
    found = []
    folded = text.translate(_HALF_WIDTH)
    for order, (pattern, resolve) in enumerate(_COMPILED):
        for m in pattern.finditer(folded):
            try:
                interval = resolve(m, published)
            except (ValueError, OverflowError):  # "tahun lalu" counted from year 1
                continue
            if interval is None:
                continue
            quoted = m.span("span") if "span" in pattern.groupindex else m.span()
            found.append((m.start(), m.end(), order, quoted, interval))
    found.sort(key=lambda f: (f[0] - f[1], f[0], f[2]))
    taken: list[tuple[int, int]] = []
    read: list[tuple[EventTime | None, tuple[int, int]]] = []
    for start, end, _, (s, e), (first, last) in found:
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        taken.append((start, end))
        event = EventTime(first, last, s, e, text[s:e]) if (first, last) != VAGUE else None
        read.append((event, (start, end)))
    return sorted(read, key=lambda r: r[1][0])


# Not a decade ("1990-an", "1990's": the rules read those with a cue) nor "2000-an" (about 2,000).
_BARE_YEAR = re.compile(r"(?<![\w.,/])(?:19|20)\d\d(?![\w/]|-an\b|[’']s\b)", re.IGNORECASE)
# A four-digit number after a currency or a number sign is an amount or a number, not a year:
# "Rp 2025", "US$ 2019", "nomor 2019", "No. 2020".
_NOT_A_YEAR_BEFORE = re.compile(
    r"(?:\b(?:rp|idr|usd|nomor|nomer|number|no\.|nr\.)|\$)\s*$", re.IGNORECASE
)


# A number before a counted noun counts it, whatever its digits: "2020 peserta", "2019 unit",
# "1950 orang", "2000 participants". People, the classifiers, things and measures that news
# counts; a noun that names an occasion ("2020 awards", "2024 budget") leaves the year a year.
_COUNTED_NOUNS = (
    "orang jiwa warga penduduk korban penumpang peserta siswa murid pelajar mahasiswa santri "
    "guru dosen pekerja karyawan pegawai buruh personel petugas anggota atlet pelari pemain "
    "prajurit tentara pasien kasus pengungsi relawan pengunjung penonton wisatawan pendaftar "
    "pelamar keluarga kk unit buah ekor biji butir lembar helai batang pucuk titik rumah desa "
    "kendaraan mobil motor sepeda sekolah perusahaan umkm lembaga kali ton kg kilogram gram "
    "liter meter km kilometer hektare hektar ha porsi paket kursi botol bungkus karung "
    "people persons participants students pupils workers employees members soldiers officers "
    "patients cases refugees volunteers visitors spectators tourists applicants households "
    "families units houses homes cars vehicles schools villages companies tons tonnes kilograms "
    "liters litres meters metres kilometers hectares times seats"
).split()
_COUNTED_AFTER = re.compile(rf"(?:-an)?\s+(?:{'|'.join(_COUNTED_NOUNS)})\b", re.IGNORECASE)


def reads_as_year(text: str, start: int, end: int) -> bool:
    """Does the four-digit number at ``text[start:end]`` read as a year? Not after a currency
    or a number sign ("Rp 2025", "nomor 2019": an amount, a number), nor before a noun it
    counts ("2020 peserta", "2019 unit"): a question that types a count without its thousands
    dot was read as asking about that year, and its answer looked only in articles of it."""
    return not _NOT_A_YEAR_BEFORE.search(text, 0, start) and not _COUNTED_AFTER.match(text, end)


def question_times(question: str, as_of: date | None) -> list[tuple[date, date]]:
    """The intervals a question asks about: its time expressions, resolved against ``as_of``
    ("tahun lalu" in a question asked now), and its bare years too ("which programs won
    2020 awards"): in a question a four-digit number from 1900 on is a year where it reads as
    one (``reads_as_year``) and is not inside an expression read as no time (the year of "UU
    Nomor 19 Tahun 2019" names the law, as in an article)."""
    question = question.translate(_HALF_WIDTH)
    read = _read(question, as_of)
    found = [(e.start, e.end) for e, _ in read if e is not None]
    for m in _BARE_YEAR.finditer(question):
        if any(start <= m.start() < end for _, (start, end) in read):
            continue
        if reads_as_year(question, m.start(), m.end()):
            year = int(m.group())
            found.append((date(year, 1, 1), date(year, 12, 31)))
    return found


# Indonesia's time zones: WIB (Jakarta, Sumatra), WITA (Bali, Sulawesi), WIT (Maluku, Papua).
INDONESIAN_OFFSETS = frozenset(timedelta(hours=h) for h in (7, 8, 9))


def publication_day(published: datetime | None) -> date | None:
    """The day an article came out where it was written, the day its "kemarin" is counted
    from: in its own zone when that is one of Indonesia's (a Makassar outlet's 00:30 WITA
    article is of that day, though it is still the day before in Jakarta), otherwise in
    Jakarta (a feed's UTC time says nothing of where the article was written)."""
    if published is None:
        return None
    if published.utcoffset() in INDONESIAN_OFFSETS:
        return published.date()
    return published.astimezone(JAKARTA).date()


def overlapping(events: list[EventTime], char_start: int, char_end: int) -> list[EventTime]:
    """The events whose expression lies (partly) inside ``text[char_start:char_end]``."""
    return [ev for ev in events if ev.char_start < char_end and char_start < ev.char_end]
