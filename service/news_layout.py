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
from typing import Literal

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
# "KOMPAS.com - Pemerintah ...", "Liputan6.com, Jakarta - ...": an outlet named like a web
# site opens the line alone or before the place. A capitalised word alone before a dash is the
# place ("JAKARTA - ..."): only a name with a domain's dot is an outlet here.
_SITE_DATELINE = re.compile(
    r"^[ \t]*(?P<site>[A-Za-z][\w-]*(?:\.[a-z]{2,4}){1,2})"
    r"(?:[ \t]*,[ \t]*[A-Z][\w.'-]*(?:[ \t]+[A-Z][\w.'-]*){0,3})?[ \t]*[-–—]",
    re.MULTILINE,
)

# Which outlet reported it ("which news site reported ...", "dimuat media apa"). Narrow on
# purpose: media are a topic too ("which media law", "media sosial apa", "portal apa yang
# diluncurkan Pemkot", "which news outlet does HM work for"). An outlet noun that only news
# uses ("news site", "newspaper", "situs berita", "koran") asks with a question word beside
# it; a noun with other senses ("media", "site", "portal", "publication") asks only where the
# question also says reporting ("reported", "covered", "dimuat", "memberitakan") or names the
# news ("story", "berita").
_NEWS_NOUN_EN = (
    r"news ?(?:sites?|websites?|outlets?|portals?|papers?|agenc(?:y|ies)|organi[sz]ations?|"
    r"media|sources?)|newspapers?|media outlets?|online media|tabloids?|magazines?"
)
_OTHER_NOUN_EN = r"media|sites?|websites?|outlets?|portals?|publications?|papers?|agenc(?:y|ies)"
_NEWS_NOUN_ID = (
    r"situs berita|portal berita|media (?:berita|massa|online|daring|cetak)|koran|surat kabar|"
    r"harian|kantor berita|majalah|tabloid"
)
_OTHER_NOUN_ID = r"media|situs|portal|laman|website|outlet"
_ASKED_EN = r"\b(?:which|what)\s+(?:(?:local|national|online|other)\s+)?"
_ASKED_ID = r"\s+(?:apa|mana)(?:kah)?\b"
_NEWS_OUTLET_Q = re.compile(
    rf"{_ASKED_EN}(?:{_NEWS_NOUN_EN})\b|\b(?:{_NEWS_NOUN_ID}){_ASKED_ID}", re.I
)
_OTHER_OUTLET_Q = re.compile(
    rf"{_ASKED_EN}(?:{_OTHER_NOUN_EN})\b(?!\s+(?:law|laws|regulations?|bill|freedom|literacy|"
    rf"compan(?:y|ies)|owners?|platforms?|accounts?))|\b(?:{_OTHER_NOUN_ID}){_ASKED_ID}",
    re.I,
)
_REPORTING = re.compile(
    r"\b(?:report(?:s|ed|ing)?|cover(?:s|ed|ing)?|publish(?:es|ed|ing)?|carr(?:y|ies|ied)|ran|"
    r"run|broke|break|wrote|write|story|stories|news|article|"
    r"(?:di|me)muat|(?:di|mem)beritakan|berita(?:nya)?|(?:di|me)liput|(?:di|men)erbitkan|"
    r"terbit|(?:di|me)wartakan|(?:di|meny)iarkan|(?:di|me)nayangkan|(?:di|me)laporkan|"
    r"(?:di|me)nulis|mengabarkan|dikabarkan)\b",
    re.I,
)
# Asked without an outlet noun: "reported by which site", "diberitakan oleh siapa", "sumber
# beritanya apa". "siapa yang melaporkan" asks who told the police, and stays out.
_OUTLET_PHRASE_Q = re.compile(
    r"\b(?:(?:reported|published|covered|carried)\s+(?:by|in|on)\s+(?:which|what|whom)|"
    r"(?:diberitakan|dimuat|diliput|diwartakan)\s+(?:oleh\s+)?(?:siapa|apa|mana)|"
    r"siapa\s+(?:saja\s+)?yang\s+(?:memberitakan|memuat|mewartakan)|"
    r"news\s+sources?\s+(?:of|for)|sumber\s+berita(?:nya)?)\b",
    re.I,
)
# An outlet that is an actor of the story, not its reporter: asked for a journalist's
# employer ("which news outlet does HM work for", "fotografer majalah apakah") or for what a
# paper said ("surat kabar manakah yang pada editorialnya menyatakan", "which newspaper wrote
# that ..."): the story names it, and the reader finds it there.
_ACTOR_Q = re.compile(
    r"\b(?:work(?:s|ed|ing)?\s+(?:for|at)|employ\w*|career|bekerja|karie?r|wartawan|jurnalis|"
    r"fotografer|editorial\w*|tajuk|opini|said|says|stated?|argued?|wrote\s+(?:that|about)|"
    r"menyatakan|mengatakan|berpendapat|menulis(?:kan)?\s+(?:bahwa|tentang))\b",
    re.I,
)
# Several outlets: "which outlets", "media apa saja", "all the news sites".
_OUTLETS_LIST_Q = re.compile(
    rf"{_ASKED_EN}(?:[\w-]+\s+)?(?:outlets|sites|websites|portals|papers|newspapers|publications|"
    r"agencies|media|magazines|sources)\b|\b(?:apa|mana|siapa)\s+saja\b|\ball\s+the\b|"
    r"\bsemua\b",
    re.I,
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
    """Character ranges of the outlet names in the datelines of ``text``, in text order.
    A line that opens with a site's name ("Liputan6.com, Jakarta -") names it and no other
    outlet: the place after it is no outlet."""
    sites = {m.start(): m.span("site") for m in _SITE_DATELINE.finditer(text)}
    ranges = list(sites.values())
    for match in _DATELINE.finditer(text):
        group = "outlet" if match.group("outlet") is not None else "paren"
        if match.start() in sites or _WEEKDAY.match(match.group(group)):
            continue
        start, end = match.span(group)
        # "Jakarta, CNN Indonesia --": the first dash of a double one is no part of the name
        end = start + len(text[start:end].rstrip(" \t-–—"))
        ranges.append((start, end))
    return sorted(ranges)


def asks_for_source(question: str) -> bool:
    """Does the question ask which outlet reported the news?"""
    return outlet_question(question) is not None


def outlet_question(question: str) -> Literal["one", "list"] | None:
    """``"one"`` when the question asks which outlet reported a story, ``"list"`` when it asks
    for all of them ("which outlets covered ...", "media apa saja yang memberitakan ..."),
    None when it asks for something else. Such a question is answered from the articles'
    outlets (``service.outlets``), not by the reader: facqa taught it spans of the story."""
    if _ACTOR_Q.search(question):
        return None
    asks = (
        _NEWS_OUTLET_Q.search(question)
        or _OUTLET_PHRASE_Q.search(question)
        or (_OTHER_OUTLET_Q.search(question) and _REPORTING.search(question))
    )
    if not asks:
        return None
    return "list" if _OUTLETS_LIST_Q.search(question) else "one"


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
