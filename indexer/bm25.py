"""Lexical retrieval: BM25 (Lucene variant) over analyzed chunk texts, one index per segment.

Documents are identified by position: the i-th token list given to ``BM25Index.build`` is
document ``i`` (the chunk's row in its segment). Tokens come from
``indexer.analyzer.analyze`` at build and query time; this module does no text processing.

Why not bm25s (used before): it bakes each index's IDF into precomputed scores. An index that
grows by small segments (``indexer.store``) needs IDF and average length over *all* live
documents of *all* segments, or a one-article segment would score its words as if nothing
else existed. So each segment keeps raw term frequencies (a scipy CSC matrix, one column per
term), and scores are computed at query time from corpus-wide statistics (``CorpusStats``).
For one segment without deletions the scores equal bm25s's ``method="lucene"``:
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, ``tf / (tf + k1 (1 - b + b dl / avgdl))``,
``k1 = 1.5``, ``b = 0.75``. Query tokens count once however often they occur.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

__all__ = ["BM25Index", "CorpusStats", "K1", "B"]

K1 = 1.5
B = 0.75
_META_FILE = "bm25.json"
_MATRIX_FILE = "tf.npz"
_FORMAT_VERSION = 2

_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float32)
# ``BM25Index.top``: posting lists up to this length also tighten the threshold; a term's
# postings are bisected for the hopeful documents when it has this many times more of them.
_SHORT_POSTINGS = 50_000
_BISECT_RATIO = 4


@dataclass(frozen=True)
class CorpusStats:
    """Statistics over every live document of every segment, for comparable scores."""

    num_docs: int
    avg_length: float
    doc_freq: dict[str, int]

    def idf(self, term: str) -> float:
        df = self.doc_freq.get(term, 0)
        return float(np.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5)))

    @classmethod
    def of(
        cls,
        parts: Sequence[tuple[BM25Index, np.ndarray | None]],
        query_tokens: Sequence[str],
        totals: tuple[int, float] | None = None,
    ) -> CorpusStats:
        """Stats of the query's terms over ``(index, live mask or None)`` parts; ``totals``
        (``CorpusStats.totals(parts)``) spares a caller that keeps them a pass over every
        document."""
        terms = list(dict.fromkeys(query_tokens))
        num_docs, total = totals or cls.totals(parts)
        doc_freq = dict.fromkeys(terms, 0)
        for index, live in parts:
            for term in terms:
                rows, _ = index.postings(term)
                doc_freq[term] += int(len(rows) if live is None else live[rows].sum())
        return cls(num_docs, total / num_docs if num_docs else 0.0, doc_freq)

    @staticmethod
    def totals(parts: Sequence[tuple[BM25Index, np.ndarray | None]]) -> tuple[int, float]:
        """Live documents and their summed lengths."""
        num_docs, total = 0, 0.0
        for index, live in parts:
            lengths = index.doc_lengths if live is None else index.doc_lengths[live]
            num_docs += len(lengths)
            total += float(lengths.sum())
        return num_docs, total


class BM25Index:
    """Term frequencies and lengths of one segment's documents; document id == position."""

    def __init__(self, tf: sparse.csc_matrix, vocab: dict[str, int]) -> None:
        self._tf = tf.tocsc()
        self._tf.sort_indices()  # postings in document order (``scores_of`` bisects them)
        self._vocab = vocab
        self.doc_lengths = np.asarray(self._tf.sum(axis=1)).ravel().astype(np.float32)
        # (avg length, k1 (1 - b + b dl / avgdl) per document, MaxScore bound per term)
        self._norm: tuple[float, np.ndarray, dict[str, float]] | None = None

    @classmethod
    def build(cls, corpus_tokens: Sequence[Sequence[str]]) -> BM25Index:
        """Index ``corpus_tokens[i]`` (analyzer output) as document ``i``."""
        vocab: dict[str, int] = {}
        rows, cols = [], []
        for i, tokens in enumerate(corpus_tokens):
            if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
                raise TypeError(f"document {i} must be a sequence of str tokens")
            for token in tokens:
                rows.append(i)
                cols.append(vocab.setdefault(token, len(vocab)))
        data = np.ones(len(rows), dtype=np.float32)
        shape = (len(corpus_tokens), len(vocab))
        tf = sparse.coo_matrix((data, (rows, cols)), shape=shape).tocsc()  # sums repeats
        return cls(tf, vocab)

    @classmethod
    def concat(cls, parts: Sequence[tuple[BM25Index, np.ndarray]]) -> BM25Index:
        """One index of the kept documents (``mask``) of each part, in order: segment merges."""
        vocab: dict[str, int] = {}
        blocks = []
        for index, keep in parts:
            remap = np.zeros(len(index._vocab), dtype=np.int64)
            for term, col in index._vocab.items():
                remap[col] = vocab.setdefault(term, len(vocab))
            block = index._tf.tocsr()[np.flatnonzero(keep)].tocoo()
            blocks.append((block.row, remap[block.col], block.data, block.shape[0]))
        offset, rows, cols, data = 0, [], [], []
        for r, c, d, n in blocks:
            rows.append(r + offset)
            cols.append(c)
            data.append(d)
            offset += n
        if not blocks:
            return cls.build([])
        matrix = sparse.coo_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
            shape=(offset, len(vocab)),
        )
        return cls(matrix.tocsc(), vocab)

    @property
    def num_docs(self) -> int:
        return self._tf.shape[0]

    def __len__(self) -> int:
        return self.num_docs

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Documents containing ``term`` and its frequency in each."""
        col = self._vocab.get(term)
        if col is None:
            return _EMPTY_IDS, _EMPTY_SCORES
        start, end = self._tf.indptr[col], self._tf.indptr[col + 1]
        return self._tf.indices[start:end], self._tf.data[start:end]

    def scores(
        self,
        query_tokens: Sequence[str],
        stats: CorpusStats | None = None,
        live: np.ndarray | None = None,
    ) -> np.ndarray:
        """BM25 score of every document (float32, length ``num_docs``; 0 where ``live`` is
        False). ``stats`` default to this index alone."""
        terms = list(dict.fromkeys(query_tokens))
        stats = stats or CorpusStats.of([(self, live)], terms)
        out = np.zeros(self.num_docs, dtype=np.float32)
        if not stats.num_docs:
            return out
        norm = self._length_norm(stats.avg_length)
        for term in terms:
            rows, tf = self.postings(term)
            if len(rows):
                out[rows] += stats.idf(term) * tf / (tf + norm[rows])
        if live is not None:
            out[~live] = 0.0
        return out

    def _length_norm(self, avg_length: float) -> np.ndarray:
        """``k1 (1 - b + b dl / avgdl)`` per document. It changes only when the corpus does,
        and recomputing it costs four passes over every document per query (3 ms at 1M
        chunks), so the last one is kept (one reference swap: safe across threads)."""
        return self._normalisation(avg_length)[1]

    def _normalisation(self, avg_length: float) -> tuple[float, np.ndarray, dict[str, float]]:
        cached = self._norm
        if cached is None or cached[0] != avg_length:
            norm = K1 * (1 - B + B * self.doc_lengths / max(avg_length, 1e-9))
            cached = (avg_length, norm, {})
            self._norm = cached
        return cached

    def _bound(self, term: str, avg_length: float) -> float:
        """The most ``term`` adds to any document's score, per unit of IDF: the largest
        ``tf / (tf + norm)`` over its postings. Kept per term until the corpus changes, so a
        common word's long posting list is read for its bound once, not per query."""
        _, norm, bounds = self._normalisation(avg_length)
        bound = bounds.get(term)
        if bound is None:
            rows, tf = self.postings(term)
            bound = float((tf / (tf + norm[rows])).max()) if len(rows) else 0.0
            bounds[term] = bound
        return bound

    def scores_of(
        self, docs: np.ndarray, query_tokens: Sequence[str], stats: CorpusStats
    ) -> np.ndarray:
        """``scores(query_tokens, stats)[docs]`` without touching the other documents: a
        re-ranker scoring a hundred candidates pays per candidate, not per corpus document."""
        docs = np.asarray(docs, dtype=np.int64)
        out = np.zeros(len(docs), dtype=np.float32)
        if not stats.num_docs or not len(docs):
            return out
        norm = self._length_norm(stats.avg_length)[docs]
        for term in dict.fromkeys(query_tokens):
            rows, tf = self.postings(term)
            if not len(rows):
                continue
            at = np.minimum(np.searchsorted(rows, docs), len(rows) - 1)
            hit = rows[at] == docs
            freq = tf[at[hit]]
            out[hit] += stats.idf(term) * freq / (freq + norm[hit])
        return out

    # Over 50 lines on purpose: MaxScore's two phases share their bounds and heap; split, the
    # state would have to be an object.
    def top(
        self,
        query_tokens: Sequence[str],
        n: int,
        stats: CorpusStats,
        mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best documents with a score above 0 among ``mask`` (ids, scores; in no
        order): the set that selecting from ``scores`` gives, up to ties, without scoring
        every matching document in full.

        This is MaxScore (Turtle and Flood, 1995). A question's common words ("tahun",
        "kota") have posting lists of a third of the corpus at 1M chunks, and scoring them
        for every document was most of BM25's cost. Terms are taken by their highest
        possible contribution (``_bound``), largest first, and scored in full until the
        contributions still possible from the terms left cannot lift a document that has
        none of the terms taken so far into the top ``n``. The left terms are then added
        only for the documents that could still make it (``scores_of``'s bisection).
        """
        terms = [t for t in dict.fromkeys(query_tokens) if t in self._vocab]
        if n < 1 or not terms or not stats.num_docs:
            return _EMPTY_IDS.copy(), _EMPTY_SCORES.copy()
        norm = self._length_norm(stats.avg_length)
        idf = {t: stats.idf(t) for t in terms}
        most = {t: idf[t] * self._bound(t, stats.avg_length) for t in terms}
        terms.sort(key=lambda t: -most[t])
        acc = np.zeros(self.num_docs, dtype=np.float32)
        left = sum(most.values())  # the most the terms not taken yet can add
        threshold = 0.0  # a lower bound of the n-th best final score
        hopeful: np.ndarray | None = None  # the only documents that can still make the top n
        for term in terms:
            rows, tf = self.postings(term)
            if hopeful is None or len(hopeful) * _BISECT_RATIO > len(rows):
                acc[rows] += idf[term] * tf / (tf + norm[rows])
                # a short list's documents also tighten the threshold, cheaply
                if hopeful is None and len(rows) <= _SHORT_POSTINGS:
                    kept = rows if mask is None else rows[mask[rows]]
                    threshold = max(threshold, _nth_best(acc[kept], n))
            else:  # look up the few hopeful documents instead of adding the whole list
                acc[hopeful] += self.scores_of(hopeful, [term], stats)
            left -= most[term]
            if hopeful is not None and len(hopeful) <= _SHORT_POSTINGS:
                threshold = max(threshold, _nth_best(acc[hopeful], n))
            if threshold > left:
                # A document below ``threshold - left`` now cannot reach the top n. Taking
                # them out once saves the rest of the terms a third of the corpus (common
                # words) each.
                floor = threshold - left
                if hopeful is None:
                    hopeful = np.flatnonzero(acc >= floor)
                    hopeful = hopeful if mask is None else hopeful[mask[hopeful]]
                else:
                    hopeful = hopeful[acc[hopeful] >= floor]
        docs = hopeful if hopeful is not None else np.flatnonzero(acc)
        if hopeful is None and mask is not None:
            docs = docs[mask[docs]]
        scores = acc[docs]
        if len(docs) > n:
            best = np.argpartition(-scores, n - 1)[:n]
            docs, scores = docs[best], scores[best]
        return docs.astype(np.int64), scores.astype(np.float32)

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents with score > 0: ``(ids int64, scores float32)``, best first.

        ``allowed`` (bool per document) restricts results without changing statistics; fewer
        than ``k`` come back when fewer documents match; ties go to the lower id.
        """
        if isinstance(query_tokens, str):
            raise TypeError("query_tokens must be a list of tokens, not a str")
        if k < 0:
            raise ValueError(f"k must not be negative, got {k}")
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=bool)
            if allowed.shape != (self.num_docs,):
                raise ValueError(
                    f"allowed must have one entry per document ({self.num_docs}), "
                    f"got shape {allowed.shape}"
                )
        if k == 0 or self.num_docs == 0:
            return _EMPTY_IDS.copy(), _EMPTY_SCORES.copy()
        scores = self.scores(query_tokens)
        matched = scores > 0
        if allowed is not None:
            matched &= allowed
        hits = np.flatnonzero(matched)
        hit_scores = scores[hits]
        order = np.lexsort((hits, -hit_scores))[:k]
        return hits[order].astype(np.int64), hit_scores[order].astype(np.float32)

    def save(self, directory: Path | str) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        sparse.save_npz(directory / _MATRIX_FILE, self._tf, compressed=False)
        meta = {"format_version": _FORMAT_VERSION, "vocab": self._vocab}
        (directory / _META_FILE).write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path | str) -> BM25Index:
        directory = Path(directory)
        meta_path = directory / _META_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(f"no BM25 index in {directory} (missing {_META_FILE})")
        meta = json.loads(meta_path.read_text("utf-8"))
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(
                f"unsupported BM25 index format {meta.get('format_version')!r} in {directory}"
            )
        tf = sparse.load_npz(directory / _MATRIX_FILE)
        if tf.shape[1] != len(meta["vocab"]):
            raise ValueError(f"BM25 index in {directory} has a vocabulary/matrix mismatch")
        return cls(tf, meta["vocab"])


def _nth_best(values: np.ndarray, n: int) -> float:
    """The ``n``-th largest of ``values``, or 0 when there are fewer."""
    if len(values) < n:
        return 0.0
    return float(np.partition(values, len(values) - n)[len(values) - n])
