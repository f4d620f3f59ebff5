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
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from indexer.analyzer import STOPWORDS, analyze
from indexer.cognates import loanword_spellings
from indexer.event_time import reads_as_year
from indexer.language import question_language, text_language
from indexer.query_lexicon import (
    base_forms,
    english_lexicon,
    english_phrases,
    indonesian_terms,
    query_terms,
)
from indexer.reader.code_switch import LEXICON
from service.place_names import indonesian_place_names

Kind = Literal["quantity", "date", "person", "place", "other"]

_I = re.IGNORECASE
_DATE_Q = re.compile(
    r"\b(kapan|kapankah|(tanggal|tahun|bulan|jam|pukul) berapa(kah)?|(bulan|hari) apa(kah)?|"
    r"when|what (date|year|day|month|time)|which (date|year|day|month)|on what day)\b",
    _I,
)
# What English asks an amount of money about: "what net profit", "how much ... allowance".
_MONEY_NOUNS = (
    r"money|budget|price|cost|compensation|salary|funds?|profit|revenue|deposit|fee|allowance|"
    r"wage|income|subsidy|investment|loan|debt|dividend|bribe|turnover"
)
_QUANTITY_Q = re.compile(
    r"\b(berapa|berapakah|jumlah|how (much|many|long|large|big|far|old|tall|high|low)|"
    r"what (percentage|share|number|amount|price|cost)|what (\S+ ){0,2}(" + _MONEY_NOUNS + r")|"
    r"what (\S+ ){0,7}ratio|"
    r"what (\S+ )?(prison|jail) (sentence|term)|"
    r"which (percentage|number|amount))\b",
    _I,
)
_PERSON_Q = re.compile(
    r"\b(siapa|siapakah|who|whom|whose|(which|what) ((two|three|four|five|both) )?(minister|"
    r"mayor|governor|president|official|officer|person|people|man|men|woman|women|player|coach|"
    r"leader|chairman|head|regional head|village head|secretary|regent|minister's|judge|lawyer|"
    r"prosecutor|director|manager|singer|actor|rapper|lawmaker|suspect|scholar|author|writer|"
    r"columnist|victim|witness|candidate|athlete|expert|politician|spokesperson|founder|teacher|"
    r"doctor)s?)\b",
    _I,
)
_PLACE_Q = re.compile(
    r"\b(di ?mana|di ?manakah|ke ?mana|dari ?mana|where|in which (city|country|province|place|"
    r"village|district|building|town|region|regency|street)|(kota|negara|provinsi|desa|kampung|"
    r"gedung|kabupaten|daerah|kecamatan|jalan) (apa|mana)(kah)?|(which|what) (city|country|"
    r"province|village|district|building|town|region|regency|street))\b",
    _I,
)
# A question word that asks for no particular kind ("which fictional figure", "apa yang"): it
# still opens the question, so a "when" later in it ("... when he criticised") is not the ask.
_OTHER_Q = re.compile(r"\b(what|which|apa|apakah)\b", _I)
_KIND_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("date", _DATE_Q),
    ("quantity", _QUANTITY_Q),
    ("person", _PERSON_Q),
    ("place", _PLACE_Q),
    ("other", _OTHER_Q),
)
# Units a quantity question names, and what a span must then hold: "how old" is answered in
# years, "berapa ton" in tons, "how much money" with an amount of money. "16/10/2025" is no
# answer to "dalam berapa hari", nor "70 persen" to "umur ... berapa".
_TIME_UNITS = r"tahun|bulan|hari|jam|menit|detik|minggu|pekan|dekade|abad|years?|months?|"
_TIME_UNITS += r"days?|hours?|minutes?|seconds?|weeks?|decades?|centur(?:y|ies)"
# "nilai" (value) is no money word: "berapa penurunan nilai ekspor" is asked in percent.
_MONEY_WORDS = r"uang|dana|anggaran|biaya|harga|gaji|ganti rugi|kompensasi"
_LENGTH_UNITS = r"met(er|re)s?|kilomet(er|re)s?|km|cm|mm|mil|miles?"
_MEASURES = (
    r"(tons?|tonnes?|met(er|re)s?|kilomet(er|re)s?|km|kilograms?|kg|grams?|lit(er|re)s?|"
    r"hectares?|percent|per cent|degrees?|miles?|dollars?|rupiah|megawatts?|MW|funds?|"
    r"assets?|loss(es)?|money|budget|" + _TIME_UNITS + r")\b"
)
# Up to three words before the counted noun ("how many EV charging stations"), none a verb
# or a preposition of the clause ("how many were killed in clashes" counts nothing named).
_MODIFIER = (
    r"(?!(?:are|were|is|was|do|does|did|has|have|had|will|would|can|could|of|in|on|at|the|"
    r"from|for|to|by|with|that|who|which)\b)[^\W\d_]+ "
)
# What an Indonesian "berapa X" counts.
_COUNTED_ID = (
    r"orang|warga|korban|penduduk|anak|siswa|mahasiswa|pasien|peserta|pengunjung|penonton|"
    r"pemain|atlet|personel|karyawan|pekerja|guru|keluarga|kepala keluarga|rumah|desa|negara|"
    r"kota|sekolah|unit|buah|medali|gol|tersangka|napi|narapidana|tahanan|kendaraan|kapal|"
    r"pesawat"
)
_COUNTED = (
    r"\bhow many (?!(" + _MODIFIER + r"){0,3}" + _MEASURES + r")"
    r"(" + _MODIFIER + r"){0,3}([^\W\d_]{3,}s|people|children|men|women)\b|"
    r"\bberapa(kah)? (jumlah |banyak(nya)? )?(" + _COUNTED_ID + r")(kah)?\b"
)
# A span that measures rather than counts, gives a share or a time of day ("2 pagi"): no
# answer to "how many households". None of the 175 train-side count questions has a
# percentage for its answer.
_MEASURE_SPAN = (
    r"^(?!.*(\d\s*(meter|m|km|cm|mm|kilometer|kilogram|kg|gram|ton|liter|hektare|hektar|ha|"
    r"derajat|mil|knot|kwh|mw|pagi|siang|sore|malam|wib|wita|wit)\b|"
    r"\b(rp|rupiah|dolar|dollars?|us\$|persen|percent)\b|%|\b(pukul|jam) \d))"
)
# What may follow a number as its unit: a percent sign or the next word.
_UNIT_AFTER = re.compile(r"[ \t]*%|[ \t]+[^\W\d_]+")
_ENDS_IN_AMOUNT = re.compile(
    r"(\d|\b(juta|ribu|miliar|triliun|ratus|puluh|million|billion|trillion|thousand))$", _I
)
_CURRENCY = re.compile(r"\b(rp|rupiah|idr|usd|us\$|dolar|dollars?|euro)\b|rp ?\d|\$|€", _I)
# "111 juta" is money unless a noun counted in millions follows: "111 juta angkutan logistik"
# is no net profit. None of the 84 train-side gold answers to a money question is ruled out.
_NOT_COUNTING = (
    r"(?!\s+(?!(rupiah|dolar|dollars?|euro|per|setiap|tiap|a|each|dari|of|in|untuk|for|yang|"
    r"pada|atau|hingga|sampai|to)\b)[^\W\d_])"
)
_COUNTING_AMOUNT = re.compile(
    r"\b(juta|miliar|triliun|million|billion|trillion)\b(?!" + _NOT_COUNTING + ")", _I
)
_UNITS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (name, re.compile(asked, _I), re.compile(fits, _I))
    for name, asked, fits in (
        # The unit is asked for only next to the question word: "penduduk usia kerja ...
        # berapa" counts people, "sebesar 25 persen, berapa orang" people too. An age in
        # Indonesian news often stands bare after the name: "Riska (5)".
        (
            "age",
            r"\b(how old|berapa(kah)? (usia|umur)|(usia|umur)( \S+){0,3} berapa(kah)?)\b",
            r"\b(tahun|years?|thn)\b|^\(?\d{1,3}\)?$",
        ),
        (
            "percent",
            r"\b(berapa(kah)? persen(kah)?|persentase|what percent(age)?|how many percent)\b",
            r"%|\b(persen|percent)\b",
        ),
        (  # all 16 train-side "what share of" and "what ... ratio" questions have a
            # percentage for their answer; a fraction or "1:20" would fit as well
            "share",
            r"\b(what|which) (share|proportion|portion)\b|\bwhat (\S+ ){0,7}ratio\b|"
            r"\bberapa(kah)? (rasio|proporsi)\b|\b(rasio|proporsi)( \S+){0,4} berapa(kah)?\b",
            r"%|\b(persen|percent|per cent|kali|times|banding|setengah|separuh|sepertiga|"
            r"seperempat|half|third|quarter)\b|\d\s*:\s*\d",
        ),
        (  # "ulang tahun ke berapa" asks for an ordinal, not a duration
            "duration",
            r"(?<!ke )\bberapa(kah)? (lama|" + _TIME_UNITS + r")\b|"
            r"\bhow many (" + _TIME_UNITS + r")\b|\bhow long\b(?! (is|was|are|were)\b)|"
            r"\b(what|which) (\S+ )?(prison|jail) (sentence|term)\b",
            r"\b(" + _TIME_UNITS + r")\b",
        ),
        (  # "how long is the sea wall" asks a length as often as a time; "how long does the
            # drive take" a time
            "length or duration",
            r"\bhow long (is|was|are|were)\b",
            r"\b(" + _TIME_UNITS + "|" + _LENGTH_UNITS + r")\b",
        ),
        (  # a height or a length: "88 lantai" is no answer to "how tall are the towers".
            # All 20 train-side questions asking so have a length for their answer; "how high"
            # is left out ("how high could loan interest go": "1% per hari").
            "length",
            r"\b(how tall|berapa(kah)? (tinggi|ketinggian|panjang)|ketinggian berapa(kah)?)\b",
            r"\b(" + _LENGTH_UNITS + r"|dpl|mdpl|kaki|feet|ft)\b|\d\s*m\b",
        ),
        (  # a bare amount with thousands separators ("90.000") is money in a price question
            "money",
            r"\bhow much\b.*\b(" + _MONEY_NOUNS + r"|allocat\w*|spen[dt]|paid|pay)\b|"
            r"\bwhat (?![^?]*\bratio\b)(\S+ ){0,2}(" + _MONEY_NOUNS + r")\b|"
            r"\bberapa(kah)?( \S+){0,2} (" + _MONEY_WORDS + r")\b|"
            r"\b(" + _MONEY_WORDS + r")( \S+){0,3} berapa(kah)?\b(?! persen)",
            r"\b(rp|rupiah|idr|usd|us\$|dolar|dollars?|euro)\b|rp ?\d|\$|€|^\d{1,3}(\.\d{3})+$|"
            r"\b(juta|miliar|triliun|million|billion|trillion)\b" + _NOT_COUNTING,
        ),
        (
            "area",
            r"\b(berapa(kah)? luas|luas( \S+){0,3} berapa(kah)?|what (is the )?(total )?area|"
            r"how (large|big) (is |was )?(the )?(\S+ )?(area|land|plot|field|forest|estate|"
            r"plantation|territory|site))\b",
            r"\b(hektare?|hektar|ha|are|acres?|hectares?|m2|km2|meter persegi|kilometer persegi|"
            r"square (met(er|re)s?|kilomet(er|re)s?))\b|m²|km²",
        ),
        ("tons", r"\b(berapa(kah)? ton|how many tons)\b", r"\bton"),
        # "berapa kali setahun" asks how often: "dua kali", not the dates it happens on
        (
            "times",
            r"\b(berapa(kah)? kali|how many times)\b",
            r"\b(kali|times)\b",
        ),
        ("meters", r"\b(berapa(kah)? meter|how many met(er|re)s)\b", r"\bmet(er|re)"),
        # People or things counted ("how many households", "berapa korban"): a measure
        # ("2,5 meter", "Rp 5 juta") is no count. facqa-train: 98 such questions, no answer
        # that is a measure. Last: "how many tons" is asked in tons.
        ("count", _COUNTED, _MEASURE_SPAN),
    )
)
# "jam berapa / what time" asks for a time of day: a date alone ("25/11") is no answer.
_CLOCK_Q = re.compile(r"\b((jam|pukul) berapa(kah)?|(at )?what time)\b", _I)
# "jam" / "pukul" count only before a number: "dua jam" is a duration, "jam 9" a time.
_CLOCK_SPAN = re.compile(
    r"\b\d{1,2}[.:]\d{2}\b|\b(pukul|jam) \d|\b(wib|wita|wit|a\.?m|p\.?m|pagi|siang|sore|"
    r"malam|dini hari|noon|midnight|morning|afternoon|evening|night)\b",
    _I,
)
# "hari apa / what day of the week" asks for a weekday: "25/11" is no answer, "Rabu" is. ("Hari
# apa yang diperingati ..." asks for a named day, "Hari Pahlawan": not a weekday question.)
_WEEKDAY_Q = re.compile(r"\b(hari apa(kah)?(?!\s+yang)|(what|which) day of the week)\b", _I)
_WEEKDAYS = "senin selasa rabu kamis jumat jum'at sabtu minggu ahad".split()
_WEEKDAYS += "monday tuesday wednesday thursday friday saturday sunday".split()
_WEEKDAY_SPAN = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b", _I)
# "tahun berapa / what year" asks for a year: "18/8" is no answer. 125 of the 126 train-side
# questions asking so have a four-digit year in their answer, the other "809".
_YEAR_Q = re.compile(r"\b(tahun (berapa|apa|kapan)(kah)?|(what|which) year)\b", _I)
_YEAR_SPAN = re.compile(r"\b\d{3,4}\b")
# What a date question's unit asks a span to hold; without a unit, any date word (_DATE_SPAN).
_DATE_UNIT_SPANS = {"clock": _CLOCK_SPAN, "weekday": _WEEKDAY_SPAN, "year": _YEAR_SPAN}
# A bare calendar date ("17/10/2025", "6 Januari 2010") counts nothing.
_DATE_ONLY = re.compile(
    r"^\(?\s*(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{1,2} [^\W\d_]+ \d{4})\s*\)?$", _I
)

# "which programs": a plural noun after which/what; words ending in -s that are not plurals
# ("which city was", "which news site") do not count, nor acronyms ("which BPJS Watch
# official", "in which US state").
_NOT_PLURAL = r"(?!(?:was|is|has|does|this|its|his|news|bus|status|campus|focus|crisis)\b)"
_NOT_PLURAL += r"(?!(?-i:[A-Z][A-Z0-9]*S)\b)"
_LIST_Q = re.compile(
    r"\b((apa|siapa|mana|berapa|program|apa-apa) saja|sebutkan|"
    r"which (\w+ ){0,2}?" + _NOT_PLURAL + r"\w+s\b|"
    r"what (\w+ ){0,2}?" + _NOT_PLURAL + r"\w+s (are|were|did|do|won|have|has)\b|"
    r"(what|who) (are|were) the|name (the|all)|list (the|all))",
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
# A number that is part of a name ("Covid-19", "G-20", a year ending a name of two words or
# more: "Penghargaan Achmad Bakrie 2005") or that names a year ("Tahun 2020") counts
# nothing; an ordinal ("ke-20"), an amount ("Rp 2000") or "Sekitar 2000 warga" still counts.
_YEAR = re.compile(r"\b(1[89]\d\d|2[01]\d\d)\b")
_NOT_COUNTED = re.compile(
    rf"\b(?!ke-)[^\W\d_]+-\d+\b|\b(tahun|year) {_YEAR.pattern}|"
    rf"(?<=\w )(?!(?:rp|us|usd|idr)\b)(?-i:[A-Z])[\w-]* {_YEAR.pattern}",
    _I,
)
_QUANTITY_SPAN = re.compile(r"\d|\b(" + "|".join(_NUMBER_WORDS) + r")\b|%", _I)
_DATE_SPAN = re.compile(r"\d|\b(" + "|".join(_MONTHS_DAYS + _TIME_WORDS) + r")\b|\bhari ini\b", _I)
_WORDS = re.compile(r"[^\W\d_]+")


def _compatible(text: str) -> str:
    """``text`` in NFKC, where names and years are compared: stored text keeps full-width
    and other compatibility forms as published, so "Ｍｕｓｉ" and "２０２０" were no "Musi" and
    no 2020, and the reader read no article for "Berapa biaya jembatan Musi baru?" (abstained,
    confidence 0.0) where the same article in plain letters answered "Rp 3 triliun"."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


# The administrative level a question asks for ("di provinsi manakah", "which village",
# "apakah ibukota"), and the level word a span starts with: "Kabupaten Tabanan" answers no
# "which province". Of the 192 train-side questions naming a level, none has an answer that
# starts with another level's word. ("district" is left out: English writes it for both kabupaten
# and kecamatan.)
_LEVELS = {
    "provinsi": "province", "province": "province", "kabupaten": "regency",
    "regency": "regency", "kecamatan": "sub-district", "sub-district": "sub-district",
    "desa": "village", "kelurahan": "village", "village": "village", "kota": "city",
    "city": "city", "negara": "country", "country": "country", "propinsi": "province",
    "ibukota": "city", "ibu kota": "city", "capital": "city",
}  # fmt: skip
_LEVEL_WORDS = "|".join(sorted(_LEVELS, key=len, reverse=True))
_LEVEL_Q = re.compile(
    rf"\b(?:({_LEVEL_WORDS})\s+(?:mana|apa)(?:kah)?|(?:which|what(?: is| was)?(?: the)?|"
    rf"nama|apa(?:kah)?)\s+({_LEVEL_WORDS}))\b",
    _I,
)
_LEVEL_SPAN = re.compile(rf"^\W*({_LEVEL_WORDS})\b", _I)
# Institutions whose names carry what they are: a ministry is a "Kementerian ..." ("Kemenkes",
# "Ministry of ..."), a university a "Universitas ..." or an acronym ("UGM", "UIN Jakarta",
# "ITB"). "which ministry gave the award" is not answered by the minister, the city government
# or the cabinet ("Kabinet Merah Putih"), "which university" by a legal aid office ("LBH
# Pekanbaru"). All 34 train-side gold answers to a question asking for one fit (facqa-train,
# news-train, detik-tune).
_INSTITUTIONS = {
    "kementerian": "ministry", "ministry": "ministry", "ministries": "ministry",
    "universitas": "university", "university": "university", "universities": "university",
}  # fmt: skip
_INSTITUTION_WORDS = "|".join(_INSTITUTIONS)
_INSTITUTION_Q = re.compile(
    rf"\b(?:({_INSTITUTION_WORDS})(?:\s+\w+)?\s+(?:mana|apa)(?:kah)?|"
    rf"(?:which|what)\s+(?:(?!(?:is|was|are|were|do|does|did|has|had|the|a|an|of|to)\b)"
    rf"\w+(?<!s)\s+){{0,2}}?({_INSTITUTION_WORDS}))\b",
    _I,
)
_INSTITUTION_SPANS = {
    "ministry": re.compile(r"\b(kemen\w*|ministry|ministries|departemen|department)\b", _I),
    "university": re.compile(
        r"\b(universi\w*|institut\w*|politeknik|polytechnic|college)\b|"
        r"\b(?-i:U[A-Z]+|I[A-Z]{1,3})\b",
        _I,
    ),
}
# A bare duration ("30 tahun") dates nothing: none of the 528 train-side date questions has one
# for its answer.
_DURATION_ONLY = re.compile(
    r"^\W*((sekitar|lebih dari|hampir|about|over|nearly) )?(\d+([.,]\d+)?|"
    + "|".join(_NUMBER_WORDS)
    + r")( \w+)? ("
    + _TIME_UNITS
    + r")\W*$",
    _I,
)
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
    unit: str | None = None
    """For a quantity: the unit asked for ("age", "percent", "duration", "money", ...); for a
    date, "clock" when a time of day is asked for, "weekday" when a day of the week is, "year"
    when a year is; for a place, the administrative level asked for ("province", "village"),
    also where the question word is "apa" ("Apakah ibukota dari Kabupaten Merangin?"); for
    a question naming a ministry or a university, "ministry" or "university"; for one that
    opens asking why, "reason"; for one asking for an office or role, "role"; for one asking
    the way or channel through which ("lewat mana"), "way"."""


# A question that opens by asking why: the answer is a cause, a phrase or a clause ("tak
# memenuhi kewajiban jaminan reklamasi"), never a name alone ("Mail Syahputra" for "mengapa
# Nikita Mirzani menangis") nor a bare number. Of the 30 train-side questions opening so, one
# gold answer is a name alone ("Jamrek", beside its "jaminan reklamasi").
_REASON_Q = re.compile(r"\W*(mengapa|kenapa|knp|why|apa (sebab|alasan)(nya)?|alasan apa)\b", _I)

# A question asking whether ("Did Nikita Mirzani cry in court?", "apakah harga beras naik"):
# no span of a passage is its answer. English opens one with an auxiliary and asks no "wh"
# question in it, nor a choice ("Is it on Saturday or Sunday?"). Indonesian opens one with
# "apakah" (or "apa benar", "benarkah"), but "Apakah" opens "what" questions too: FacQA asks
# 186 of its 2,495 train questions so ("Apakah nama ...", "Apakah yang ..."). Those name an
# attribute ("nama", "kepanjangan", "jabatan") or run into "yang"; a yes/no question has a
# subject and a predicate, told by its markers ("sudah", "akan", "tidak"), a verb
# ("menangkap", "berlaku", "ditahan"), a common intransitive one ("naik", "hadir"), or a name
# for its subject ("apakah Prabowo hadir"). None of the 7,263 train-side questions (facqa-train
# and its pseudo-English, news-train, news-train-more, the corpus set, detik-tune) is one.
_EN_YES_NO = re.compile(
    r"\W*(did|does|do|is|was|are|were|has|have|had|can|could|will|would|should|shall|may|"
    r"might|must)(n't)?\b(?!.*\b(what|who|whom|whose|which|when|where|why|how|or)\b)",
    _I,
)
_ID_YES_NO = re.compile(r"\W*(apakah|apa (benar|betul)|benarkah|betulkah)\b", _I)
_ID_ASKS_WHAT = re.compile(
    r".*\b(yang|yg|siapa\w*|berapa\w*|kapan\w*|mana\w*|bagaimana\w*|mengapa|kenapa|apa|atau)\b|"
    r"\W*(nama|nama-nama|kepanjangan|singkatan|judul|jenis|jabatan|istilah|julukan|profesi|tema|"
    r"warna|arti|maksud|ibu ?kota)\b",
    _I,
)
_ID_PREDICATE = re.compile(
    r"\b(sudah|telah|sedang|akan|masih|pernah|bisa|dapat|boleh|harus|benar|betul|tidak|tak|"
    r"belum|memang|sempat|tetap|naik|turun|hadir|datang|menang|kalah|lulus|selesai|mundur|"
    r"hilang|tewas|stabil|mahal|murah)\b|"
    # a verb, not in a phrase of place or time ("tempat ... dirawat", "dari es menjadi uap")
    r"(?<!\btempat )(?<!\bdari )(?<!\bpada )(?<!\bsaat )(?<!\bselain )(?<!\bsebagai )"
    r"(?<!\buntuk )(?<!\boleh )(?<!\bketika )\b(me[a-z]{4,}|ber[a-z]{3,}|di[a-z]{4,})\b|"
    r"^\s*(?-i:[A-Z])",
    _I,
)


def asks_yes_no(question: str) -> bool:
    """Does ``question`` ask whether something is so, rather than for a thing?"""
    if _EN_YES_NO.match(question):
        return True
    opening = _ID_YES_NO.match(question)
    if not opening:
        return False
    rest = question[opening.end() :]
    return not _ID_ASKS_WHAT.match(rest) and bool(_ID_PREDICATE.search(rest))


def says_all_of(question: str, sentence: str) -> bool:
    """Does ``sentence`` say every word of ``question`` (but stopwords), each as itself or as
    one of its Indonesian words ("president" as "presiden")? What a yes/no question is
    answered by: the sentence that says what it asks about, for the reader to judge."""
    said = set(analyze(sentence))
    # "Will Purbaya prepare ...?" holds no word question_language counts as English
    english = bool(_EN_YES_NO.match(question)) or question_language(question) == "en"
    if english and text_language([sentence]) != "en":
        return _says_english_all_of(question, sentence, said)
    for word in _WORDS.findall(question):
        own = analyze(word)
        if own and own[0] not in said and said.isdisjoint(indonesian_terms(word)):
            return False
    return True


# English words that say nothing an Indonesian sentence must say: auxiliaries, pronouns,
# determiners, prepositions and adverbs of time or degree. The analyzer keeps most of them
# (BM25 over English articles wants them), and the lexicon has no Indonesian word for them, so
# "Has ... ?", "Will ... ?" or "... along the toll road" could never be said in Indonesian.
_ENGLISH_FUNCTION_WORDS = frozenset(
    "has have had having will would can could should shall may might must am are were being "
    "been it its they their them he she his her we our you your i me my any all some there here "
    "also still already again ever yet just even only really very much many more most such so "
    "over under between through into onto upon during against along across among around near "
    "within without toward towards since until while than then both each every either neither "
    "another other same if but because although though whether".split()
)


def _says_english_all_of(question: str, sentence: str, said: set[str]) -> bool:
    """``says_all_of`` for an English question and an Indonesian sentence, phrase by phrase
    as the query lexicon reads the question ("charging stations" is "SPKLU", not "charging"
    as "dakwa" and "stations"). A phrase is said as itself (an inflection too: "rest areas" as
    "Rest Area"), as one of its lexicon words, as a sentence word the reader's Indonesian ->
    English lexicon gives it for ("ditangkap" -> "arrested"), or as its loanword spelling.
    Function words are not asked for (``_ENGLISH_FUNCTION_WORDS``): before, "Has ... ?" and
    "... along the toll road corridor?" abstained over the sentence that says so."""
    in_english = {
        form
        for w in _WORDS.findall(sentence)
        for english in LEXICON.get(w.casefold(), "").split()
        for form in base_forms(english)
    }
    for phrase, indonesian in english_phrases(question):
        words = [w for w in phrase.split() if analyze(w) and w not in _ENGLISH_FUNCTION_WORDS]
        if not words:
            continue  # "did", "the", "has", "along"
        if all(
            not in_english.isdisjoint(base_forms(w))
            or any(t in said for f in base_forms(w) for t in analyze(f))
            for w in words
        ):
            continue
        if indonesian is not None and not said.isdisjoint(analyze(" ".join(indonesian))):
            continue
        spelled = loanword_spellings(phrase, base_forms(phrase)) if indonesian is None else []
        if said.isdisjoint(analyze(" ".join(spelled))):
            return False
    return True


# A question asking for someone's office or role ("What position does Supangat hold", "apa
# jabatan Bahlil", "Pramono Anung itu jabatannya apa", "menjabat sebagai apa"), or for the way
# or channel something goes through ("pencairan bansos lewat mana", "melalui apa", "through
# which channels"): a date, a time or a bare number is no answer to either ("17 Agustus 1945"
# of "Universitas 17 Agustus 1945", "minggu depan"). "At what position does ... rank" asks for
# a rank ("ke-73") and is left out.
_ROLE_Q = re.compile(
    r"\b(what|which) (\S+ )?(position|post|role|title|job)s?\b(?!.*\brank)|"
    r"'s (position|role|title|job)\b(?!.*\brank)|"
    r"\b(jabatan|posisi|peran)(nya)?( \S+){0,4} apa(kah)?\b|"
    r"\bapa(kah)? (jabatan|posisi|peran)\b|\b(sebagai|menjabat) apa(kah)?\b",
    _I,
)
_WAY_Q = re.compile(
    r"\b(lewat|melalui|via) (mana|apa)(kah)?\b|\b(through|via) (which|what)\b|"
    r"\bby what (means|route|channel)s?\b",
    _I,
)
# The words of a span that only says when (or how many): numbers, months, days, time words and
# the words that make them relative ("minggu depan", "17 Agustus 1945", "2").
_WHEN_WORDS = frozenset(
    _NUMBER_WORDS
    + _MONTHS_DAYS
    + _TIME_WORDS
    + "depan mendatang nanti ini tadi sejak mulai pada tanggal hari ke next last this on "
    "since from".split()
)


def _says_only_when(span: str) -> bool:
    """Is ``span`` a date, a time or a number and nothing else?"""
    return all(w.casefold() in _WHEN_WORDS for w in _WORDS.findall(span))


# Chat spellings of question words ("brp kabupaten yg ...", "tgl brp"): 45 of the train-side
# questions use one. "apa aja" stays no list question: as one it lost list recall on them.
_INFORMAL = {"brp": "berapa", "tgl": "tanggal", "thn": "tahun", "knp": "kenapa"}
_INFORMAL_WORD = re.compile(r"\b(" + "|".join(_INFORMAL) + r")\b", _I)


def question_type(question: str) -> QuestionType:
    """The kind asked for by the question word that comes first ("Who ... quoted on how long"
    asks for a person); at the same place, date before quantity before person before place."""
    question = _INFORMAL_WORD.sub(lambda m: _INFORMAL[m.group(1).casefold()], question)
    first: tuple[int, int, Kind] | None = None
    for priority, (kind, pattern) in enumerate(_KIND_PATTERNS):
        match = pattern.search(question)
        if match and (first is None or (match.start(), priority) < first[:2]):
            first = (match.start(), priority, kind)
    kind: Kind = first[2] if first else "other"
    unit = None
    if kind == "quantity":
        # the unit asked next to the question word: the match that starts first, then the
        # shortest ("berapa orang setelah anggaran dipangkas" counts people)
        asked_units = [
            (m.start(), m.end(), order, name)
            for order, (name, asked, _) in enumerate(_UNITS)
            if (m := asked.search(question)) is not None
        ]
        unit = min(asked_units)[3] if asked_units else None
    elif kind == "date" and _CLOCK_Q.search(question):
        unit = "clock"
    elif kind == "date" and _WEEKDAY_Q.search(question):
        unit = "weekday"
    elif kind == "date" and _YEAR_Q.search(question):
        unit = "year"
    elif kind == "other" and _REASON_Q.match(question):
        unit = "reason"
    elif kind == "other" and _ROLE_Q.search(question):
        unit = "role"
    elif kind in ("place", "other") and _WAY_Q.search(question):
        unit = "way"
    elif kind in ("place", "other") and (level := _LEVEL_Q.search(question)):
        unit = _LEVELS[(level.group(1) or level.group(2)).casefold()]
    elif kind in ("place", "other") and (body := _INSTITUTION_Q.search(question)):
        unit = _INSTITUTIONS[(body.group(1) or body.group(2)).casefold()]
    return QuestionType(kind, bool(_LIST_Q.search(question)), unit)


# The most words a span answering a typed question has: as long as 99.5% (quantity), 99.8%
# (date), 97.8% (person) and 98.4% (place) of the 2,454 train-side gold answers of that kind
# (facqa-train, news-train, the corpus set, detik-tune). Longer spans run on past the fact
# ("31 puskesmas, enam rumah sakit, dan gerai vaksin di ...", "Jerman, melaporkan penemuan
# planet ..."); the composer goes down to the reader's next span, often the fact alone.
_MAX_WORDS: dict[Kind, int] = {"quantity": 8, "date": 6, "person": 8, "place": 10}


def span_fits(kind: Kind, span: str, unit: str | None = None, after: str = "") -> bool:
    """Is ``span`` of the kind asked for? Lenient by design: it rules out spans that cannot be
    the answer (no digit or time word for "when", no "tahun" for "how old"), it does not check
    that one is right. Nor is a span longer than answers of its kind are (``_MAX_WORDS``).

    ``after``: the passage's text right after the span. A number's unit follows it, and the
    reader's span may stop before it: "5,44" of "5,44% penduduk" is a share, no count of
    people; "111 juta" of "111 juta angkutan logistik" counts vehicles, no amount of money."""
    if kind in _MAX_WORDS and len(span.split()) > _MAX_WORDS[kind]:
        return False
    if kind == "quantity":
        counted = _NOT_COUNTED.sub(" ", span)
        if not _QUANTITY_SPAN.search(counted) or _DATE_ONLY.match(span.strip()):
            return False
        fits = next((f for name, _, f in _UNITS if name == unit), None)
        if fits is None:
            return True
        tail = _UNIT_AFTER.match(after)
        measured = span + tail.group() if tail and _ENDS_IN_AMOUNT.search(span) else span
        if unit == "count" and measured != span:
            return bool(fits.search(measured))  # a share or a measure right after the number
        if unit == "money" and not _CURRENCY.search(span) and _COUNTING_AMOUNT.search(measured):
            return False
        return bool(fits.search(span))
    if kind == "date":
        pattern = _DATE_UNIT_SPANS.get(unit or "", _DATE_SPAN)
        return bool(pattern.search(span)) and not _DURATION_ONLY.match(span)
    names = [w for w in _WORDS.findall(span) if w[0].isupper()]
    if kind == "person":  # a name that is not only an institution's, and counts nobody
        return any(w.casefold() not in _NOT_A_PERSON for w in names) and not (
            _COUNTS_SOMETHING.search(span)
        )
    if unit in ("role", "way"):  # an office or a way is said in words, not as a date
        return not _says_only_when(span)
    if unit == "reason":  # a cause is said in words, not with a name alone
        return any(w[0].islower() for w in _WORDS.findall(span))
    if unit in _INSTITUTION_SPANS:
        return bool(_INSTITUTION_SPANS[unit].search(span))
    level = _LEVEL_SPAN.match(span)
    if level and unit not in (None, _LEVELS[level[1].casefold()]):
        return False
    if kind == "place":
        # a name: a word with a capital letter (Indonesian news capitalises names and places)
        return bool(names)
    return True


# Words that start English questions before their question word, and Indonesian question
# words' longer forms: none of them a name.
_STARTERS = frozenset(
    "according after among apart approximately around as aside before besides between despite "
    "during following into nearly over roughly since through under until within "
    "bagaimanakah darimanakah dimanakah kemanakah lewat sebutkan".split()
)


def _common_word(word: str) -> bool:
    """A word as any sentence may start with, not a name: written in lower case but for its
    first letter, and in one of the project's word lists (stopwords, the lexicons)."""
    folded = word.casefold()
    return word[1:].islower() and (
        folded in _QUESTION_WORDS
        or folded in _STARTERS
        or folded in STOPWORDS
        or folded in LEXICON
        or folded in english_lexicon()
    )


_QUESTION_WORDS = frozenset(
    "what who whom whose which when where why how is was are were did does do can could the a "
    "an in on of for to and name apa apakah siapa siapakah berapa berapakah kapan kapankah "
    "mana manakah dimana bagaimana mengapa kenapa di ke dari yang".split()
)


def question_names(question: str) -> set[str]:
    """The names and years a question is about ("Pasadena", "FIFA", "1994"), casefolded:
    capitalised words that are not question words, wherever they stand. Names keep their
    form across English and Indonesian, so they can be looked for in the evidence.

    The first word is capitalised because it starts the question: it counts unless it is a
    common word ("Binatang apa ...", "Dimanakah ...", "According to ..."). A third of
    facqa-train's questions start with one, and where it was their only "name" every passage
    that did not repeat the word was ruled out; "Pangling is short for what" keeps its name."""
    question = _compatible(question)
    words = _WORDS.findall(question)
    if words and _common_word(words[0]):
        words = words[1:]
    names = {w.casefold() for w in words if w[0].isupper()}
    names -= _QUESTION_WORDS
    return names | question_years(question) | indonesian_place_names(question)


# A year, or an English decade by its first year ("the 1990s" as "tahun 1990-an" is "1990").
_NAMED_YEAR = re.compile(r"\b(1[89]\d\d|2[01]\d\d)(?=s?\b)")


def question_years(question: str) -> set[str]:
    """The years a question names ("siapa presiden Amerika Serikat tahun 1990" -> "1990"; "in
    the 1990s", like "pada 1990-an", -> "1990": it named none, and was answered from an article
    of 2025). A number that reads as no year (``reads_as_year``: "Rp 2025", "2020 peserta") is
    none: only the articles of that year, or naming it, were read for its answer."""
    question = _compatible(question)
    return {
        m.group(1)
        for m in _NAMED_YEAR.finditer(question)
        if reads_as_year(question, m.start(), m.end())
    }


# The words around a question word that name what is asked for ("which Palembang programs",
# "program apa saja", "apa nama penghargaan"): a span may start with those.
_ASKING_AFTER = frozenset("which what apa apakah siapa mana manakah berapa berapakah".split())
_ASKING_BEFORE = frozenset("apa apakah mana manakah berapa berapakah".split())
_NOT_CONTENT = _QUESTION_WORDS | frozenset(
    "by at with from as its their his her this that these those be been has have had "
    "ini itu untuk dengan pada oleh dalam saja".split()
)


def _stem(word: str) -> str:
    word = word.casefold()
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def restates_question(question: str, span: str) -> bool:
    """Does ``span`` name something the question already names, instead of answering it?

    "which Palembang programs won 2020 awards" read over "Dua program ..., Poltabes dan
    Pangling, terpilih sebagai pemenang penghargaan inovasi pelayanan publik" can get
    "penghargaan inovasi pelayanan publik": what was won, not what won. Such a span is a
    common noun phrase whose head (Indonesian puts it first) is a content word of the
    question, or its English in the reader's lexicon, other than the words next to the
    question word that say what is asked for ("programs"). Spans with a name or a number are
    never ruled out ("Kecamatan Jenawi" for "which sub-district"). Of the 4,168 gold answers
    of the train-side sets (news-train, facqa-train, corpus, detik-tune) it rules out 8.
    """
    words = _WORDS.findall(span)
    if not words or any(w[0].isupper() for w in words) or _QUANTITY_SPAN.search(span):
        return False
    head = words[0].casefold()
    english = LEXICON.get(head, "").split()
    return not _named_not_asked(question).isdisjoint(
        {_stem(head), *(_stem(w) for w in english[:1])}
    )


@lru_cache(maxsize=256)
def _named_not_asked(question: str) -> frozenset[str]:
    """The question's content words (stemmed) but those next to its question word. Cached:
    the composer checks every candidate span of one question against them."""
    asked = _WORDS.findall(question.casefold())
    near: set[str] = set()
    for i, word in enumerate(asked):
        if word in _ASKING_AFTER:
            near.update(asked[i + 1 : i + 4])
        if word in _ASKING_BEFORE:
            near.update(asked[max(0, i - 2) : i])
    content = {_stem(w) for w in asked if w not in _NOT_CONTENT}
    return frozenset(content - {_stem(w) for w in near})


# Offices a question may ask the holder of, Indonesian and English, each to one key. A deputy
# holds another office than the one he deputises for: "Wakil Wali Kota Bogor, Jenal Mutaqin"
# answers "who is Bogor's deputy mayor", not "who is the mayor of Bogor".
_ROLES = {
    "menteri": "minister", "minister": "minister", "wali kota": "mayor", "walikota": "mayor",
    "mayor": "mayor", "gubernur": "governor", "governor": "governor", "bupati": "regent",
    "regent": "regent", "presiden": "president", "president": "president", "ketua": "chair",
    "chairman": "chair", "chair": "chair", "direktur": "director", "director": "director",
    "sekda": "secretary", "sekretaris": "secretary", "secretary": "secretary",
    "kepala": "head", "head": "head",
    "wakil menteri": "deputy minister", "wamen": "deputy minister",
    "deputy minister": "deputy minister", "vice minister": "deputy minister",
    "wakil wali kota": "deputy mayor", "wakil walikota": "deputy mayor", "wawali": "deputy mayor",
    "deputy mayor": "deputy mayor", "vice mayor": "deputy mayor",
    "wakil gubernur": "deputy governor", "wagub": "deputy governor",
    "deputy governor": "deputy governor", "vice governor": "deputy governor",
    "wakil bupati": "deputy regent", "wabup": "deputy regent", "deputy regent": "deputy regent",
    "wakil presiden": "vice president", "wapres": "vice president",
    "vice president": "vice president", "wakil ketua": "deputy chair",
    "deputy chair": "deputy chair", "deputy chairman": "deputy chair",
    "vice chair": "deputy chair", "vice chairman": "deputy chair",
}  # fmt: skip
_ROLE_WORDS = "|".join(sorted(_ROLES, key=len, reverse=True))
_ROLE = re.compile(rf"\b({_ROLE_WORDS})\b", _I)
# One word may stand between the question word and the office ("siapa Menteri ...", "which
# Palembang official"), a possessive too ("who is Bogor's deputy mayor"), but not a deputy's
# own word: "siapa wakil wali kota" asks for the deputy, not for the mayor.
_ASKS_HOLDER = re.compile(
    r"\b(?:siapa(?:kah)?|who(?:'s| is| was)?(?: the)?|which)\s+"
    rf"(?:(?!wakil\b|deputy\b|vice\b)\w+(?:'s)?\s+)?({_ROLE_WORDS})\b",
    _I,
)
# "Who chairs the NasDem party", "who headed the team": the office as a verb.
_ASKS_BY_VERB = re.compile(r"\bwho\s+(chair|head)(?:s|ed)\b", _I)


# A question asking for a person by name, or for people by what they are ("siapa nama Wali
# Kota Solo", "siapa saja pelaku ...", "who were the two people who ..."): an institution
# ("Pemerintah Kota (Pemkot) Palembang") or an office with no one's name ("Bupati Bogor", in
# "menerima penghargaan mewakili Bupati Bogor") is no answer to it. Other "siapa" questions
# may be: the first gold answer of 75 of the 800 train-side "siapa" / "who" questions names
# no one, a body ("Pemkab Banjarnegara", "PT Angkasa Pura II", "Dewan Keamanan PBB"), an office
# alone ("Presiden", "Menteri Keuangan", "Kepala BGN") or a group ("kelompok komunis"); no
# gold answer of the 560 questions asking so does (facqa-train and its pseudo-English,
# news-train, news-train-more, the corpus set, detik-tune).
_ASKS_NAMED_PERSON = re.compile(
    r"\bsiapa(?:kah)?(?: saja| aja)?\s+(?:nama|orang|pelaku|tersangka|terdakwa|korban|pemain|"
    r"atlet|tokoh|sosok|pria|wanita|perempuan|saksi)\b|"
    r"\b(?:who|which|what)\s+(?:(?:is|are|was|were)\s+)?(?:the\s+)?"
    r"(?:(?:two|three|four|five|\d+)\s+)?(?:people|persons?|men|man|women|woman|suspects?|"
    r"defendants?|victims?|players?|athletes?|witnesses?)\b",
    _I,
)
# Offices named with the place they are held for, which news writes right after them: in
# "Bupati Bogor" or "Kapolda Sumsel", "Bogor" and "Sumsel" are places, not names.
_PLACE_OFFICES = re.compile(
    r"\b(?:bupati|wali ?kota|gubernur|camat|lurah|kapolda|kapolres\w*|kapolsek|kajati|kajari|"
    r"pangdam|danrem|dandim|sekda|wabup|wagub|wawali)\s+(?-i:[A-Z])\w*",
    _I,
)
# Titles and ranks that stand before a name: none of them is one.
_TITLES = frozenset(
    "presiden wakil menteri wali walikota gubernur bupati ketua direktur kepala sekretaris "
    "sekda camat lurah kapolda kapolres kapolresta kapolrestabes kapolsek kapolri kajati "
    "kajari jaksa hakim panglima komandan wapres wagub wabup wawali plt pj plh mantan dirut "
    "kadis sekjen dirjen jenderal irjen brigjen kombes akbp akp iptu ipda kolonel letkol "
    "mayor kapten umum utama agung besar muda madya".split()
)


def asks_for_named_person(question: str) -> bool:
    """Does ``question`` ask for a person by name or for people by what they are (or for the
    holder of an office, ``asked_role``)?"""
    return bool(_ASKS_NAMED_PERSON.search(question)) or asked_role(question) is not None


def names_a_person(span: str, before: str = "") -> bool:
    """Does ``span`` hold someone's name: a capitalised word that is no institution's or
    office's word, no acronym, no common word and no place an office is held for? "Presiden
    Prabowo", "Kapolda Sumsel Irjen A. Rachmad Wibowo" do; "Bupati Bogor", "Gubernur Jawa
    Barat" and "Pemerintah Kota (Pemkot) Palembang" (an institution first) do not. ``before``:
    the passage's text before the span, whose office may precede it ("Bogor" of "mewakili
    Bupati Bogor")."""
    words = _WORDS.findall(span)
    if words and words[0].casefold() in _NOT_A_PERSON:
        return False
    lead = before[-30:]
    places = {m.end() - len(lead) for m in _PLACE_OFFICES.finditer(lead + span)}
    for match in re.finditer(r"[^\W\d_]+", span):
        word = match.group()
        folded = word.casefold()
        if (
            not word[0].isupper()
            or (len(word) > 1 and word.isupper())
            or folded in _TITLES
            or folded in _NOT_A_PERSON
            or match.end() in places
            or (word[1:].islower() and folded in STOPWORDS)
            or (len(word) > 1 and word[1:].islower() and folded in LEXICON)
        ):
            continue
        return True
    return False


def asked_role(question: str) -> str | None:
    """The office whose holder a "who" question asks for: "siapa menteri yang menyerahkan
    penghargaan" -> "minister", "who chairs the council" -> "chair"; None for "siapa yang
    menerima penghargaan"."""
    match = _ASKS_HOLDER.search(question)
    if not match:
        by_verb = _ASKS_BY_VERB.search(question)
        return _ROLES[by_verb.group(1).casefold()] if by_verb else None
    compound = _ROLE.match(question, match.end(1) + 1)  # "president director": a director
    return _ROLES[(compound or match).group(1).casefold()]


def role_before(text: str, start: int, words: int = 12) -> str | None:
    """The office named nearest before ``start`` in its sentence, within ``words`` words:
    news introduces a person by title, "Walikota Palembang H. Harnojoyo", "Menteri
    Pendayagunaan Aparatur Negara ... Cahyo Kumolo"."""
    head = re.split(r"[.!?;]\s", text[:start])[-1]
    near = " ".join(head.split()[-words:])
    roles = _ROLE.findall(near)
    return _ROLES[roles[-1].casefold()] if roles else None


# The thing a count names right after its number ("361 kabupaten", "tujuh kamar tidur"); a
# multiplier ("35,04 juta", "tiga puluh") is part of the number, so a bare amount names nothing.
_COUNT_NUMBERS = (
    r"\d[\d.,]*|satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|sebelas|seratus|"
    r"seribu|seorang|puluhan|ratusan|ribuan|belasan"
)
_COUNT_WORDS = _COUNT_NUMBERS + r"|juta|ribu|miliar|ratus|puluh|belas|lebih"
_COUNT_NOUN = re.compile(
    rf"(?:^|\s)(?:{_COUNT_NUMBERS})(?:\s+(?:{_COUNT_WORDS}))*"
    rf"\s+(?!(?:{_COUNT_WORDS})\b)([^\W\d_]+)(?:\s+([^\W\d_]+))?",
    _I,
)
# Words that count in units of the thing named after them: "157 unit Stasiun Pengisian"
# counts charging stations, "54 titik Rest Area" rest areas, "tiga ekor sapi" cows.
_CLASSIFIERS = frozenset(
    analyze(w)[0] for w in "unit buah ekor biji butir lembar helai batang pucuk titik".split()
)
# The rest of a span's clause after it: where the noun a bare amount counts stands ("111 juta"
# + " angkutan logistik yang ...").
_CLAUSE_REST = re.compile(r"[^\n.!?;:,()]*")
# A count and nothing else: a number and the one common noun it counts ("dua penghargaan",
# "empat pelaku", "4 orang"). It says how many, not which: no item of a list question ("apa
# saja", "which programs"), nor a name for a "who" question ("... menangkap empat pelaku").
_COUNT_PHRASE = re.compile(
    rf"(?i:(?:sekitar|lebih dari|hampir|about|over|nearly)\s+)?"
    rf"(?i:{_COUNT_NUMBERS})(?:\s+(?i:{_COUNT_WORDS}))*\s+(?!(?i:{_COUNT_WORDS})\b)[a-z][\w-]*"
)
_COUNTS_SOMETHING = re.compile(rf"(?:^|\s){_COUNT_PHRASE.pattern}\b")


# An amount in thousands or millions with nothing after it ("lebih dari 111 juta"): a count
# or a sum, no item either.
_BARE_AMOUNT = re.compile(
    r"(?:(?:sekitar|lebih dari|hampir|about|over|nearly)\s+)?\d[\d.,]*"
    r"\s+(?:ribu|juta|miliar|triliun|thousand|million|billion|trillion)",
    _I,
)


def is_count_phrase(span: str) -> bool:
    """Is ``span`` a count alone, a number and the common noun it counts ("dua penghargaan"),
    or an amount in thousands or millions ("lebih dari 111 juta")?"""
    span = span.strip()
    return _COUNT_PHRASE.fullmatch(span) is not None or _BARE_AMOUNT.fullmatch(span) is not None


# Words for people: "152 penumpang" counts the "orang" of "berapa orang yang tewas", "35 orang"
# the "anak balita" of the question.
_PEOPLE = frozenset(
    analyze(w)[0]
    for w in "orang jiwa warga penduduk korban penumpang masyarakat rakyat anak balita".split()
)


@lru_cache(maxsize=256)
def _question_terms(question: str) -> frozenset[str]:
    return frozenset(query_terms(question))


_HOW_MANY = re.compile(
    r"\bhow many ((?:" + _MODIFIER + r"){0,3}?(?:[^\W\d_]{3,}s|people|children|men|women))\b",
    _I,
)


@lru_cache(maxsize=256)
def _counted_terms(question: str, terms: frozenset[str]) -> frozenset[str]:
    """The stemmed words, with their Indonesian words, of what "how many X" counts ("how many
    public EV charging stations ... at its rest areas" counts "stasiun", "SPKLU", not "rest
    area"); ``terms``, all the question's, when it names no X so (Indonesian questions)."""
    how_many = _HOW_MANY.search(question)
    if not how_many:
        return terms
    thing = how_many.group(1)
    return frozenset(analyze(thing)) | frozenset(indonesian_terms(thing))


def counted_thing(
    question: str, span: str, after: str = ""
) -> Literal["asked", "people", "other"] | None:
    """What the count ``span`` counts, against what the question counts: "asked" when the
    thing named after its number is one of the question's words or their Indonesian words,
    stemmed as BM25 has them ("31 provinsi" for "how many provinces"); "people" when both name
    people in other words ("152 penumpang" for "berapa orang yang tewas"); "other" when it
    counts something else ("361 kabupaten"); None when it names no thing ("35,04 juta").

    ``after``: the passage text that follows the span. The reader often ends a count at its
    number ("111 juta" of "111 juta angkutan logistik"); the noun after it in the passage is
    still what it counts, so "111 juta" is no answer to "how many charging stations". A
    classifier ("157 unit Stasiun Pengisian") counts the noun after it."""
    match = _COUNT_NOUN.search(span + _CLAUSE_REST.match(after).group())
    noun = analyze(match.group(1)) if match else []
    if not noun:
        return None
    nouns = [noun[0]]
    if noun[0] in _CLASSIFIERS and match and match.group(2):
        nouns += analyze(match.group(2))[:1]
    terms = _question_terms(question)
    if not _counted_terms(question, terms).isdisjoint(nouns):
        return "asked"
    if not _PEOPLE.isdisjoint(nouns) and not terms.isdisjoint(_PEOPLE):
        return "people"
    return "other"


_BERAPA_THING = re.compile(
    rf"\bberapa(?:kah)? (?:jumlah |banyak(?:nya)? )?((?:{_COUNTED_ID})(?:kah)?)\b"
    r"(?:\s+([^\W\d_]+))?",
    _I,
)


def _named_count_terms(question: str) -> frozenset[str]:
    """The stemmed words of the thing a count question names right after its question word
    ("how many public EV charging stations", "berapa unit SPKLU" -> "spklu"): empty when it
    names none there ("berapa jumlah yang hadir")."""
    if _HOW_MANY.search(question):
        return _counted_terms(question, _question_terms(question))
    berapa = _BERAPA_THING.search(question)
    if not berapa:
        return frozenset()
    return frozenset(_counted_word(berapa.group(1), berapa.group(2)))


def _counted_word(word: str, after: str | None) -> list[str]:
    """The stem of what ``word`` counts: the word itself, or after a classifier ("unit",
    "buah") the word that follows it; empty when neither has a stem."""
    noun = analyze(word)[:1]
    if noun and noun[0] in _CLASSIFIERS and after:
        return analyze(after)[:1]
    return noun


def counts_of_asked_thing(question: str, text: str) -> list[tuple[int, int]]:
    """The counts in ``text`` of the thing the question names after its question word, each
    as the span of its number and noun or classifier ("157 unit" of "157 unit Stasiun
    Pengisian ..." for "how many charging stations"). The reader often scores such a count
    far below another count of the same passage ("111 juta" logistics vehicles, "54 titik" rest
    areas): of its top spans none counts the stations, though the passage says how many."""
    thing = _named_count_terms(question)
    if not thing:
        return []
    found = []
    for m in _COUNT_NOUN.finditer(text):
        if not thing.isdisjoint(_counted_word(m.group(1), m.group(2))):
            start = m.start() + (1 if text[m.start()].isspace() else 0)
            found.append((start, m.end(1)))
    return found


# The thing a "which X" / "X apa" question names ("which bus terminal", "di masjid mana",
# "Departemen apakah"): the one or two lower-case words after "which"/"what" (not a verb, a
# number or a name), or the word before "apa"/"mana".
_WHICH_THING = re.compile(
    r"\b(?:which|what)\s+(?!(?:is|was|are|were|do|does|did|has|have|had|will|would|can|could)"
    r"\b)(.*)",
    _I,
)
_THING_ENDS = frozenset(
    "is was are were do does did has have had will would can could should may might in at on "
    "for of to from by that with as the a an this these those its their his her".split()
)
_NOT_THING = frozenset("kind type sort one two three".split())
_THING_BEFORE = re.compile(r"\b([^\W\d_]+)\s+(?:apa|mana)(?:kah)?\b", _I)
_NO_THING_BEFORE = frozenset(
    "yang untuk dengan dari di ke oleh dalam pada kepada bagaimana alasan hal sebab".split()
)


@lru_cache(maxsize=256)
def asked_thing(question: str) -> frozenset[str]:
    """The stemmed words, with their Indonesian words, of the thing a "which X" question asks
    for: "which bus terminal" -> "bus", "terminal" and their lexicon words; "Di masjid mana"
    -> "masjid". Empty when the question names none ("what did ...", "untuk apa")."""
    if asked_role(question):
        return frozenset()  # "which coordinating minister" asks for the minister, not the office
    which = _WHICH_THING.search(question)
    if which:
        words: list[str] = []
        for word in re.findall(r"[\w'-]+", which.group(1)):
            if word.casefold() in _THING_ENDS:
                break
            if word[0].isupper() or word[0].isdigit() or word.casefold() in _NOT_THING:
                continue
            words.append(word.casefold())
            if len(words) == 2:
                break
        return frozenset(t for w in words for t in [*analyze(w), *indonesian_terms(w)])
    before = _THING_BEFORE.search(question)
    if before and before.group(1).casefold() not in _NO_THING_BEFORE:
        return frozenset(analyze(before.group(1)))
    return frozenset()


def mentions_thing(thing: frozenset[str], span: str) -> bool:
    """Does ``span`` name the thing anywhere ("terminal bus di Bandung")?"""
    return not thing.isdisjoint(analyze(span))


def named_as_thing(thing: frozenset[str], span: str) -> bool:
    """Is ``span`` a name that starts with the thing, as Indonesian names do ("Terminal
    Leuwipanjang", "Masjid Istiqomah", "Departemen Kesehatan")? Both first words capitalised:
    "Penghargaan ilmu pengetahuan ..." restates the question's "penghargaan apakah"."""
    words = span.split()
    if len(words) < 2 or not (words[0].isalpha() and words[0][0].isupper()):
        return False
    first = analyze(words[0])
    return bool(first) and first[0] in thing and words[1][:1].isupper()


def mentions_any(names: set[str], text: str) -> bool:
    """Does ``text`` name at least one of ``names`` (no names: nothing to check)?"""
    if not names:
        return True
    text = _compatible(text)
    words = {w.casefold() for w in _WORDS.findall(text)} | set(_YEAR.findall(text))
    return not names.isdisjoint(words)
