"""BM25 over analyzed chunk texts (bm25s: sparse matrices, fast to build, save and load).

Document position == chunk row, so BM25 results and FAISS results share ids.
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np


class BM25Index:
    """Lexical index of token lists produced by ``indexer.analyzer.analyze``.

    >>> index = BM25Index.build([["palembang", "harga"], ["jembatan", "ampera"]])
    >>> rows, scores = index.search(["ampera"], k=5)
    """

    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self.model = model
        self.size = size
        self.vocab: dict[str, int] = model.vocab_dict

    @classmethod
    def build(cls, documents: list[list[str]]) -> BM25Index:
        model = bm25s.BM25(method="lucene")
        # An empty document list or empty documents are legal: bm25s adds an empty token.
        model.index(documents or [[]], show_progress=False)
        return cls(model, len(documents))

    def search(
        self, query_tokens: list[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the top ``k`` documents with a positive score, best first."""
        known = [t for t in query_tokens if t in self.vocab and t != ""]
        if not known or self.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.model.get_scores(known)[: self.size]
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if len(positive) > k:
            positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
        order = positive[np.argsort(-scores[positive], kind="stable")]
        return order.astype(np.int64), scores[order].astype(np.float32)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.model.save(str(path), show_progress=False)
        (path / "size").write_text(str(self.size))

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        model = bm25s.BM25.load(str(path), show_progress=False, verbosity=0)
        return cls(model, int((path / "size").read_text()))
