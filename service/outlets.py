"""Which outlet reported a story: answered from the articles' own outlets, not by the reader.

"which news site reported Palembang's innovation awards" or "media apa saja yang memberitakan
..." (``service.news_layout.outlet_question``) asks for no span of the story: the reader,
trained on facqa's spans of the story, answered with a program's name. An article names its
outlet in three places, taken in this order:

1. its ``source`` field (what the feed or the operator says published it);
2. its dateline ("Jakarta, Sumselupdate.com –", "KOMPAS.com -", "Jakarta, CNN Indonesia --");
3. its URL's site ("news.detik.com/..." -> "detik.com", via courlan).

Where the article's text names the outlet (its dateline names the source, or there is no
source), the dateline is the short answer, a span of the text like every short answer, cited
by its sentence. Where only metadata names it, the answer names it beside the citation of the
article's lead, and there is no short answer: nothing in the text says it.

A list question answers with each distinct outlet of the best story's copies (``indexer.stories``:
one report republished by several outlets), one citation each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from courlan import extract_domain

from indexer.documents import Article
from indexer.language import text_language
from indexer.sentences import split_sentences
from service.answer import Answer, Citation, ShortAnswer
from service.answer_types import mentions_any, question_names
from service.news_layout import dateline_outlets
from service.retrieval import ArticleHit

MAX_OUTLETS = 10
"""The most outlets a list answer names (a story copied more often is rare)."""


@dataclass(frozen=True)
class Outlet:
    """An article's outlet: its name, and where its text says it (None: only metadata)."""

    name: str
    span: tuple[int, int] | None


def _key(name: str) -> str:
    """A name compared across spellings: "KOMPAS.com", "Kompas" and "kompas.com" are one."""
    folded = name.casefold().strip()
    for prefix in ("www.",):
        folded = folded.removeprefix(prefix)
    head = folded.split(".")[0] if "." in folded and " " not in folded else folded
    return "".join(ch for ch in head if ch.isalnum())


def outlet_of(article: Article) -> Outlet | None:
    """The article's outlet: its ``source``, else its dateline's, else its URL's site."""
    datelines = dateline_outlets(article.text)
    dateline = datelines[0] if datelines else None
    said = article.text[dateline[0] : dateline[1]] if dateline else None
    if article.source:
        same = dateline is not None and said is not None and _key(said) == _key(article.source)
        return Outlet(article.source, dateline if same else None)
    if dateline is not None and said is not None:
        return Outlet(said, dateline)
    domain = extract_domain(article.url) if article.url else None
    return Outlet(domain, None) if domain else None


def _sentence_of(text: str, span: tuple[int, int] | None) -> tuple[int, int]:
    """The sentence holding ``span``, or the article's lead (its first sentence) for none."""
    bounds = split_sentences(text)
    if not bounds:
        return 0, len(text)
    if span is None:
        return bounds[0]
    return next(((s, e) for s, e in bounds if s <= span[0] < e), span)


def _story_of(hits: list[ArticleHit], stories: dict[str, str]) -> list[str]:
    """The best hit's article and its copies the response may name: those in
    ``also_reported_by`` (collapsed, already filtered) and the other hits of its story (not
    collapsed), best first."""
    best = hits[0]
    story = stories.get(best.article_id, best.article_id)
    members = [best.article_id, *(c.article_id for c in best.also_reported_by)]
    members += [h.article_id for h in hits[1:] if stories.get(h.article_id) == story]
    return list(dict.fromkeys(members))


def answer_outlets(
    question: str,
    asked: Literal["one", "list"],
    hits: list[ArticleHit],
    article: Callable[[str], Article | None],
    stories: dict[str, str],
) -> Answer:
    """The outlet (or, for a list, every outlet) that reported the story the question is
    about. The story is the best-ranked hit whose article names one of the names the question
    names (as the reader reads only such articles: "which site reported the Mars landing"
    is not answered from a Palembang story); none, or no outlet known: it abstains.

    ``article``: the store's lookup by id; ``stories``: ``{article_id: story_id}``."""
    started = time.perf_counter()
    names = question_names(question)
    naming = [
        i
        for i, hit in enumerate(hits)
        if (a := article(hit.article_id)) is not None
        and mentions_any(names, f"{a.title}\n{a.text}")
    ]
    if not naming:
        return Answer(question, None, True, [], hits, 0.0, None)
    ids = _story_of(hits[naming[0] :], stories) if asked == "list" else [hits[naming[0]].article_id]
    citations: list[Citation] = []
    shorts: list[ShortAnswer] = []
    parts: list[str] = []
    seen: set[str] = set()
    for article_id in ids:
        a = article(article_id)
        outlet = outlet_of(a) if a is not None else None
        if a is None or outlet is None or _key(outlet.name) in seen:
            continue
        seen.add(_key(outlet.name))
        n = len(citations) + 1
        start, end = _sentence_of(a.text, outlet.span)
        citations.append(
            Citation(n, a.id, a.title, a.url, a.published, a.text[start:end], start, end, 0.0)
        )
        if outlet.span is not None:
            s, e = outlet.span
            shorts.append(ShortAnswer(a.text[s:e], n, a.id, s, e, 0.0))
        parts.append(f"{outlet.name} [{n}]")
        if len(citations) == MAX_OUTLETS:
            break
    if not citations:
        return Answer(question, None, True, [], hits, 0.0, None)
    answer = Answer(
        question=question,
        answer=", ".join(parts),
        abstained=False,
        citations=citations,
        hits=hits,
        confidence=0.5,  # the outlet is read off the article, not scored: as sure as the story
        evidence_language=text_language(c.quote for c in citations),
        short_answers=shorts,
    )
    answer.timings_ms = {"outlets": round((time.perf_counter() - started) * 1000, 1)}
    return answer
