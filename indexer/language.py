"""English or Indonesian: of a question, and of the text that answers it.

Two languages, told apart by their most frequent function and question words. That is enough
for what the answers need (the reader's no-answer threshold is calibrated per question
language x article language) and for splitting eval reports; it is not a language identifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

Language = Literal["en", "id"]

_WORD = re.compile(r"[a-z]+")
_EN_QUESTION = frozenset(
    "what who whom whose which when where why how the of is was are were did does do in to "
    "and name for can could has have had by on at according".split()
)
_ID_QUESTION = frozenset(
    "apa apakah siapa siapakah berapa berapakah kapan kapankah mana manakah dimana yang di "
    "dan dari ke pada ini itu nama tahun dengan untuk adalah oleh saja bagaimana mengapa "
    "kenapa dalam tidak akan".split()
)
_ID_TEXT = frozenset(
    "yang dan di dengan untuk dari ini itu tidak pada adalah dalam akan juga".split()
)
_EN_TEXT = frozenset("the and of to is in that for with was are on by from this be".split())


def question_language(question: str) -> Language:
    """English when the question holds more English function words than Indonesian ones.
    Names are not counted either way, so "Pangling is short for what" is English and "Apa itu
    Top 21 Public Service?" Indonesian; a tie is Indonesian (the corpus language)."""
    words = _WORD.findall(question.lower())
    english = sum(w in _EN_QUESTION for w in words)
    indonesian = sum(w in _ID_QUESTION for w in words)
    return "en" if english > indonesian else "id"


def text_language(texts: Iterable[str]) -> Language | None:
    """'id', 'en', or None when the function words do not tell (a list, a table, a name)."""
    words = [w for text in texts for w in _WORD.findall(text.lower())]
    indonesian = sum(w in _ID_TEXT for w in words)
    english = sum(w in _EN_TEXT for w in words)
    if indonesian == english:
        return None
    return "id" if indonesian > english else "en"
