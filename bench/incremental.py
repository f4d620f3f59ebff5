"""Incremental update cost: seconds to add one article to an index of 1k and of 100k chunks.

    python -m bench.incremental [--small 1000] [--large 100000] [--repeats 5]

The base indexes are synthetic (random unit vectors, random words from the project corpus,
written straight as one segment), because embedding 100k real chunks would take hours here;
the article added is real and goes through the whole `newsqa index` path (read, clean, chunk,
embed, write a segment, commit). The goal is a large/small ratio of at most 1.5: the cost of an
update follows the change, not the corpus.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from indexer.documents import Article, Chunk
from indexer.embedder import Embedder
from indexer.pipeline import build_index
from indexer.store import IndexWriter, SegmentData

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "articles.jsonl"
WORDS_PER_CHUNK = 120
CHUNKS_PER_ARTICLE = 4


def synthetic_index(index_dir: Path, chunks: int, embedder: Embedder, seed: int = 0) -> None:
    """One segment of ``chunks`` random chunks (4 per article) with real-looking words."""
    rng = np.random.default_rng(seed)
    vocab = sorted({w for line in CORPUS.open() for w in json.loads(line)["text"].split()})
    articles, rows, tokens = [], [], []
    for a in range(chunks // CHUNKS_PER_ARTICLE):
        words = rng.choice(vocab, size=(CHUNKS_PER_ARTICLE, WORDS_PER_CHUNK))
        parts = [" ".join(w) for w in words]
        text = "\n".join(parts)
        article = Article(id=f"syn-{a}", text=text, title=f"Artikel sintetis {a}", origin="bench")
        articles.append(article)
        start = 0
        for ordinal, part in enumerate(parts):
            rows.append(Chunk(article.id, ordinal, start, start + len(part), part))
            tokens.append([w.lower() for w in part.split()])
            start += len(part) + 1
    vectors = rng.standard_normal((len(rows), embedder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    headlines = rng.standard_normal((len(articles), embedder.dimension)).astype(np.float32)
    headlines /= np.linalg.norm(headlines, axis=1, keepdims=True)
    with IndexWriter(index_dir, embedder.name, embedder.dimension) as writer:
        writer.add(SegmentData(articles, rows, vectors, headlines, tokens=tokens))
        writer.commit()


def add_one(index_dir: Path, embedder: Embedder, record: dict, name: str, work: Path) -> float:
    """Seconds for a `newsqa index NEW.jsonl` run adding one real article."""
    source = work / f"{name}.jsonl"
    source.write_text(json.dumps({**record, "id": name, "url": None}) + "\n")
    started = time.perf_counter()
    report = build_index([source], index_dir, embedder)
    assert report.added == 1, report
    return time.perf_counter() - started


def run(
    small: int = 1000,
    large: int = 100_000,
    repeats: int = 7,
    build: Callable[[Path, int, Embedder], object] | None = None,
) -> dict:
    """Both indexes get the same articles, alternately, so that drift in the machine's load
    hits both sides alike. ``build(index_dir, chunks, embedder)`` writes a base index
    (default ``synthetic_index``; the harness passes ``bench.synthetic``'s faster one)."""
    from newsqa.settings import get_settings
    from service.index_open import open_embedder

    embedder = open_embedder(get_settings())
    records = [json.loads(line) for line in CORPUS.open()][:repeats]
    embedder.embed_passages([r["text"] for r in records])  # warm-up
    sizes = {"small": small, "large": large}
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, size in sizes.items():
            started = time.perf_counter()
            (build or synthetic_index)(work / name, size, embedder)
            out[name] = {"chunks": size, "base_build_s": round(time.perf_counter() - started, 1)}
        times: dict[str, list[float]] = {name: [] for name in sizes}
        for i, record in enumerate(records):
            for name in sizes:
                times[name].append(add_one(work / name, embedder, record, f"new-{i}", work))
        for name in sizes:
            out[name]["add_one_s"] = [round(t, 3) for t in times[name]]
            out[name]["median_s"] = round(statistics.median(times[name]), 3)
    out["ratio"] = round(out["large"]["median_s"] / out["small"]["median_s"], 2)
    # each article goes to both indexes back to back: the median of the per-article ratios
    # cancels both the articles' different lengths and bursts of load on a shared machine
    pairs = [big / small for big, small in zip(times["large"], times["small"])]
    out["paired_ratios"] = [round(r, 2) for r in pairs]
    out["paired_ratio"] = round(statistics.median(pairs), 2)
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
