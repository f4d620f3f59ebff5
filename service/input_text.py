"""Checks on free text from requests that pydantic's constraints do not make.

``strip_whitespace`` leaves zero-width spaces, joiners, byte-order marks and bidi controls in
place (they are not whitespace), so a question made only of them passed as non-empty and got
an answer to nothing. ``visible`` trims them from both ends too and refuses what is left empty.
Inside the text they stay: a zero-width joiner inside an emoji or a word is legitimate.
"""

from __future__ import annotations

import unicodedata

from pydantic import AfterValidator

# Unicode "format" (zero-width, bidi controls, BOM) and "control" characters.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc"})


def _invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def trim_invisible(text: str) -> str:
    """``text`` without whitespace and invisible characters at either end; ValueError if
    nothing is left."""
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    if start == end:
        raise ValueError("is empty after trimming whitespace and invisible characters")
    return text[start:end]


visible = AfterValidator(trim_invisible)
"""For ``Annotated[str, ..., visible]`` fields of request models."""
