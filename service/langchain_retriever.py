"""newsqa's retriever as a LangChain ``BaseRetriever``, for users' own chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from service.retrieval import Filters, HybridRetriever


class NewsqaRetriever(BaseRetriever):
    """Returns the best passages as ``Document``s whose metadata carries the citation fields.

    >>> retriever = NewsqaRetriever(retriever=HybridRetriever(store, embedder), k=5)
    >>> docs = retriever.invoke("which Palembang programs won 2020 awards")
    >>> docs[0].metadata["article_id"], docs[0].metadata["char_start"]
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: HybridRetriever
    k: int = 5
    filters: Filters | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        documents = []
        for rank, hit in enumerate(self.retriever.retrieve(query, self.k, self.filters), start=1):
            for passage in hit.passages:
                chunk = passage.chunk
                metadata: dict[str, Any] = {
                    "article_id": chunk.article_id,
                    "title": chunk.title,
                    "url": chunk.url,
                    "published": chunk.published.isoformat() if chunk.published else None,
                    "source": chunk.source,
                    "category": chunk.category,
                    "char_start": chunk.char_start,
                    "char_end": chunk.char_end,
                    "rank": rank,
                    "score": hit.score,
                    "also_reported_by": [c.article_id for c in hit.also_reported_by],
                }
                documents.append(Document(page_content=chunk.text, metadata=metadata))
        return documents
