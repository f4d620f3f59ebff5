"""Questions that ask what an abbreviation stands for, and the long forms news spells out.

News writes an abbreviation's long form once, next to it in brackets: "Inovasi Penyuluhan
Keliling Anak (Pangling)", or "KPU (Komisi Pemilihan Umum)"; or says it: "Pangling adalah
kependekan dari Penyuluhan Keliling Anak". For "Pangling singkatan dari apa" or "what does
KPU stand for", a span of the reader's that is that long form is the answer, whatever its
margin: the text vouches for it, as an enumeration's ordinals vouch for its items
(``service.reader_answer``). The reader, trained on one answer per question, often gives
such a span a margin just under the threshold, ranks another abbreviation's long form above
it when that one's sentence shares the question's words ("Poltabes merupakan singkatan dari
..." for "Pangling singkatan dari apa"), or runs it on into the bracket ("Badan Rehabilitasi
dan Rekonstruksi (BRR) Aceh") or back into the clause before it ("Pemerintah RI dan Gerakan
Aceh Merdeka").
"""

from __future__ import annotations

import re

_ABBREVIATION = r"(?P<abbr>[A-Za-z0-9][\w-]*[A-Za-z0-9])"
_ASKS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        # the abbreviation ends the question: "singkatan dari Kepolisian Sektor" asks for one
        rf"\b(?:kepanjangan|kependekan|singkatan) (?:dari |nama )?{_ABBREVIATION}\s*(?:\?|$)",
        rf"\b(?:kepanjangan|kependekan) (?:dari )?{_ABBREVIATION} (?:itu |adalah )?apa",
        rf"\b{_ABBREVIATION} (?:adalah |merupakan |itu )?(?:kepanjangan|kependekan|singkatan) "
        r"(?:dari )?apa",
        rf"\bwhat (?:does|do|did) (?:the )?(?:abbreviation |acronym |term )?{_ABBREVIATION} "
        r"stand for",
        rf"\b{_ABBREVIATION} (?:is |was )?(?:short|an abbreviation|an acronym) for what",
        rf"\bwhat (?:is|was) (?:the )?{_ABBREVIATION} short for",
    )
]
# "Pangling adalah kependekan dari ...", "Poltabes stands for ...": the span after it
_DEFINED = (
    r"(?:,? (?:(?:adalah|merupakan|ialah|yaitu|yakni|itu) )?(?:singkatan|kependekan|kepanjangan"
    r"|akronim) (?:dari )?"
    r"|,? (?:stands for|is short for|is an? (?:abbreviation|acronym) (?:of|for)) )"
)
# Words an abbreviation skips: "Badan Rehabilitasi dan Rekonstruksi" is BRR.
_SKIPPED = frozenset("dan dari di untuk ke yang and of for the in on".split())


def asked_abbreviation(question: str) -> str | None:
    """The abbreviation whose long form the question asks for ("Pangling" in "Pangling
    singkatan dari apa"), or None. "Apakah singkatan dari Kepolisian Sektor" asks the other
    way round and gets None."""
    for pattern in _ASKS:
        match = pattern.search(question)
        if match and match.group("abbr").casefold() not in _SKIPPED | {"apa", "apakah"}:
            return match.group("abbr")
    return None


def long_form(text: str, start: int, end: int, abbreviation: str) -> tuple[int, int] | None:
    """Offsets of the long form of ``abbreviation`` that ``text[start:end]`` spells out, or
    None when it spells out none.

    The span is the long form when it runs up to " (ABBR)" (cut there if it runs on into the
    bracket), sits inside the bracket after "ABBR (", or follows "ABBR adalah singkatan dari"
    ("stands for"). Its start moves forward to the words whose initials spell the
    abbreviation, when some do ("Gerakan Aceh Merdeka" for GAM out of "Pemerintah RI dan
    Gerakan Aceh Merdeka"); Indonesian abbreviations made of syllables ("Pangling") keep the
    reader's start."""
    bracket = re.compile(rf"\s*\({re.escape(abbreviation)}\)", re.IGNORECASE).search(text, start)
    if bracket and start < bracket.start() <= end:
        cut = bracket.start()
        if "(" not in text[start:cut]:  # not across another abbreviation's bracket
            return _spelled_start(text, start, cut, abbreviation), cut
    before = text[max(0, start - len(abbreviation) - 40) : start]
    opened = re.search(rf"\b{re.escape(abbreviation)} \($", before, re.IGNORECASE)
    if opened and text[end : end + 1] == ")":
        return start, end
    if re.search(rf"\b{re.escape(abbreviation)}{_DEFINED}$", before, re.IGNORECASE):
        return start, end
    return None


def _spelled_start(text: str, start: int, end: int, abbreviation: str) -> int:
    letters = abbreviation.casefold()
    words = list(re.finditer(r"[^\W_][\w-]*", text[start:end]))
    initials = ""
    for word in reversed(words):
        if word.group().casefold() in _SKIPPED:
            continue
        initials = word.group()[0].casefold() + initials
        if initials == letters:
            return start + word.start()
        if not letters.endswith(initials):
            break
    return start
