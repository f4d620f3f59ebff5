"""The ``Document`` that both newsqa retrievers return (in-process and over HTTP), defined once so
that a chain sees the same ids and metadata whichever retriever it was given.

Kept free of the index and the model: the HTTP retriever imports it on machines that have
neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.documents import Document


@dataclass(frozen=True)
class PassageFields:
    """One retrieved passage as GET /search returns it (``schemas.PassageOut``), minus what is
    for display (highlights, events)."""

    article_id: str
    title: str
    url: str | None
    published: datetime | None
    source: str | None
    category: str | None
    text: str
    char_start: int
    char_end: int
    score: float
    also_reported_by: tuple[str, ...] = ()


def passage_id(article_id: str, char_start: int, char_end: int) -> str:
    """The span names the passage: the same id from every call, process and retriever, so that
    a vector store or a cache can deduplicate on it; it changes only when the article's text
    does (and then the old span no longer quotes it)."""
    return f"{article_id}:{char_start}-{char_end}"


def check_k(k: int, most: int | None = None, why: str = "") -> int:
    """``k`` from ``invoke(q, k=...)`` bypasses the field's validation: check it the same way
    (``most``: the retriever's largest, ``why`` says where that comes from)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (passages to return) must be an integer of at least 1, got {k!r}")
    if most is not None and k > most:
        raise ValueError(f"k (passages to return) must be at most {most}{why}, got {k}")
    return k


def ranked_documents(passages: Iterable[PassageFields], k: int) -> list[Document]:
    """The first ``k`` passages as Documents. ``passages`` come in retrieval order, best article
    first and each article's passages best first (GET /search's order), so cutting keeps the
    best; ``rank`` is the article's rank (1 = best), shared by its passages."""
    ranks: dict[str, int] = {}
    documents: list[Document] = []
    for p in passages:
        if len(documents) == k:
            break
        rank = ranks.setdefault(p.article_id, len(ranks) + 1)
        documents.append(
            Document(
                id=passage_id(p.article_id, p.char_start, p.char_end),
                page_content=p.text,
                metadata=_metadata(p, rank),
            )
        )
    return documents


def _metadata(p: PassageFields, rank: int) -> dict[str, Any]:
    """Plain JSON values only (``published`` as ISO text): chains serialise metadata, and the
    citation fields must survive the trip (text[char_start:char_end] is the passage)."""
    return {
        "article_id": p.article_id,
        "title": p.title,
        "url": p.url,
        "published": p.published.isoformat() if p.published else None,
        "source": p.source,
        "category": p.category,
        "char_start": p.char_start,
        "char_end": p.char_end,
        "score": p.score,
        "rank": rank,
        "also_reported_by": list(p.also_reported_by),
    }
