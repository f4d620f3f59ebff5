"""Which spans of a passage match the query: the terms BM25 looked for (an English question's
Indonesian words included, ``indexer.query_lexicon``), so highlights show what the lexical
retriever matched; and the query's codes ("2A", "27B", "GA193") wherever the passage has them
as they are."""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.analyzer import term_spans_of, token_spans
from indexer.cleaning import as_searched
from indexer.query_lexicon import query_terms

# A word that mixes digits and letters: the analyzer splits it into its runs ("2", "a") and
# drops those that are stopwords, so its terms alone would mark "2" of "Pasal 2A".
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class HighlightTerms:
    """What to highlight for one query, worked out once per response."""

    terms: frozenset[str]
    """The query's BM25 terms."""
    codes: re.Pattern[str] | None
    """The query's words that mix digits and letters, each matched as a whole word."""


def highlight_terms(query: str) -> HighlightTerms:
    """The query's BM25 terms and codes, worked out once per response rather than once per
    passage; read as retrieval reads the query (a soft hyphen inside a word does not split it)."""
    query = as_searched(query)
    codes = sorted(
        {
            w.casefold()
            for w in _WORD.findall(query)
            if any(ch.isdigit() for ch in w) and not w.isdigit()
        },
        key=len,
        reverse=True,
    )
    pattern = (
        re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, codes)) + r")(?![^\W_])", re.I)
        if codes
        else None
    )
    return HighlightTerms(frozenset(query_terms(query)), pattern)


def highlight_spans(text: str, terms: HighlightTerms) -> list[tuple[int, int]]:
    """Spans of ``text`` whose analyzed term is one of the query's terms, and its codes whole
    ("2A", not its "2"), in order, none inside another."""
    spans = term_spans_of(text, terms.terms)
    if terms.codes is None:
        return spans
    whole = [m.span() for m in terms.codes.finditer(text)]
    if not whole:
        return spans
    # The regex sees only letters and digits: "Rp5" matches the start of "Rp5.500" and "27B"
    # the end of "1.27B", whose numbers the analyzer keeps whole ("5.500", "1.27"), so BM25
    # matched no "5" or "27" there. A code is marked only where it starts and ends on the
    # analyzer's token boundaries.
    tokens = token_spans(text)
    starts = {start for _, start, _ in tokens}
    ends = {end for _, _, end in tokens}
    whole = [(a, b) for a, b in whole if a in starts and b in ends]
    if not whole:
        return spans
    inside = [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in whole)]
    return sorted(inside + whole)
