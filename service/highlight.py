"""Which spans of a passage match the query: the terms BM25 looked for (an English question's
Indonesian words included, ``indexer.query_lexicon``), so highlights show what the lexical
retriever matched."""

from __future__ import annotations

from indexer.analyzer import term_spans_of
from indexer.cleaning import drop_word_splitters
from indexer.query_lexicon import query_terms


def highlight_terms(query: str) -> frozenset[str]:
    """The query's BM25 terms, worked out once per response rather than once per passage; read
    as retrieval reads the query (a soft hyphen inside a word does not split it)."""
    return frozenset(query_terms(drop_word_splitters(query)))


def highlight_spans(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` whose analyzed term is one of ``terms`` (``highlight_terms``)."""
    return term_spans_of(text, terms)
