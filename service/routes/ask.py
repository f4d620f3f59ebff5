"""POST /ask: a cited answer to a question (``service.qa.answer_question``); POST /ask/batch:
up to 64 of them at once (``service.qa.answer_questions``)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service import schemas
from service.deps import ComponentsDep
from service.limits import charge_questions
from service.qa import answer_question, answer_questions
from service.routes.responses import ask_response, json_response

router = APIRouter(tags=["answers"])


@router.post("/ask", response_model=schemas.AskResponse)
def ask(body: schemas.AskRequest, c: ComponentsDep, request: Request) -> Response:
    """Answer a question with verbatim, cited sentences from the articles (or abstain)."""
    filters = body.filters.to_retrieval() if body.filters else None
    k = body.k if body.k is not None else c.settings.default_k  # NEWSQA_DEFAULT_K
    answer = answer_question(c, body.question, k, filters, body.as_of, body.collapse)
    count_answers(request, [answer.abstained])
    return json_response(ask_response(c.store, answer))


@router.post("/ask/batch", response_model=schemas.AskBatchResponse)
def ask_batch(body: schemas.AskBatchRequest, c: ComponentsDep, request: Request) -> Response:
    """Answer up to 64 questions with the same options: one embedding, retrieval and reader
    batch for all of them, so a list costs less than as many POST /ask requests. Each answer
    is the one POST /ask gives. The rate limit counts each question as one request."""
    charge_questions(request, len(body.questions))
    started = time.perf_counter()
    filters = body.filters.to_retrieval() if body.filters else None
    k = body.k if body.k is not None else c.settings.default_k
    answers = answer_questions(c, body.questions, k, filters, body.as_of, body.collapse)
    count_answers(request, [a.abstained for a in answers])
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return json_response(
        schemas.AskBatchResponse(
            answers=[ask_response(c.store, a) for a in answers], timings_ms={"total": elapsed}
        )
    )


def count_answers(request: Request, abstained: list[bool]) -> None:
    """``newsqa_answers_total`` by outcome (``service/metrics.py``), where metrics are on."""
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.count_answers(abstained)
