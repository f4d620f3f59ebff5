"""What a question asks for (a quantity, a date, a person, a place, a list) and whether a span
is of that kind, in English and Indonesian.

The reader proposes spans by their scores alone; it sometimes prefers the phrase around the
fact to the fact ("Walikota Palembang" for "when"). A "when" question is answered with a span
that names a time, a "how many" question with a number, a "who" question with a name, or not
at all: the composer goes down the reader's candidates for one of the right kind and abstains
when none is left above the no-answer threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["quantity", "date", "person", "place", "other"]

_I = re.IGNORECASE
# Order matters: "tahun berapa" asks for a date, not a quantity; "di mana" for a place.
_DATE_Q = re.compile(
    r"\b(kapan|kapankah|tanggal berapa|tahun berapa|bulan apa|hari apa|jam berapa|pukul berapa|"
    r"when|what (date|year|day|month|time)|which (date|year|day|month)|on what day)\b",
    _I,
)
_QUANTITY_Q = re.compile(
    r"\b(berapa|berapakah|jumlah|how (much|many|long|large|big|far|old|tall|high)|"
    r"what (percentage|share|number|amount|price|cost)|"
    r"which (percentage|number|amount))\b",
    _I,
)
_PERSON_Q = re.compile(
    r"\b(siapa|siapakah|who|whom|whose|(which|what) (minister|mayor|governor|president|official|"
    r"officer|person|man|woman|player|coach|leader|chairman|head|secretary|regent|minister's))\b",
    _I,
)
_PLACE_Q = re.compile(
    r"\b(di ?mana|di ?manakah|ke ?mana|dari ?mana|where|in which (city|country|province|place|"
    r"village|district|building|town|region)|(kota|negara|provinsi|desa|kampung|gedung|"
    r"kabupaten|daerah) (apa|mana)|(which|what) (city|country|province|village|district|"
    r"building|town|region))\b",
    _I,
)
# "which programs": a plural noun after which/what; words ending in -s that are not plurals
# ("which city was", "which news site") do not count.
_NOT_PLURAL = r"(?!(?:was|is|has|does|this|its|his|news|bus|status|campus|focus|crisis)\b)"
_LIST_Q = re.compile(
    r"\b((apa|siapa|mana|berapa|program|apa-apa) saja|sebutkan|"
    r"which (\w+ ){0,2}?" + _NOT_PLURAL + r"\w+s\b|"
    r"what (\w+ ){0,2}?" + _NOT_PLURAL + r"\w+s (are|were|did|do|won|have|has)\b|"
    r"what are the|what were the|name (the|all)|list (the|all))",
    _I,
)

_NUMBER_WORDS = (
    "satu dua tiga empat lima enam tujuh delapan sembilan sepuluh sebelas seratus seribu "
    "belas puluh puluhan ratus ratusan ribu ribuan juta jutaan miliar triliun setengah separuh "
    "persen one two three four five six seven eight nine ten eleven twelve dozen dozens "
    "hundred hundreds thousand thousands million millions billion trillion half percent"
).split()
_MONTHS_DAYS = (
    "januari februari maret april mei juni juli agustus september oktober november desember "
    "january february march may june july august october december jan feb mar apr jun jul "
    "aug sep sept oct okt nov dec des senin selasa rabu kamis jumat jum'at sabtu minggu "
    "monday tuesday wednesday thursday friday saturday sunday"
).split()
_TIME_WORDS = (
    "kemarin besok lusa pagi siang sore malam dini pekan bulan tahun abad dekade lalu silam "
    "yesterday today tomorrow morning afternoon evening night week month year century decade "
    "ago wib wita wit"
).split()
_QUANTITY_SPAN = re.compile(r"\d|\b(" + "|".join(_NUMBER_WORDS) + r")\b|%", _I)
_DATE_SPAN = re.compile(r"\d|\b(" + "|".join(_MONTHS_DAYS + _TIME_WORDS) + r")\b|\bhari ini\b", _I)
_WORDS = re.compile(r"[^\W\d_]+")
# Capitalised words that name institutions and offices, not people: "Pemerintah Kota" is no
# answer to "who handed over the award".
_NOT_A_PERSON = frozenset(
    "pemerintah pemkot pemkab pemprov kota kabupaten provinsi kementerian kemenpan dinas badan "
    "dewan partai polisi polda polres universitas sekolah rumah sakit pt cv tim kantor "
    "government city ministry agency council office".split()
)


@dataclass(frozen=True)
class QuestionType:
    kind: Kind
    is_list: bool
    """Asks for several items ("which programs", "apa saja"): every distinct span counts."""


def question_type(question: str) -> QuestionType:
    if _DATE_Q.search(question):
        kind: Kind = "date"
    elif _QUANTITY_Q.search(question):
        kind = "quantity"
    elif _PERSON_Q.search(question):
        kind = "person"
    elif _PLACE_Q.search(question):
        kind = "place"
    else:
        kind = "other"
    return QuestionType(kind, bool(_LIST_Q.search(question)))


def span_fits(kind: Kind, span: str) -> bool:
    """Is ``span`` of the kind asked for? Lenient by design: it rules out spans that cannot be
    the answer (no digit or time word for "when"), it does not check that one is right."""
    if kind == "quantity":
        return bool(_QUANTITY_SPAN.search(span))
    if kind == "date":
        return bool(_DATE_SPAN.search(span))
    names = [w for w in _WORDS.findall(span) if w[0].isupper()]
    if kind == "person":  # a name that is not only an institution's
        return any(w.casefold() not in _NOT_A_PERSON for w in names)
    if kind == "place":
        # a name: a word with a capital letter (Indonesian news capitalises names and places)
        return bool(names)
    return True


_QUESTION_WORDS = frozenset(
    "what who whom whose which when where why how is was are were did does do can could the a "
    "an in on of for to and name apa apakah siapa siapakah berapa berapakah kapan kapankah "
    "mana manakah dimana bagaimana mengapa kenapa di ke dari yang".split()
)
_YEAR = re.compile(r"\b(1[89]\d\d|2[01]\d\d)\b")


def question_names(question: str) -> set[str]:
    """The names and years a question is about ("Pasadena", "FIFA", "1994"), casefolded:
    capitalised words that are not question words, wherever they stand. Names keep their
    form across English and Indonesian, so they can be looked for in the evidence."""
    names = {w.casefold() for w in _WORDS.findall(question) if w[0].isupper()}
    names -= _QUESTION_WORDS
    return names | set(_YEAR.findall(question))


def mentions_any(names: set[str], text: str) -> bool:
    """Does ``text`` name at least one of ``names`` (no names: nothing to check)?"""
    if not names:
        return True
    words = {w.casefold() for w in _WORDS.findall(text)} | set(_YEAR.findall(text))
    return not names.isdisjoint(words)
