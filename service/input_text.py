"""Checks on free text from requests that pydantic's constraints do not make.

``strip_whitespace`` leaves zero-width spaces, joiners, byte-order marks and bidi controls in
place (they are not whitespace), so a question made only of them passed as non-empty and got
an answer to nothing. ``visible`` trims them from both ends too and refuses what is left empty.
Inside the text they stay: a zero-width joiner inside an emoji or a word is legitimate.
"""

from __future__ import annotations

import unicodedata

from pydantic import AfterValidator

from indexer.cleaning import as_searched

QUESTION_MAX_CHARS = 1000
"""The longest question or query, in characters (after trimming), on every path."""

# Unicode "format" (zero-width, bidi controls, BOM) and "control" characters.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc"})


def _readable(char: str) -> bool:
    """A letter or digit of any script, or a symbol the encoder reads as a word (an emoji or
    other pictograph, a degree or trademark sign: category So)."""
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "So"


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def trim_invisible(text: str) -> str:
    """``text`` without whitespace and invisible characters at either end; ValueError if
    nothing is left, or nothing a search can read: "?!..." or two lone combining accents were
    searched as if they meant something (GET /search gave five arbitrary passages, /timeline
    a timeline) and /ask abstained on them as on a real question the corpus cannot answer.
    An emoji is content (the encoder reads "🌧️" as rain); so is any script's letter."""
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    if start == end:
        raise ValueError("is empty after trimming whitespace and invisible characters")
    text = text[start:end]
    if not any(map(_readable, text)):
        raise ValueError(
            "has no letter, digit or emoji, only punctuation or marks: nothing to search for"
        )
    return text


def question_text(value: object, what: str = "question") -> str:
    """A question or query given in-process (the Python API, the LangChain retriever), checked
    as POST /ask and GET /search check theirs: text, not blank, at most ``QUESTION_MAX_CHARS``.
    Without the limit a 100,000-character query was searched in-process where the same one over
    HTTP was a 422."""
    if not isinstance(value, str):
        raise TypeError(f"a {what} is text, not {type(value).__name__}")
    try:
        text = trim_invisible(value)
    except ValueError as exc:
        raise ValueError(f"the {what} {exc}") from exc
    if len(text) > QUESTION_MAX_CHARS:
        raise ValueError(
            f"the {what} has {len(text)} characters; POST /ask and GET /search take at most "
            f"{QUESTION_MAX_CHARS}"
        )
    return text


visible = AfterValidator(trim_invisible)
"""For ``Annotated[str, ..., visible]`` fields of request models."""


def unshouted(text: str) -> str:
    """A question typed in capitals, in lower case: the encoder and the reader read cased
    text and learned from questions in sentence case. "BERAPA HARGA CABAI RAWIT DI PALEMBANG"
    abstained (confidence 0.001) where the same words in lower case answered "Rp 60.000 per
    kilogram". Shouted: at least two words, and no lower-case letter at all ("apa itu KPU"
    keeps its acronym)."""
    letters = [c for c in text if c.isalpha()]
    if len(text.split()) < 2 or not letters or any(c.islower() for c in letters):
        return text
    if not any(c.isupper() for c in letters):  # a script without case
        return text
    return text.lower()


def as_read(text: str) -> str:
    """A question as retrieval and the reader read it (the response still echoes it as typed):
    not shouted (``unshouted``), and without format characters, controls made spaces
    (``as_searched``): a soft hyphen, zero-width space or joiner inside a word cut it in two,
    so "ba\u00adnjir" matched no article's "banjir" and changed the answer."""
    return unshouted(as_searched(text))
