"""Response bodies shared by the routes, and by the eval, which records an in-process answer
in the shape POST /ask returns it."""

from __future__ import annotations

from datetime import datetime

from fastapi.responses import Response
from pydantic import BaseModel

from indexer.event_time import extract_events, publication_day
from service import schemas
from service.answer import Answer
from service.highlight import highlight_spans, query_terms
from service.retrieval import ArticleHit


def events_out(text: str, offset: int, published: datetime | None) -> list[schemas.EventOut]:
    """The time expressions of ``text`` (which starts at ``offset`` in its article), resolved
    against the publication day in Jakarta. Read when answering, from the text itself: cheap
    (about 3 ms per article), and never stale after an article is replaced."""
    day = publication_day(published)
    return [
        schemas.EventOut(
            start=e.start,
            end=e.end,
            char_start=offset + e.char_start,
            char_end=offset + e.char_end,
            text=e.text,
        )
        for e in extract_events(text, day)
    ]


def passages_out(hits: list[ArticleHit], query: str) -> list[schemas.PassageOut]:
    out = []
    terms = query_terms(query)
    for hit in hits:
        for passage in hit.passages:
            c = passage.chunk
            out.append(
                schemas.PassageOut(
                    article_id=c.article_id,
                    title=c.title,
                    url=c.url,
                    published=c.published,
                    source=c.source,
                    category=c.category,
                    text=c.text,
                    char_start=c.char_start,
                    char_end=c.char_end,
                    score=round(hit.score, 6),
                    highlights=highlight_spans(c.text, terms),
                    events=events_out(c.text, c.char_start, c.published),
                    also_reported_by=[
                        schemas.StoryMember(**copy.__dict__) for copy in hit.also_reported_by
                    ],
                )
            )
    return out


def json_response(model: BaseModel) -> Response:
    """The model as JSON, serialized once. A route that returns the model itself has FastAPI
    validate it again against ``response_model`` (in another thread-pool hop for a sync
    route) and serialize it; the models here are built and validated by the route already.
    ``response_model`` stays on the route for the OpenAPI schema."""
    return Response(model.model_dump_json(), media_type="application/json")


def ask_response(answer: Answer) -> schemas.AskResponse:
    return schemas.AskResponse(
        question=answer.question,
        answer=answer.answer,
        abstained=answer.abstained,
        evidence_language=answer.evidence_language,
        confidence=round(answer.confidence, 4),
        short_answers=[schemas.ShortAnswer(**s.__dict__) for s in answer.short_answers],
        citations=[
            schemas.Citation(**c.__dict__, events=events_out(c.quote, c.char_start, c.published))
            for c in answer.citations
        ],
        passages=passages_out(answer.hits, answer.question),
        timings_ms=answer.timings_ms,
    )
