"""A timeline of the retrieved stories: their dated sentences, sorted by the time they name.

GET /timeline, ``newsqa timeline`` and ``Index.timeline`` show how a story unfolded: each
sentence of the retrieved articles that names a time ("Senin (20/10)", "tahun lalu", "5-7
Desember 2025"), with the interval it resolves to (``indexer.event_time``, against the article's
publication day) and a citation (article, quote, char span) like an answer's. The events are
those stored when the article was indexed, the ones event filters and ranking use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from indexer.event_time import EventTime
from indexer.sentences import split_sentences
from indexer.store import IndexStore
from service.retrieval import ArticleHit


@dataclass(frozen=True)
class TimelineEntry:
    """One dated sentence: the interval its expression names, and where it stands."""

    start: date
    end: date
    expression: str
    """The time expression: article text[expression_start:expression_end]."""
    expression_start: int
    expression_end: int
    article_id: str
    title: str
    url: str | None
    published: datetime | None
    source: str | None
    quote: str
    """The sentence: article text[char_start:char_end]."""
    char_start: int
    char_end: int
    rank: int
    """The article's rank in the retrieval (0 is the best)."""


def build_timeline(
    store: IndexStore, hits: list[ArticleHit], limit: int = 200
) -> list[TimelineEntry]:
    """The dated sentences of the hit articles, earliest first (ties: better-ranked article,
    then reading order); one entry per sentence and interval, at most ``limit``: those of the
    best-ranked articles, in reading order. Cut after sorting by time, the limit kept the
    earliest sentences whatever their article, so a timeline of many articles lost its latest
    ones: December 2025's sentences of detik-2025 with ``event_from=2025-12-01`` were all in
    the timeline of 10 articles and none in that of 50, which spent its 200 on older times."""
    entries: list[TimelineEntry] = []
    for rank, hit in enumerate(hits):
        article = store.article(hit.article_id)
        if article is None:  # deleted since it was retrieved
            continue
        bounds = split_sentences(article.text)
        seen: set[tuple[int, date, date]] = set()
        for event in store.events_in(article.id, article.text):
            start, end = _sentence_of(event, bounds)
            if (start, event.start, event.end) in seen:
                continue
            seen.add((start, event.start, event.end))
            entries.append(
                TimelineEntry(
                    start=event.start,
                    end=event.end,
                    expression=event.text,
                    expression_start=event.char_start,
                    expression_end=event.char_end,
                    article_id=article.id,
                    title=article.title,
                    url=article.url,
                    published=article.published,
                    source=article.source,
                    quote=article.text[start:end],
                    char_start=start,
                    char_end=end,
                    rank=rank,
                )
            )
    entries.sort(key=lambda e: (e.rank, e.char_start, e.start, e.end))
    kept = entries[:limit]
    kept.sort(key=lambda e: (e.start, e.end, e.rank, e.char_start))
    return kept


def _sentence_of(event: EventTime, bounds: list[tuple[int, int]]) -> tuple[int, int]:
    """The sentence holding the expression (from the start of the one it starts in to the end
    of the one it ends in: an expression never crosses sentences, but a range may)."""
    first = next((s for s, e in bounds if s <= event.char_start < e), event.char_start)
    last = next((e for s, e in bounds if s < event.char_end <= e), event.char_end)
    return first, last
