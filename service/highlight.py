"""Which spans of a passage match the query: the same analyzer as BM25, so highlights agree
with what the lexical retriever matched."""

from __future__ import annotations

from indexer.analyzer import analyze, term_spans


def highlight_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Spans of ``text`` whose analyzed term is one of the query's terms."""
    terms = set(analyze(query))
    if not terms:
        return []
    return [(start, end) for term, start, end in term_spans(text) if term in terms]
