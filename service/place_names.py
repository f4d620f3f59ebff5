"""Indonesian names of the places and peoples an English question names.

The reader only reads articles that name what the question names (``question_names``). Names
keep their form across the two languages, but places and nationalities do not: an English
question about "West Java", "Switzerland" or "Russian citizens" names "Java", "Switzerland",
"Russian", while the Indonesian article says "Jawa Barat", "Swiss", "warga Rusia". Without
their Indonesian names such articles were not read at all: 20 of the 47 train-side questions
whose answering article was dropped that way (news-train, news-train-more, detik-tune).

Countries and languages (for nationalities: "French" -> "Prancis") come from the Unicode CLDR
through Babel; Indonesia's islands and a few names CLDR does not carry are listed here.
"""

from __future__ import annotations

import re
from functools import lru_cache

from babel import Locale

# English names CLDR has no Indonesian entry for, or another one than news use.
_EXTRA = {
    "Java": "Jawa",
    "Javan": "Jawa",
    "Sumatra": "Sumatera",
    "Sumatran": "Sumatera",
    "Borneo": "Kalimantan",
    "Moluccas": "Maluku",
    "America": "Amerika",
    "American": "Amerika",
    "US": "AS",
    "USA": "AS",
    "UK": "Inggris",
    "Britain": "Inggris",
    "British": "Inggris",
    "Europe": "Eropa",
    "European": "Eropa",
    "Africa": "Afrika",
    "African": "Afrika",
    "Asian": "Asia",
    "Turkey": "Turki",
    "Filipino": "Filipina",
    "Philippine": "Filipina",
    "Palestine": "Palestina",
    "Palestinian": "Palestina",
    "Afghan": "Afghanistan",
    "Turkish": "Turki",
    "Middle East": "Timur Tengah",
    "UN": "PBB",
    "United Nations": "PBB",
}
# Words of an Indonesian name that other names share ("Amerika Serikat", "Korea Selatan"):
# the name's own word is enough to find it, and these alone would find any article.
_GENERIC = frozenset(
    "serikat selatan utara barat timur tengah raya baru wilayah republik kepulauan pulau "
    "kota negara federasi kerajaan dan".split()
)


@lru_cache(maxsize=1)
def _names() -> dict[str, frozenset[str]]:
    """English name -> the casefolded words of its Indonesian name."""
    english, indonesian = Locale("en"), Locale("id")
    pairs: dict[str, str] = {}
    for table in ("territories", "languages"):
        for code, name in getattr(english, table).items():
            local = getattr(indonesian, table).get(code)
            # two- and three-letter names ("Ga", "Ewe") are words of other texts
            if local and code.isalpha() and len(name) > 3:
                pairs.setdefault(name, local)
                if table == "territories" and " " not in name:
                    for people in _demonyms(name):
                        pairs.setdefault(people, local)
    pairs.update(_EXTRA)
    # "Indonesians", "Russians"
    pairs.update({name + "s": local for name, local in list(pairs.items()) if name[-1] == "n"})
    return {name: _distinctive(local) for name, local in pairs.items()}


def _demonyms(country: str) -> set[str]:
    """The forms English names a country's people by ("Australian", "Canadian", "Italian",
    "Egyptian", "Mexican", "Chilean", "Israeli"); those that are no word match nothing.
    Irregular ones come as languages ("French", "Dutch") or from ``_EXTRA``; those spelled the
    same in Indonesian ("Swiss", "Saudi") are already names of the question."""
    stem = country[:-1] if country[-1] in "aeiouy" else country
    return {
        country + "n",
        country + "an",
        country + "ian",
        stem + "ian",
        stem + "an",
        country + "i",
    }


def _distinctive(name: str) -> frozenset[str]:
    words = name.casefold().split()
    return frozenset(w for w in words if w not in _GENERIC) or frozenset(words)


_WORD = re.compile(r"[^\W\d_][\w-]*")
_LONGEST = 3  # words in the longest English name looked up ("United Arab Emirates")


def indonesian_place_names(question: str) -> set[str]:
    """The words of the Indonesian names of the places, countries and peoples ``question``
    names in English ("West Java" -> "jawa", "Indonesians" -> "indonesia"), casefolded.
    Case-sensitive: "US" is a country, "us" a pronoun."""
    names = _names()
    words = _WORD.findall(question)
    found: set[str] = set()
    for i in range(len(words)):
        for n in range(min(_LONGEST, len(words) - i), 0, -1):
            local = names.get(" ".join(words[i : i + n]))
            if local:
                found |= local
                break
    return found
