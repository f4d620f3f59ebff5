"""Response bodies shared by the routes, and by the eval, which records an in-process answer
in the shape POST /ask returns it."""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import BaseModel

from indexer.store import IndexStore
from service import schemas
from service.answer import Answer
from service.highlight import highlight_spans, highlight_terms
from service.retrieval import ArticleHit


def events_out(
    store: IndexStore, article_id: str, text: str, offset: int
) -> list[schemas.EventOut]:
    """The stored time expressions inside ``text`` (the article's text from ``offset`` on),
    resolved when the article was indexed (``IndexStore.events_in``)."""
    return [schemas.EventOut(**e.__dict__) for e in store.events_in(article_id, text, offset)]


def passages_out(store: IndexStore, hits: list[ArticleHit], query: str) -> list[schemas.PassageOut]:
    out = []
    terms = highlight_terms(query)
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
                    events=events_out(store, c.article_id, c.text, c.char_start),
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


def ask_response(store: IndexStore, answer: Answer) -> schemas.AskResponse:
    return schemas.AskResponse(
        question=answer.question,
        answer=answer.answer,
        abstained=answer.abstained,
        evidence_language=answer.evidence_language,
        confidence=round(answer.confidence, 4),
        short_answers=[schemas.ShortAnswer(**s.__dict__) for s in answer.short_answers],
        citations=[
            schemas.Citation(
                **c.__dict__, events=events_out(store, c.article_id, c.quote, c.char_start)
            )
            for c in answer.citations
        ],
        passages=passages_out(store, answer.hits, answer.question),
        timings_ms=answer.timings_ms,
    )
