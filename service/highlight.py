"""Which spans of a passage match the query: the same analyzer as BM25, so highlights agree
with what the lexical retriever matched."""

from __future__ import annotations

from indexer.analyzer import analyze, term_spans_of


def query_terms(query: str) -> frozenset[str]:
    """The query's terms, worked out once per response rather than once per passage."""
    return frozenset(analyze(query))


def highlight_spans(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` whose analyzed term is one of ``terms`` (``query_terms``)."""
    return term_spans_of(text, terms)
