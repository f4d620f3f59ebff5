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


def test_a_code_is_not_marked_inside_a_longer_number() -> None:
    """ "Rp5" was marked at the start of "Rp5.500" and "27B" at the end of "1.27B", though the
    analyzer reads "5.500" and "1.27" as whole numbers (BM25 matched no "5" or "27" there);
    a code is now marked only on the analyzer's token boundaries."""
    text = "Harga Rp5.500 per kg, dulu Rp5. Pasal 1.27B dan 27B, utang Rp55,5 juta."

    def marks(query: str) -> list[str]:
        return [text[a:b] for a, b in highlight_spans(text, highlight_terms(query))]

    # "Rp" and "B" alone are the analyzer's tokens "rp" and "b", which BM25 did match.
    assert marks("harga Rp5") == ["Harga", "Rp", "Rp5", "Rp"]
    assert marks("pasal 27B") == ["Pasal", "B", "27B"]
    assert marks("utang Rp55") == ["Rp", "Rp", "utang", "Rp"]
