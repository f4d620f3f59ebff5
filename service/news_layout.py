"""What the layout of a news article says about a span: datelines and enumerations.

Two habits of news writing mislead a reader that sees only the question and the passage:

- **The dateline** ("Jakarta, Sumselupdate.com – Pemerintah Kota ...", "Sichuan, Kompas -")
  names the outlet right beside the lead, and the lead is where the reader looks first. The
  outlet's name answers "which site reported it", never "which programs won": spans inside it
  answer only a question about the source.
- **Enumerations spread over sentences** ("Dua penghargaan ..., pertama yakni, Program ...
  (Poltabes) ..." and then "Kedua, Inovasi ... (Pangling)."). A reader trained on one answer per
  question scores the second item far below the first, so a list question would get one item,
  or junk beside it. Numbered paragraphs ("1. Ferlan Juliansyah (FJ) selaku ...", "2. ...") are
  the same. The sentences that continue the enumeration are found here; the composer reads each
  of them for its item.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE
_WEEKDAYS = r"senin|selasa|rabu|kamis|jumat|jum'at|sabtu|minggu|ahad"
# "Jakarta, Kompas -", "Jakarta, Sumselupdate.com –", "Jakarta (ANTARA) -": a place, then the
# outlet, then a dash, at the start of a line. A weekday in the outlet's seat is a date.
_DATELINE = re.compile(
    r"^[ \t]*[A-Z][\w.'-]*(?:[ \t]+[A-Z][\w.'-]*){0,3}[ \t]*"
    r"(?:,[ \t]*(?P<outlet>[\w.-]+(?:[ \t]+[\w.-]+){0,2})"
    r"|\([ \t]*(?P<paren>[^()\n]{2,40}?)[ \t]*\))"
    r"[ \t]*[-–—]",
    re.MULTILINE,
)
_WEEKDAY = re.compile(rf"^(?:{_WEEKDAYS})$", _I)
_ASKS_SOURCE = re.compile(
    r"\b(news ?(site|outlet|portal|paper|agency)|website|outlet|media apa|media mana|"
    r"portal|situs|laman|koran|surat kabar|kantor berita|reported|report(ed)? by|published by|"
    r"diberitakan|dimuat|memberitakan|melaporkan|sumber berita)\b",
    _I,
)

# "pertama kali" is "for the first time", not the first item of a list.
_FIRST = re.compile(r"\b(pertama(?![ \t]+kali)|first(?:ly)?(?![ \t]+time))\b", _I)
_ORDINALS = (
    ("kedua", "second"),
    ("ketiga", "third"),
    ("keempat", "fourth"),
    ("kelima", "fifth"),
    ("keenam", "sixth"),
    ("ketujuh", "seventh"),
)
# A numbered item at the start of its paragraph: "1. Kecamatan Gambir", "2) Menteng".
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s")
_LEAD_IN = r"^\W*(?:(?:dan|lalu|kemudian|sedangkan|serta|selanjutnya|and|then)\W+)?(?:yang\W+)?"


def dateline_outlets(text: str) -> list[tuple[int, int]]:
    """Character ranges of the outlet names in the datelines of ``text``."""
    ranges = []
    for match in _DATELINE.finditer(text):
        group = "outlet" if match.group("outlet") is not None else "paren"
        if not _WEEKDAY.match(match.group(group)):
            ranges.append(match.span(group))
    return ranges


def asks_for_source(question: str) -> bool:
    """Does the question ask which outlet reported the news?"""
    return _ASKS_SOURCE.search(question) is not None


def _item_number(sentence: str) -> int | None:
    found = _NUMBERED.match(sentence)
    return int(found.group(1)) if found else None


def opens_enumeration(sentence: str) -> bool:
    """Does the sentence name the first item of a list ("pertama yakni", "first,", "1. ")?"""
    return _FIRST.search(sentence) is not None or _item_number(sentence) == 1


def continues_enumeration(sentence: str, position: int) -> bool:
    """Does the sentence open with the ordinal of the list item at ``position`` (1 = the
    second item: "Kedua, ...", "Yang ketiga ...", "Second, ...", "2. ...")?"""
    if position >= 1 and _item_number(sentence) == position + 1:
        return True
    if not 1 <= position <= len(_ORDINALS):
        return False
    words = "|".join(_ORDINALS[position - 1])
    return re.match(rf"{_LEAD_IN}(?:{words})\b", sentence, _I) is not None


def enumeration_around(text: str, bounds: list[tuple[int, int]], i: int) -> list[int]:
    """Indexes into ``bounds`` (sentence offsets of ``text``, in order) of the enumeration that
    sentence ``i`` is part of: the sentence that opens it ("pertama yakni, ...") and those
    that continue it in order ("Kedua, ...", then "Ketiga, ..."; other sentences may stand
    between them). Empty when sentence ``i`` is in none."""
    for opening in range(i, -1, -1):
        s, e = bounds[opening]
        if opens_enumeration(text[s:e]):
            break
    else:
        return []
    items = [opening]
    for j in range(opening + 1, len(bounds)):
        s, e = bounds[j]
        if continues_enumeration(text[s:e], len(items)):
            items.append(j)
    return items if i in items and len(items) > 1 else []
