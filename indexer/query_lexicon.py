"""The Indonesian words a news article would use for an English question's words, as BM25 terms.

Why: the index is Indonesian. In an English question BM25 matches only the names ("Jasa
Marga", "Gus Ipul"), and the dense side, which does cross languages, often ranks a sibling
article of the same topic first: on the project's `detik-tune` questions the relevant article
came first for 0.73 of the English questions and 0.96 of the Indonesian ones. No translation
model runs offline, so a hand-written lexicon (``lexicon_en_id.tsv``: English word or phrase
-> the words Indonesian news uses for it) gives BM25 the words to look for: "sterilise cats"
-> "sterilisasi kucing". It adds terms; it never removes the question's own.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path

from indexer.analyzer import STOPWORDS, analyze
from indexer.cognates import loanword_spellings
from indexer.language import question_language

LEXICON_PATH = Path(__file__).with_name("lexicon_en_id.tsv")
ALTERNATIVES = 2
"""Indonesian words kept per English word, most common first: "police" -> "polisi",
"kepolisian". More would give one English word several matches in one chunk."""

_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")


@lru_cache(maxsize=1)
def _lexicon() -> tuple[dict[str, tuple[str, ...]], int]:
    """The lexicon, and its longest key in words."""
    entries: dict[str, tuple[str, ...]] = {}
    for line in LEXICON_PATH.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        english, indonesian = line.split("\t", 1)
        words = tuple(w.strip() for w in indonesian.split("|") if w.strip())
        if words:
            entries[english.strip()] = words[:ALTERNATIVES]
    return entries, max((len(k.split()) for k in entries), default=1)


def english_lexicon() -> dict[str, tuple[str, ...]]:
    """The lexicon's entries: English word or phrase -> its Indonesian words."""
    return _lexicon()[0]


def base_forms(word: str) -> list[str]:
    """The word and what it may be an inflection of: "cities" -> "city", "cried" -> "cry",
    "sterilised" -> "sterilise", "freezing" -> "freeze". Tried in this order; the lexicon
    decides."""
    forms = [word]
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.append(word[:-1])
    if word.endswith("ied") and len(word) > 4:  # "cried" -> "cry", "denied" -> "deny"
        forms.append(word[:-3] + "y")
    if word.endswith("ed") and len(word) > 4:
        forms += [word[:-1], word[:-2]]
    if word.endswith("ing") and len(word) > 5:
        forms += [word[:-3], word[:-3] + "e"]
    return forms


def english_phrases(question: str) -> list[tuple[str, tuple[str, ...] | None]]:
    """The question's English words and lexicon phrases, longest phrase first ("charging
    stations" is one), each with its Indonesian words, or None for a word the lexicon lacks."""
    entries, longest = _lexicon()
    words = _WORD.findall(question.lower())
    phrases: list[tuple[str, tuple[str, ...] | None]] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            head, last = words[i : i + n - 1], words[i + n - 1]
            hit = next(
                (entries[k] for f in base_forms(last) if (k := " ".join([*head, f])) in entries),
                None,
            )
            if hit is not None:
                phrases.append((" ".join(words[i : i + n]), hit))
                i += n
                break
        else:
            phrases.append((words[i], None))
            i += 1
    return phrases


def indonesian_terms(question: str, own: Collection[str] | None = None) -> list[str]:
    """BM25 terms (``analyze``d) of the Indonesian words for the question's English words and
    phrases, longest phrase first, and of the loanword spellings of the words the lexicon
    lacks (``indexer.cognates``); each term once, none the question already has (``own``: its
    terms, when the caller has them)."""
    own = set(analyze(question) if own is None else own)
    found: list[str] = []
    for phrase, hit in english_phrases(question):
        if hit is not None:
            _add_new(analyze(" ".join(hit)), own, found)
        elif phrase not in STOPWORDS:
            # a word the lexicon lacks: its spelling as a loanword ("catalyst" -> "katalis")
            _add_new(analyze(" ".join(loanword_spellings(phrase, base_forms(phrase)))), own, found)
    return found


def _add_new(terms: list[str], own: set[str], found: list[str]) -> None:
    for term in terms:
        if term not in own and term not in found:
            found.append(term)


def query_terms(question: str, own: list[str] | None = None) -> list[str]:
    """A question's BM25 terms: its own (``own``, when the caller has them), then, for an
    English question, the Indonesian words for its words."""
    own = analyze(question) if own is None else own
    if question_language(question) == "en":
        return own + indonesian_terms(question, own)
    return own
