"""Lexical retrieval: a BM25 index over analyzed chunk texts, backed by ``bm25s``.

Documents are identified by position: the i-th token list given to ``BM25Index.build`` is
document ``i`` (the chunk row id).  Tokens come from ``indexer.analyzer.analyze`` both at build
time and at query time; this module does no text processing of its own.

bm25s usage notes (v0.3):

* ``bm25s.BM25.index`` accepts a list of token lists directly and builds the vocabulary
  (``vocab_dict``: token -> id) itself; ``show_progress=False`` silences its tqdm bars.
* Scores are precomputed at index time (eager sparse matrix), so a query is a sum of sparse
  columns.  Queries are scored with ``get_scores_from_ids`` on ids looked up in the same
  ``vocab_dict``, unknown tokens dropped, instead of ``retrieve``: ``retrieve`` raises when
  ``k`` exceeds the corpus size, pads results with zero-score documents, and needs a special
  empty token for queries without known tokens.  Top-k selection here keeps only score > 0
  and breaks ties by ascending id, so results are deterministic.
* ``method="lucene"`` with the default ``k1=1.5``, ``b=0.75``; Lucene's IDF
  ``log(1 + (N - df + 0.5) / (df + 0.5))`` is always positive, so every document containing a
  query term scores > 0.
* ``save(dir)`` writes ``params.index.json``, ``vocab.index.json`` and three ``.npy`` arrays;
  ``BM25.load(dir)`` restores them (optionally memory-mapped).  This module adds
  ``newsqa_bm25.json`` with its own format version and the document count, which also makes
  a corpus without any token (which bm25s cannot index) buildable and saveable.

Query tokens are de-duplicated: a term counts once however often it occurs in the query.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["BM25Index"]

_META_FILE = "newsqa_bm25.json"
_FORMAT_VERSION = 1

_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float32)


class BM25Index:
    """BM25 (Lucene variant) over pre-tokenized documents; document id == position."""

    def __init__(self, retriever: object | None, num_docs: int) -> None:
        """Wrap an existing ``bm25s.BM25`` (or ``None`` for an empty corpus); prefer ``build``."""
        self._retriever = retriever
        self._num_docs = num_docs
        vocab: dict[str, int] = dict(getattr(retriever, "vocab_dict", None) or {})
        vocab.pop("", None)  # bm25s's placeholder for token-less queries
        self._vocab = vocab

    @classmethod
    def build(
        cls,
        corpus_tokens: Sequence[Sequence[str]],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
    ) -> BM25Index:
        """Index ``corpus_tokens[i]`` (analyzer output) as document ``i``."""
        docs = [list(tokens) for tokens in corpus_tokens]
        for i, tokens in enumerate(docs):
            if not all(isinstance(t, str) for t in tokens):
                raise TypeError(f"document {i} must be a sequence of str tokens")
        if not any(docs):  # bm25s cannot index a corpus without a single token
            return cls(None, len(docs))
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b, method=method)
        _quiet_bm25s()
        retriever.index(docs, show_progress=False)
        return cls(retriever, len(docs))

    @property
    def num_docs(self) -> int:
        return self._num_docs

    def __len__(self) -> int:
        return self._num_docs

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def token_ids(self, query_tokens: Sequence[str]) -> list[int]:
        """Vocabulary ids of the distinct known tokens of a query, in first-occurrence order."""
        seen: set[int] = set()
        ids: list[int] = []
        for token in query_tokens:
            tid = self._vocab.get(token)
            if tid is not None and tid not in seen:
                seen.add(tid)
                ids.append(tid)
        return ids

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every document (float32 array of length ``num_docs``)."""
        ids = self.token_ids(query_tokens)
        if not ids or self._retriever is None:
            return np.zeros(self._num_docs, dtype=np.float32)
        out = self._retriever.get_scores_from_ids(ids)  # type: ignore[attr-defined]
        return np.asarray(out, dtype=np.float32)

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents with score > 0: ``(ids int64, scores float32)``, best first.

        ``allowed`` (optional bool array, one entry per document) restricts the results to
        documents whose entry is True; scores themselves are unchanged (corpus statistics
        stay those of the whole index).  Fewer than ``k`` (possibly zero) results come back
        when fewer documents match; ties are broken by ascending id.
        """
        if isinstance(query_tokens, str):
            raise TypeError("query_tokens must be a list of tokens, not a str")
        if k < 0:
            raise ValueError(f"k must not be negative, got {k}")
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=bool)
            if allowed.shape != (self._num_docs,):
                raise ValueError(
                    f"allowed must have one entry per document ({self._num_docs}), "
                    f"got shape {allowed.shape}"
                )
        if k == 0 or self._num_docs == 0:
            return _EMPTY_IDS.copy(), _EMPTY_SCORES.copy()
        scores = self.scores(query_tokens)
        matched = scores > 0
        if allowed is not None:
            matched &= allowed
        hits = np.flatnonzero(matched)
        if hits.size == 0:
            return _EMPTY_IDS.copy(), _EMPTY_SCORES.copy()
        hit_scores = scores[hits]
        if hits.size > k:
            # Keep everything tied with the k-th best score so the tie-break below is exact.
            kth = np.partition(hit_scores, hits.size - k)[hits.size - k]
            keep = hit_scores >= kth
            hits, hit_scores = hits[keep], hit_scores[keep]
        order = np.lexsort((hits, -hit_scores))[:k]
        return hits[order].astype(np.int64), hit_scores[order].astype(np.float32)

    def save(self, directory: Path | str) -> None:
        """Write the index into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self._retriever is not None:
            self._retriever.save(str(directory), show_progress=False)  # type: ignore[attr-defined]
        meta = {
            "format_version": _FORMAT_VERSION,
            "num_docs": self._num_docs,
            "has_terms": self._retriever is not None,
        }
        (directory / _META_FILE).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path | str, *, mmap: bool = False) -> BM25Index:
        """Read an index written by ``save``."""
        directory = Path(directory)
        meta_path = directory / _META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"no BM25 index in {directory} (missing {_META_FILE})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(
                f"unsupported BM25 index format {meta.get('format_version')!r} in {directory}"
            )
        num_docs = int(meta["num_docs"])
        if not meta.get("has_terms", True):
            return cls(None, num_docs)
        import bm25s

        _quiet_bm25s()
        retriever = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False)
        stored = int(retriever.scores["num_docs"])
        if stored != num_docs:
            raise ValueError(
                f"BM25 index in {directory} has {stored} documents, expected {num_docs}"
            )
        return cls(retriever, num_docs)


def _quiet_bm25s() -> None:
    logging.getLogger("bm25s").setLevel(logging.WARNING)
