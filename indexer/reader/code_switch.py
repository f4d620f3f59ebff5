"""Pseudo-English rewrites of Indonesian questions, for code-switching training augmentation.

Why: the extractive reader is trained on Indonesian FacQA questions only, but users also ask
in English over the same Indonesian articles, and no machine-translation model is available
offline. The encoder is multilingual, so a rough rewrite is enough to help: English wh-words
("in what year", "who", "how many") teach the question type, and English content words
("president", "championship") teach cross-lingual matching against the Indonesian passage.

How: (a) the question word and the phrase around it become an English wh-phrase moved to the
front ("kota Padang didirikan pada tahun berapa" -> "In what year city Padang founded"), then (b)
every other word goes through a hand-written lexicon, keeping word order. Capitalised words
after the first (names, acronyms: PT, DPR, KPK), numbers and unknown words are kept as they
are. Questions without a recognised question word give None: the caller keeps the Indonesian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


def _read_lexicon(path: Path) -> dict[str, str]:
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines())
    return {row[0]: row[1] for row in rows if len(row) == 2 and not row[0].startswith("#")}


LEXICON = _read_lexicon(Path(__file__).with_name("lexicon_id_en.tsv"))

# fmt: off
WH_WORDS = frozenset(
    "apa siapa berapa kapan dimana mana kemana darimana bagaimana mengapa keberapa".split()
)
# Prepositions that open a wh-phrase ("di negara mana" -> "in which country").
PREPOSITIONS = {
    "di": "in", "pada": "in", "dari": "from", "ke": "to", "untuk": "for", "oleh": "by",
    "dalam": "in", "dengan": "with", "sebagai": "as", "sejak": "since", "sampai": "until",
    "hingga": "until", "kepada": "to", "melalui": "through", "menurut": "according to",
    "tentang": "about", "terhadap": "against", "bagi": "for", "atas": "on", "selama": "during",
    "mulai": "since", "seperti": "like", "antara": "between", "diantara": "among",
    "dekat": "near", "bawah": "under", "luar": "outside", "sekitar": "around",
}
# Words that never belong to the noun of "N apa / N mana" ("partai apa" -> "what party").
NOT_NOUN = frozenset("yang dan atau adalah merupakan telah sudah akan ini itu ada -".split())
# Verb morphology (ber-, ter-, me-, di-), which is not a noun either; the look-ahead keeps
# nouns that merely start like a verb.
VERB = re.compile(r"^(?:ber|ter|me[mnlrwy]|di)(?!teri|rektur|visi|strik|nas|ja$)\w{3,}$")
# "apa X ..." at the start: the word after "apa" picks the English frame.
APA_NEXT = {
    "nama": "what is the name of", "nama-nama": "what are the names of",
    "judul": "what is the title of", "warna": "what is the colour of",
    "arti": "what is the meaning of", "julukan": "what is the nickname of",
    "tujuan": "what is the purpose of", "penyebab": "what is the cause of",
    "jabatan": "what is the position of", "istilah": "what is the term for",
    "tema": "what is the theme of", "profesi": "what is the profession of",
    "singkatan": "what is the abbreviation of", "sebutan": "what is the name for",
    "jenis": "what kind of", "tipe": "what type of", "isi": "what is the content of",
    "yang": "what", "itu": "what is",
}
SIAPA_NEXT = {"yang": "who", "nama": "what is the name of"}
SIAPA_PREP = {"oleh": "by whom", "dengan": "with whom", "kepada": "to whom",
              "untuk": "for whom", "bagi": "for whom", "dari": "from whom"}
BERAPA_NEXT = {
    "jumlah": "how many", "persen": "what percentage", "persentase": "what percentage",
    "usia": "how old is", "umur": "how old is", "luas": "how large is the area of",
    "harga": "what is the price of", "lama": "how long", "besar": "how much",
    "banyak": "how many", "panjang": "how long is", "tinggi": "how high is",
    "ketinggian": "how high is", "jauh": "how far", "jarak": "what is the distance of",
    "kali": "how many times", "orang": "how many people", "nilai": "what is the value of",
    "kapasitas": "what is the capacity of", "biaya": "what is the cost of",
    "total": "what is the total", "tahun": "how many years", "volume": "what is the volume of",
    "kecepatan": "how fast is", "suhu": "what is the temperature of",
}
# "N berapa": the noun, and the English preposition used when the question gives none.
BERAPA_PREV = {"tanggal": ("on", "date"), "tahun": ("in", "year"), "bulan": ("in", "month"),
               "abad": ("in", "century"), "hari": ("on", "day"), "pukul": ("at", "time"),
               "jam": ("at", "time"), "nomor": ("", "number"), "ke": ("", "number")}
KAPAN_PREV = {"sejak": "since when", "mulai": "since when", "sampai": "until when",
              "hingga": "until when"}
PLAIN_WH = {"kapan": "when", "dimana": "where", "kemana": "where", "darimana": "from where",
            "bagaimana": "how", "mengapa": "why", "mana": "which", "apa": "what is",
            "siapa": "who is", "berapa": "how many", "keberapa": "what number"}
WHERE_NEXT = {"lokasi": "where is", "letak": "where is"}
# First words that frame the question rather than start a name ("Di Provinsi mana").
FRAME_WORDS = WH_WORDS | PREPOSITIONS.keys() | {"berasal", "tanggal", "tahun"}
MERGE = {("di", "mana"): "dimana", ("dari", "mana"): "darimana", ("ke", "mana"): "kemana",
         ("ke", "berapa"): "keberapa"}
# fmt: on
_EDGE = re.compile(r"^(\W*)(.*?)(\W*)$", re.S)


@dataclass
class Tok:
    lead: str
    core: str
    trail: str
    key: str
    """Lower-cased core for lexicon look-up; original case for names (kept as they are)."""


def _key(core: str, first: bool) -> str:
    if not core:
        return ""
    key = core.lower() if first or core == core.lower() else core
    if key.endswith("kah") and len(key) > 4:
        stem = key[:-3]
        if stem in WH_WORDS or stem in LEXICON or stem in PREPOSITIONS:
            return stem
    return key


def _tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    for chunk in text.split():
        lead, core, trail = _EDGE.match(chunk).groups()  # type: ignore[union-attr]
        if not core:  # punctuation only: "-", '"'
            toks.append(Tok(lead + trail, "", "", lead + trail))
            continue
        toks.append(Tok(lead, core, trail, _key(core, not toks)))
        if len(toks) == 2 and core[0].isupper() and toks[0].key not in FRAME_WORDS:
            toks[0].key = toks[0].core  # "Bandara Soekarno-Hatta": the first word is a name
        prev = toks[-2] if len(toks) > 1 else None
        if prev and prev.key in WH_WORDS and toks[-1].key == "saja":  # "apa saja" -> "apa"
            prev.trail += toks.pop().trail
        elif prev and not prev.trail and (prev.key, toks[-1].key) in MERGE:
            toks[-2:] = [Tok(prev.lead, core, trail, MERGE[prev.key, toks[-1].key])]
    return toks


def _translate(toks: list[Tok]) -> list[str]:
    """Word by word through the lexicon (longest phrase first); names and unknowns kept."""
    out: list[str] = []
    k = 0
    while k < len(toks):
        for n in (3, 2, 1):
            phrase = " ".join(t.key for t in toks[k : k + n])
            if len(toks) - k >= n and phrase in LEXICON:
                break
        else:
            n, phrase = 1, ""
        t, last = toks[k], toks[k + n - 1]
        word = LEXICON[phrase] if phrase else _fallback(t)
        if word:
            out.append(t.lead + word + last.trail)
        elif out:  # a dropped word leaves its punctuation behind
            out[-1] += t.lead + last.trail
        k += n
    return out


def _fallback(t: Tok) -> str:
    if t.key.endswith("nya") and t.key[:-3] in LEXICON:  # "jabatannya" -> "position"
        return LEXICON[t.key[:-3]]
    stem, dash, again = t.key.partition("-")
    if dash and stem == again and stem in LEXICON:  # "kota-kota" -> "citys": plural enough
        return LEXICON[stem] + "s"
    if t.key in WH_WORDS:  # a second question word keeps only its bare English
        return PLAIN_WH[t.key].split()[0]
    return t.core


def _noun_start(toks: list[Tok], i: int) -> int:
    """Start of the (at most two-word) noun before the question word at ``i``."""
    j = i
    while j > 0 and i - j < 2:
        t = toks[j - 1]
        if not t.core or t.key in NOT_NOUN | PREPOSITIONS.keys() | WH_WORDS or VERB.match(t.key):
            break
        if t.trail or (t.key != t.core.lower() and j < i):  # names only right before wh
            break
        j -= 1
    return j


def _wh_phrase(toks: list[Tok], i: int) -> tuple[str, int, int, str]:
    """English head, span [s, e) of the Indonesian wh-phrase around ``toks[i]``, and tail."""
    wh = toks[i].key
    nxt = toks[i + 1].key if i + 1 < len(toks) else ""
    nxt2 = toks[i + 2].key if i + 2 < len(toks) else ""
    prev = toks[i - 1].key if i > 0 else ""
    prep = PREPOSITIONS.get(prev, "")
    bare = not prep and _noun_start(toks, i) == i  # nothing to front along with the wh-word
    s, e, tail = i, i + 1, ""
    if wh == "berapa" and prev in BERAPA_PREV:
        default_prep, noun = BERAPA_PREV[prev]
        s = i - 1
        p = toks[s - 1].key if s > 0 else ""
        word = PREPOSITIONS.get(p, default_prep) if p != "pada" else default_prep
        s -= p in PREPOSITIONS
        head = f"{word} what {noun}".strip()
    elif wh == "berapa" and nxt in BERAPA_NEXT and not prep:
        head, e = BERAPA_NEXT[nxt], i + 2
        s -= prev == "ada"  # "ada berapa" -> "how many"
    elif wh == "siapa" and prev in SIAPA_PREP:
        head, s = SIAPA_PREP[prev], i - 1
    elif wh == "siapa" and nxt in SIAPA_NEXT and not prep:
        head, e = SIAPA_NEXT[nxt], i + 2
    elif wh == "apa" and nxt == "kepanjangan":
        head, e, tail = "what does", i + 2, "stand for"
        e += e < len(toks) and toks[e].key == "dari"
    elif wh == "apa" and bare and (nxt in APA_NEXT or nxt2 == "yang"):
        head, e = APA_NEXT.get(nxt, ""), i + 2
        if nxt != "yang" and nxt2 == "yang":  # "apa N yang X" -> "what N X"
            head = "what " + " ".join(_translate(toks[i + 1 : i + 2]))
    elif wh == "kapan" and prev in KAPAN_PREV:
        head, s = KAPAN_PREV[prev], i - 1
    elif wh == "dimana" and nxt in WHERE_NEXT:
        head, e = WHERE_NEXT[nxt], i + 2
    elif wh in ("apa", "mana", "siapa", "keberapa") and (j := _noun_start(toks, i)) < i:
        noun = " ".join(_translate(toks[j:i]))
        word = {"siapa": "whose", "mana": "which"}.get(wh, "what")
        p = toks[j - 1].key if j > 0 else ""
        s = j - (p in PREPOSITIONS)
        head = f"{PREPOSITIONS[p]} {word} {noun}" if p in PREPOSITIONS else f"{word} {noun}"
    elif prep and wh in ("apa", "mana", "siapa"):
        head, s = f"{prep} {'whom' if wh == 'siapa' else 'what'}", i - 1
    else:
        head = PLAIN_WH[wh]
    return head, s, e, tail


def english_question(question: str) -> str | None:
    """The pseudo-English rewrite of an Indonesian question, or None if its form is unknown."""
    text = question.strip()
    ends_q = bool(re.search(r"\?\W*$", text))  # "...2005?," asks too
    toks = _tokenize(text.rstrip("?").rstrip())
    i = next((k for k, t in enumerate(toks) if t.key in WH_WORDS), None)
    if i is None:
        return None
    head, s, e, tail = _wh_phrase(toks, i)
    before, after = toks[:s], toks[e:]
    if after and after[0].key == "yang":  # "partai apa yang X" -> "what party X"
        after = after[1:]
    # "(berasal) dari mana X (berasal)" -> "where does X come from"
    origin = [t for t in before[-1:] + after if t.key == "berasal"][:1]
    if origin and head.startswith("from ") and "whom" not in head:
        head, tail = head.removeprefix("from ") + " does", "come from"
        before = [t for t in before if t is not origin[0]]
        after = [t for t in after if t is not origin[0]]
    if head == "from where":  # "dari mana X" -> "where X from"
        head, tail = "where", tail or "from"
    words = [head]
    words[-1] += toks[e - 1].trail if not before else ""
    words += _translate(before)
    if before:
        words[-1] += toks[e - 1].trail
    words += _translate(after) + [tail]
    out = " ".join(w for w in words if w.strip())
    out = re.sub(r"\s+", " ", out).strip().rstrip(" ,;:?!.")
    if not out:
        return None
    return out[0].upper() + out[1:] + ("?" if ends_q else "")
