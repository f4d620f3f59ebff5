"""Indonesian lexical analyzer for BM25, shared by indexing and querying.

``analyze(text)`` turns text into index terms:

1. Words are found in the original text (runs of letters/digits with their combining marks,
   joined through ``.``/``,``); each word is Unicode-NFKC-normalised and casefolded.
2. Each normalised word is cut into runs of letters and runs of numbers.  Letter/digit
   transitions and all punctuation separate tokens, so ``covid-19``, ``Covid 19`` and
   ``COVID19`` all give ``covid`` + ``19``; ``Rp1,5`` gives ``rp`` + ``1,5``; ``detik.com``
   gives ``detik`` + ``com``.  A number keeps its internal ``.``/``,`` separators (``1.500``,
   ``2,5``, ``10.00``) so amounts and decimals stay one token and ``2,5`` is not confused
   with ``25``.  The underscore is a separator.
3. Stopword removal on the surface form (``STOPWORDS``: common Indonesian function words plus
   the English question words users type), before stemming so that e.g. ``tersebut`` does
   not survive as ``sebut``.
4. Stemming of ASCII letter tokens with Sastrawi (``menyelesaikan`` -> ``selesai``,
   ``penghargaan`` -> ``harga``); numbers and tokens with non-ASCII letters are kept as they
   are (Sastrawi's normaliser would mangle them).  Stems are memoised with ``lru_cache``:
   Sastrawi needs ~1 ms per new word but news vocabulary repeats heavily.

The same function must be used at index time and at query time.  ``term_spans(text)`` gives
the same terms as ``analyze(text)`` together with their character spans in ``text`` (for
highlighting); ``tokenize`` gives the normalised tokens before stopwords and stemming.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = [
    "STOPWORDS",
    "analyze",
    "analyze_many",
    "stem",
    "term_spans",
    "term_spans_of",
    "token_spans",
    "tokenize",
]

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

# A word in the original text: letters/digits, combining marks, "." or "," between them.
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u064b-\u065f\u0670"
    "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
# Invisible format characters (soft hyphen, zero-width space/non-joiner/joiner, bidi marks and
# isolates, word joiner, BOM): inside a word they are part of it and dropped from its term.
# Stored text keeps ZWNJ, ZWJ and bidi marks (cleaning drops only the others), and they split
# "Pale\u200cmbang" into the terms "pale" and "mbang", which no query for Palembang met.
_FORMAT = "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"
_FORMAT_CHARS = re.compile(f"[{_FORMAT}]+")
_RAW_WORD = re.compile(
    rf"[^\W_](?:[^\W_]+|[{_MARKS}]+|[.,](?=[^\W_])|[{_FORMAT}]+(?=[^\W_]|[{_MARKS}]))*"
)
# Within a normalised word: numbers (with internal separators) or runs of letters.
_TOKEN = re.compile(rf"\d+(?:[.,]\d+)*|[^\W\d_](?:[^\W\d_]+|[{_MARKS}]+)*")
_ASCII_WORD = re.compile(r"[a-z]+")


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """``(token, start, end)`` for every normalised token of ``text`` (before stopwords/stems).

    ``start``/``end`` index ``text``.  When normalisation changes a word's length (``ﬁ`` ->
    ``fi``, ``ß`` -> ``ss``) its tokens all get the span of the whole word.
    """
    out: list[tuple[str, int, int]] = []
    for m in _RAW_WORD.finditer(text):
        raw = m.group()
        start = m.start()
        if raw.isascii():
            if raw.isalpha():  # the common case: one plain word
                out.append((raw.lower(), start, m.end()))
                continue
            norm = raw.lower()
        else:
            norm = unicodedata.normalize("NFKC", _FORMAT_CHARS.sub("", raw)).casefold()
        if len(norm) == len(raw):
            out.extend(
                (t.group(), start + t.start(), start + t.end()) for t in _TOKEN.finditer(norm)
            )
        else:
            out.extend((t, start, m.end()) for t in _TOKEN.findall(norm))
    return out


def tokenize(text: str) -> list[str]:
    """NFKC + casefold + split into letter runs and number runs (no stopwords, no stemming)."""
    return [t for t, _, _ in token_spans(text)]


_ASCII_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[a-z]+")


def fast_tokens(text: str) -> list[str]:
    """The tokens of ``tokenize`` without their spans, two to four times as fast: normalising
    the whole text at once gives the same tokens (checked on the shared corpora in
    tests/test_analyzer.py), though not offsets into the original text; ASCII text (most
    news) needs no Unicode normalisation at all."""
    if text.isascii():
        return _ASCII_TOKEN.findall(text.lower())
    if _FORMAT_CHARS.search(text):  # rare; whether one joins two words depends on its place
        return tokenize(text)
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    # Built lazily (loads Sastrawi's ~30k-word root dictionary) and without Sastrawi's own
    # unbounded result cache: ``stem`` below is the (bounded) cache.
    from Sastrawi.Dictionary.ArrayDictionary import ArrayDictionary
    from Sastrawi.Stemmer.Stemmer import Stemmer
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    dictionary = ArrayDictionary()
    # Sastrawi keeps its dictionary in a list (a linear scan per lookup, ~25 ms per new word,
    # ~9 minutes for the detik vocabulary); a set gives the same answers with O(1) lookups.
    # Blank lines are skipped as ArrayDictionary.add does (else "" would count as a root).
    # PySastrawi 1.2.1 has the dict built in but not the same stems: its wider prefix rule 27
    # turns "berkepentingan" into "ting" (2 of the 23,287 words of the shared corpora differ),
    # and the stems are what BM25 indexes and is evaluated on.
    dictionary.words = {w for w in StemmerFactory().get_words() if w.strip()}
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


def term_spans(text: str) -> list[tuple[str, int, int]]:
    """``(term, start, end)`` for each term of ``analyze(text)``, in the same order.

    ``text[start:end]`` is the surface word the term came from, e.g. ``("selesai", 4, 17)``
    for ``"Ia  menyelesaikan"``.
    """
    return [(stem(tok), s, e) for tok, s, e in token_spans(text) if tok not in STOPWORDS]


def term_spans_of(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of ``term_spans(text)`` whose term is in ``terms`` (highlighting). ASCII text (96%
    of detik's articles) takes a faster path: lowercasing keeps its offsets, so the tokens are
    found in one regex pass and only the few distinct words that stem to a wanted term are
    looked for."""
    if not terms:
        return []
    if not text.isascii():
        return [(start, end) for term, start, end in term_spans(text) if term in terms]
    lowered = text.lower()
    wanted = {
        t for t in set(_ASCII_TOKEN.findall(lowered)) if t not in STOPWORDS and stem(t) in terms
    }
    if not wanted:
        return []
    return [(m.start(), m.end()) for m in _ASCII_TOKEN.finditer(lowered) if m.group() in wanted]


def analyze_many(texts: Iterable[str]) -> list[list[str]]:
    """``analyze`` applied to each text."""
    return [analyze(t) for t in texts]
