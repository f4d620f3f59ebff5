"""Synthetic indexes and vectors for the sizes that real embedding cannot reach here.

Embedding 100k real chunks would take hours on this machine, so the large indexes are
written straight as one segment (``indexer.store.IndexWriter``, the product's own writer):

* words are drawn with the real word frequencies of detik-2025's ASCII articles (96% of
  them; Zipf-like, so common query terms have long BM25 posting lists, as in a real corpus)
  and their BM25 terms are the product's analyzer output for each word (stopwords dropped,
  Sastrawi stems);
* vectors are clustered, not uniform (``clustered_vectors``): unit vectors around topic
  centres that share a common direction, as e5's anisotropic embeddings do.

The whole build is vectorised (numpy + scipy), so 1M chunks take minutes and a few GiB, where
``bench.incremental.synthetic_index`` (Python lists per token) would take a quarter of an
hour. Chunks are 120 words, 4 per article, like ``bench.incremental``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse

from bench.common import DETIK

WORDS_PER_CHUNK = 120
CHUNKS_PER_ARTICLE = 4


@dataclass(frozen=True)
class Vocabulary:
    words: np.ndarray  # surface words (object array)
    probs: np.ndarray  # their corpus frequencies
    term_of: np.ndarray  # BM25 term column of each word, -1 for a stopword
    terms: dict[str, int]  # term -> column


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    from indexer.analyzer import analyze, tokenize

    counts: Counter[str] = Counter()
    with DETIK.open(encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            # 42 of detik's 1,000 rows are not ASCII, mostly mojibake (Arabic decoded as
            # Latin-1) that tokenizes into fragments like "ù": 0.5% of all tokens, which drawn
            # independently would put non-ASCII text in 60% of synthetic chunks.
            if text.isascii():
                counts.update(tokenize(text))
    words = sorted(counts)
    freq = np.array([counts[w] for w in words], dtype=np.float64)
    terms: dict[str, int] = {}
    term_of = np.full(len(words), -1, dtype=np.int64)
    for i, word in enumerate(words):
        analyzed = analyze(word)
        if analyzed:  # every word gives 0 or 1 term (measured on detik)
            term_of[i] = terms.setdefault(analyzed[0], len(terms))
    return Vocabulary(np.array(words, dtype=object), freq / freq.sum(), term_of, terms)


def _normalize(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def clustered_vectors(
    n: int,
    dim: int,
    seed: int = 0,
    base: np.ndarray | None = None,
    per_cluster: int = 64,
    block: int = 100_000,
) -> np.ndarray:
    """``n`` unit float32 vectors in clusters of about ``per_cluster``.

    Cluster centres are the ``base`` vectors (e.g. real passage embeddings) or, without them,
    random directions sharing a common component (any two e5 passages have cosine ~0.7), each
    moved by noise of norm 0.35 (cosine ~0.94 to its base); points are a centre plus noise of
    norm 0.35 again. Neighbours are then mostly in the same cluster with a spread of
    distances, not the equidistant points of uniform random data.
    """
    rng = np.random.default_rng(seed)
    if base is None:
        common = rng.standard_normal(dim)
        common /= np.linalg.norm(common)
        topics = _normalize(rng.standard_normal((max(16, n // (per_cluster * 32)), dim)))
        base = _normalize(common + topics * 0.65)
    base = np.asarray(base, dtype=np.float32)
    clusters = max(1, n // per_cluster)
    centres = base[rng.integers(len(base), size=clusters)]
    centres = _normalize(centres + 0.35 * rng.standard_normal(centres.shape) / np.sqrt(dim))
    centres = centres.astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, block):
        end = min(n, start + block)
        noise = rng.standard_normal((end - start, dim), dtype=np.float32) / np.sqrt(dim)
        out[start:end] = centres[rng.integers(clusters, size=end - start)] + 0.35 * noise
        _normalize(out[start:end])
    return out


def build_index(
    index_dir: Path,
    chunks: int,
    dimension: int = 384,
    model: str | None = None,
    seed: int = 0,
    block: int = 50_000,
    words_per_chunk: int = WORDS_PER_CHUNK,
) -> dict:
    """Write a committed index of ``chunks`` synthetic chunks (one segment) to ``index_dir``."""
    import time

    from indexer.bm25 import BM25Index
    from indexer.documents import Article, Chunk
    from indexer.store import IndexWriter, SegmentData
    from newsqa.settings import get_settings

    started = time.perf_counter()
    model = model or get_settings().embed_model
    voc = vocabulary()
    rng = np.random.default_rng(seed)
    n_articles = max(1, chunks // CHUNKS_PER_ARTICLE)
    n = n_articles * CHUNKS_PER_ARTICLE
    cdf = np.cumsum(voc.probs)
    words = voc.words
    articles: list[Article] = []
    rows: list[Chunk] = []
    blocks = []
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        ids = np.searchsorted(cdf, rng.random((b1 - b0, words_per_chunk)), side="right")
        ids = np.minimum(ids, len(words) - 1)
        cols = voc.term_of[ids].ravel()
        keep = cols >= 0
        r = np.repeat(np.arange(b1 - b0), words_per_chunk)[keep]
        tf = sparse.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float32), (r, cols[keep])),
            shape=(b1 - b0, len(voc.terms)),
        )
        tf.sum_duplicates()
        blocks.append(tf)
        parts = [" ".join(row) for row in words[ids].tolist()]
        for a0 in range(0, len(parts), CHUNKS_PER_ARTICLE):
            a = (b0 + a0) // CHUNKS_PER_ARTICLE
            article_id = f"syn-{a}"
            start = 0
            for ordinal, part in enumerate(parts[a0 : a0 + CHUNKS_PER_ARTICLE]):
                # Chunk text is not written (the store keeps offsets into the article); an
                # empty string saves a second copy of every chunk at 1M chunks.
                rows.append(Chunk(article_id, ordinal, start, start + len(part), ""))
                start += len(part) + 1
            text = "\n".join(parts[a0 : a0 + CHUNKS_PER_ARTICLE])
            articles.append(
                Article(id=article_id, text=text, title=f"Artikel sintetis {a}", origin="bench")
            )
    bm25 = BM25Index(sparse.vstack(blocks, format="csc"), dict(voc.terms))
    del blocks
    vectors = clustered_vectors(n, dimension, seed=seed + 1)
    headlines = clustered_vectors(n_articles, dimension, seed=seed + 2)
    generated = time.perf_counter() - started
    with IndexWriter(index_dir, model, dimension) as writer:
        writer.add(SegmentData(articles, rows, vectors, headlines, bm25=bm25))
        writer.commit()
    return {
        "chunks": n,
        "articles": n_articles,
        "generate_s": round(generated, 1),
        "build_s": round(time.perf_counter() - started, 1),
    }
