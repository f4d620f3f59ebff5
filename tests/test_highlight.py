"""Query terms highlighted in a passage (``service.highlight``): codes that mix digits and
letters are marked whole."""

from __future__ import annotations

from service.highlight import highlight_spans, highlight_terms

TEXT = "Ia dijerat Pasal 2A dan Pasal 27A ayat 2, serta 27B. Pesawat GA193 tertahan."


def marked(query: str) -> list[str]:
    return [TEXT[a:b] for a, b in highlight_spans(TEXT, highlight_terms(query))]


def test_a_code_of_the_query_is_highlighted_whole() -> None:
    """ "Pasal 2A" marked only the "2" of "2A" ("a" is a stopword of the analyzer); a code is
    now marked whole where the passage has it as it is, and its number alone where BM25
    matched only that ("27" of "27A" for "27B")."""
    assert marked("pasal 2A") == ["Pasal", "2A", "Pasal", "2"]
    assert marked("Pasal 27B") == ["Pasal", "Pasal", "27", "27B"]
    assert marked("pesawat ga193") == ["Pesawat", "GA193"]
    assert marked("pasal 2") == ["Pasal", "2", "Pasal", "2"]
