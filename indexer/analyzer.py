"""Indonesian lexical analyzer for BM25, shared by indexing and querying.

``analyze(text)`` turns text into index terms:

1. Unicode NFKC normalisation, then ``str.casefold()``.
2. Tokenisation into runs of letters and runs of numbers.  Letter/digit transitions and all
   punctuation separate tokens, so ``covid-19``, ``Covid 19`` and ``COVID19`` all give
   ``covid`` + ``19``; ``Rp1,5`` gives ``rp`` + ``1,5``.  A number keeps its internal
   ``.``/``,`` separators (``1.500``, ``2,5``, ``10.00``) so that amounts and decimals stay
   one token and ``2,5`` is not confused with ``25``.  The underscore is a separator.
3. Stopword removal on the surface form (``STOPWORDS``: common Indonesian function words plus
   the English question words users type), before stemming so that e.g. ``tersebut`` does
   not survive as ``sebut``.
4. Stemming of ASCII letter tokens with Sastrawi (``menyelesaikan`` -> ``selesai``,
   ``penghargaan`` -> ``harga``); numbers and tokens with non-ASCII letters are kept as they
   are (Sastrawi's normaliser would mangle them).  Stems are memoised with ``lru_cache``:
   Sastrawi needs ~1 ms per new word but news vocabulary repeats heavily.

The same function must be used at index time and at query time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["STOPWORDS", "analyze", "analyze_many", "stem", "tokenize"]

_INDONESIAN_STOPWORDS = """
ada adalah adanya agar akan aku anda antara apa apakah atas atau bagai bagaimana bagi
bahkan bahwa banyak beberapa begitu belum berapa bersama beserta bila bisa boleh bukan
bukanlah cukup dalam dan dapat dari daripada demikian dengan di dia dialah diri dirinya
dong hal hampir hanya harus hingga ia ialah ini inilah itu itulah jadi jika juga
justru kalau kalian kami kamu kan kapan karena ke kemudian kenapa kepada kita lagi
lain lalu lebih maka mana masih masing mau melainkan melalui memang mereka merupakan
meski meskipun mungkin namun nanti nya oleh pada padahal paling para pernah pula pun saat
saja sama sambil sampai sang sangat saya sebab sebagai sebelum sebuah sedang sehingga
sejak sekali selain selalu semua sendiri seorang seperti sering serta sesudah setelah
setiap siapa sudah supaya tak tanpa tapi tentang tentu terhadap tersebut tetapi
tidak telah toh untuk walau walaupun yaitu yakni yang
"""

_ENGLISH_STOPWORDS = """
a an the of to in on at by for from with and or is are was were be been did do does
which what who whom whose when where why how this that these those it its as about
"""

STOPWORDS: frozenset[str] = frozenset((_INDONESIAN_STOPWORDS + _ENGLISH_STOPWORDS).split())

# Numbers (with internal thousands/decimal separators) or runs of letters (incl. combining marks).
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+")
_ASCII_WORD = re.compile(r"[a-z]+")


def tokenize(text: str) -> list[str]:
    """NFKC + casefold + split into letter runs and number runs (no stopwords, no stemming)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    # Built lazily (loads Sastrawi's ~30k-word root dictionary) and without Sastrawi's own
    # unbounded result cache: ``stem`` below is the (bounded) cache.
    from Sastrawi.Dictionary.ArrayDictionary import ArrayDictionary
    from Sastrawi.Stemmer.Stemmer import Stemmer
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    dictionary = ArrayDictionary()
    # Sastrawi keeps its dictionary in a list (a linear scan per lookup, ~25 ms per new word);
    # a set gives the same answers with O(1) lookups.
    dictionary.words = set(StemmerFactory().get_words())
    return Stemmer(dictionary)


@lru_cache(maxsize=1 << 20)
def stem(token: str) -> str:
    """Sastrawi stem of one casefolded token; non-ASCII-letter tokens are returned unchanged."""
    if not _ASCII_WORD.fullmatch(token):
        return token
    return _stemmer().stem(token) or token


def analyze(text: str) -> list[str]:
    """Index/query terms of ``text``: tokenize, drop stopwords, stem (see module docstring)."""
    return [stem(tok) for tok in tokenize(text) if tok not in STOPWORDS]


def analyze_many(texts: Iterable[str]) -> list[list[str]]:
    """``analyze`` applied to each text."""
    return [analyze(t) for t in texts]


def term_spans(text: str) -> list[tuple[str, int, int]]:
    """(term, start, end) for each non-stopword token of ``text``, offsets into ``text``.

    Used for highlighting; matches ``analyze`` except that NFKC is applied per token, so that
    offsets stay exact.
    """
    spans = []
    for match in _TOKEN.finditer(text):
        for token in tokenize(match.group()):
            if token not in STOPWORDS:
                spans.append((stem(token), match.start(), match.end()))
    return spans
