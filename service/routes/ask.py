"""POST /ask: a cited answer to a question (``service.qa.answer_question``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from service import schemas
from service.deps import ComponentsDep
from service.qa import answer_question
from service.routes.responses import ask_response, json_response

router = APIRouter(tags=["answers"])


@router.post("/ask", response_model=schemas.AskResponse)
def ask(body: schemas.AskRequest, c: ComponentsDep) -> Response:
    """Answer a question with verbatim, cited sentences from the articles (or abstain)."""
    filters = body.filters.to_retrieval() if body.filters else None
    k = body.k if body.k is not None else c.settings.default_k  # NEWSQA_DEFAULT_K
    answer = answer_question(c, body.question, k, filters, body.as_of, body.collapse)
    return json_response(ask_response(c.store, answer))
