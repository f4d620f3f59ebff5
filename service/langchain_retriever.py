"""newsqa's retriever as a LangChain ``BaseRetriever``, for users' own chains.

Over a running server instead of an index on disk: ``service.langchain_http_retriever``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field, field_validator

from service import schemas
from service.input_text import question_text
from service.langchain_documents import PassageFields, check_k, ranked_documents
from service.retrieval import ArticleHit, Filters


@runtime_checkable
class Retrieves(Protocol):
    """What the retriever searches with: a ``HybridRetriever`` (one generation of an index), or
    ``newsqa.Index.as_retriever``'s, which follows the index's writes and reloads."""

    def retrieve(
        self, question: str, k: int = 5, filters: Filters | None = None
    ) -> list[ArticleHit]: ...


class NewsqaRetriever(BaseRetriever):
    """The ``k`` best passages as ``Document``s (``service.langchain_documents``): the id is the
    passage's span (``"article_id:char_start-char_end"``), the metadata the citation fields.

    ``k`` counts passages, the Documents returned, as LangChain retrievers do; the
    ``HybridRetriever`` (like GET /search) counts articles of up to three passages each.
    ``invoke(q, k=2)`` overrides ``k`` for one call.

    >>> retriever = NewsqaRetriever(retriever=HybridRetriever(store, embedder), k=5)
    >>> docs = retriever.invoke("which Palembang programs won 2020 awards")
    >>> docs[0].id, docs[0].metadata["article_id"], docs[0].metadata["char_start"]
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retrieves
    k: int = Field(5, ge=1, description="Passages (Documents) to return.")
    filters: Filters | None = None

    @field_validator("filters", mode="before")
    @classmethod
    def _filters_from_dict(cls, filters: object) -> object:
        """A dict of filters, as ``NewsqaHTTPRetriever`` and ``Index.search`` take them
        ({"category": "Ekonomi"}, ISO text or dates), read as POST /search reads its
        ``filters``. pydantic read it as the ``Filters`` dataclass: a misspelt name was dropped
        (every article matched), ``2025`` was 2025 seconds after 1970, and a day alone as
        ``published_to`` its midnight where the server keeps the whole day."""
        if isinstance(filters, Mapping):
            return schemas.Filters.model_validate(dict(filters)).to_retrieval()
        return filters

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        wanted = check_k(self.k if k is None else k)
        query = question_text(query, "query")
        # Every article brings at least one passage: ``wanted`` articles fill ``wanted``
        # passages whenever the index (and the filters) have that many.
        hits = self.retriever.retrieve(query, wanted, self.filters)
        return ranked_documents(_passages(hits), wanted)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        # BaseRetriever's default runs the sync method in a thread but drops ``k``.
        return await run_in_executor(
            None, self._get_relevant_documents, query, run_manager=run_manager.get_sync(), k=k
        )


def _passages(hits: list[ArticleHit]) -> Iterator[PassageFields]:
    """The hits' passages in retrieval order, with GET /search's rounding of the score."""
    for hit in hits:
        also = tuple(copy.article_id for copy in hit.also_reported_by)
        for passage in hit.passages:
            c = passage.chunk
            yield PassageFields(
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
                also_reported_by=also,
            )
