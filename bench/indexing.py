"""Indexing throughput: end-to-end `newsqa index` against the bare embedder, on the same chunks.

    python -m bench --sections indexing [--index-articles 60]

The corpus is the first ``articles`` detik-2025 articles. The chunks are the ones
``build_index`` makes (read, clean, deduplicate, ``Chunker``, ``searchable_text``), and the
bare figure is ``Embedder.embed_passages`` on exactly those texts, so the ratio says how much
the rest of the pipeline (reading, headlines, BM25 analysis, writing the segment) costs on
top of the model. Both run alternately (A B A B) and the best of each counts, which keeps
other jobs on the machine from deciding the ratio.

Also measured here, on the same chunks: fp32 against bf16 autocast; batching by length (the
embedder's batch size with sentence-transformers' own length sorting inside one call, against
batches taken in document order without it); torch threads.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from bench.common import DETIK, accumulating, best_of, embedder, log, paired_ratio

GOAL_RATIO = 0.9


def prepare(corpus: Path) -> tuple[list[str], dict[str, float]]:
    """The chunk texts ``build_index`` embeds for ``corpus``, and seconds per stage."""
    from indexer.chunking import Chunker
    from indexer.dedup import dedupe
    from indexer.documents import SkippedRecord, searchable_text
    from indexer.sources import read_articles

    t0 = time.perf_counter()
    articles = [a for a in read_articles([corpus]) if not isinstance(a, SkippedRecord)]
    kept = dedupe(articles).kept
    t1 = time.perf_counter()
    chunker = Chunker()
    chunks = [c for a in kept for c in chunker.split(a)]
    titles = {a.id: a.title for a in kept}
    texts = [searchable_text(titles[c.article_id], c.text) for c in chunks]
    t2 = time.perf_counter()
    return texts, {"read_clean_dedupe_s": t1 - t0, "chunk_s": t2 - t1}


@contextmanager
def stage_timer(spent: dict[str, float]):  # type: ignore[no-untyped-def]
    """Time the stages of ``indexer.pipeline.build_index`` by wrapping what it calls (the
    module's own names and the writer's methods); restored on exit."""
    import indexer.pipeline as pipeline
    from indexer.chunking import Chunker
    from indexer.store import IndexWriter

    def wrap(name: str, fn: Callable) -> Callable:
        return accumulating(fn, spent, name)

    read = pipeline.read_articles
    originals = {
        # a generator: materialise it, or only its creation would be timed
        "read_articles": lambda paths: list(read(paths)),
        "dedupe": pipeline.dedupe,
        "embed_chunks": pipeline.embed_chunks,
        "embed_headlines": pipeline.embed_headlines,
        "analyze": pipeline.analyze,
    }
    writer_methods = {"add": IndexWriter.add, "commit": IndexWriter.commit}
    split = Chunker.split
    try:
        for name, fn in originals.items():
            setattr(pipeline, name, wrap(name, fn))
        Chunker.split = wrap("chunk", split)  # type: ignore[method-assign]
        IndexWriter.add = wrap("write_segment", writer_methods["add"])  # type: ignore[method-assign]
        IndexWriter.commit = wrap("commit", writer_methods["commit"])  # type: ignore[method-assign]
        yield spent
    finally:
        for name, fn in originals.items():
            setattr(pipeline, name, fn)
        pipeline.read_articles = read
        Chunker.split = split  # type: ignore[method-assign]
        IndexWriter.add = writer_methods["add"]  # type: ignore[method-assign]
        IndexWriter.commit = writer_methods["commit"]  # type: ignore[method-assign]


def run(
    articles: int = 48,
    repeats: int = 3,
    batch_texts: int = 64,
    batch_sizes: tuple[int, ...] = (8, 16, 32),
    thread_texts: int = 48,
) -> dict:
    import torch

    from indexer.openmp import on_openmp_thread
    from indexer.pipeline import build_index

    emb = embedder()  # the product's defaults: precision auto, NEWSQA_EMBED_BATCH_SIZE
    default_batch = emb.batch_size
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
        work = Path(tmp)
        corpus = work / "detik-subset.jsonl"
        with DETIK.open(encoding="utf-8") as src, corpus.open("w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if i == articles:
                    break
                dst.write(line)
        texts, prep = prepare(corpus)
        log(f"indexing: {articles} articles -> {len(texts)} chunks")
        emb.embed_passages(texts[:16])  # warm-up

        profiles: list[dict[str, float]] = []
        reports = []

        def end_to_end() -> None:
            spent: dict[str, float] = defaultdict(float)
            with stage_timer(spent):
                report = build_index([corpus], work / f"index-{len(reports)}", emb)
            reports.append(report)
            profiles.append(dict(spent))

        times = best_of(
            {"bare": lambda: emb.embed_passages(texts), "end_to_end": end_to_end}, repeats
        )
        chunks = reports[0].chunks
        assert chunks == len(texts), (chunks, len(texts))
        bare_rate = len(texts) / min(times["bare"])
        e2e_rate = chunks / min(times["end_to_end"])
        # same chunks on both sides: e2e chunks/s / bare chunks/s = bare s / e2e s
        ratio, ratios = paired_ratio(times, "bare", "end_to_end")
        fastest = min(range(len(profiles)), key=lambda i: times["end_to_end"][i])
        profile = {k: round(v, 2) for k, v in profiles[fastest].items()}
        profile["total_s"] = round(times["end_to_end"][fastest], 2)
        # what the pipeline spends around the timed calls (content hashes, list building)
        profile["other_s"] = round(
            profile["total_s"] - sum(v for k, v in profile.items() if k != "total_s"), 2
        )

        # fp32 against bf16 autocast on the same chunks
        log("indexing: fp32 vs bf16")
        fp32 = embedder("fp32")
        bf16 = embedder("bf16")
        fp32.embed_passages(texts[:8])
        bf16.embed_passages(texts[:8])
        precision_times = best_of(
            {
                "fp32": lambda: fp32.embed_passages(texts),
                "bf16": lambda: bf16.embed_passages(texts),
            },
            2,
        )
        precision = {k: round(len(texts) / min(v), 2) for k, v in precision_times.items()}
        bf16_gain, _ = paired_ratio(precision_times, "fp32", "bf16")

        # batching by length, on one model: sentence-transformers sorts the texts of one
        # encode() call by length, so one call over many chunks pads each batch only to its
        # own longest text; one call per batch in document order pads to whatever comes.
        log("indexing: batching by length")
        sample = texts[:batch_texts]
        batching: dict[str, dict[str, float]] = {}
        fns: dict[str, Callable[[], object]] = {}
        for bs in batch_sizes:

            def sorted_call(bs: int = bs) -> None:
                emb.batch_size = bs
                emb.embed_passages(sample)

            def in_order(bs: int = bs) -> None:
                emb.batch_size = bs
                for start in range(0, len(sample), bs):
                    emb.embed_passages(sample[start : start + bs])

            fns[f"{bs}/sorted"] = sorted_call
            fns[f"{bs}/in order"] = in_order
        for name, seconds in best_of(fns, 2).items():
            bs, mode = name.split("/")
            batching.setdefault(bs, {})[mode] = round(len(sample) / min(seconds), 2)
        emb.batch_size = default_batch
        best_batch = max(batching, key=lambda bs: batching[bs]["sorted"])

        # torch threads (intra-op) on the same model
        log("indexing: torch threads")
        # set where the model runs: each thread keeps its own OpenMP thread count
        cores = on_openmp_thread(torch.get_num_threads)
        subset = texts[:thread_texts]

        def with_threads(threads: int) -> Callable[[], object]:
            def embed() -> None:
                on_openmp_thread(torch.set_num_threads, threads)
                emb.embed_passages(subset)

            return embed

        thread_times = best_of({str(t): with_threads(t) for t in sorted({1, cores})}, 2)
        thread_rates = {t: round(len(subset) / min(v), 2) for t, v in thread_times.items()}
        on_openmp_thread(torch.set_num_threads, cores)

    tokens = _token_stats(emb, texts)
    return {
        "articles": articles,
        "chunks": len(texts),
        "tokens_per_chunk": tokens,
        "precision": emb.precision,
        "batch_size": default_batch,
        "bare_chunks_per_s": round(bare_rate, 2),
        "end_to_end_chunks_per_s": round(e2e_rate, 2),
        "ratio": round(ratio, 3),
        "ratio_per_round": ratios,
        "goal": f">= {GOAL_RATIO}",
        "met": ratio >= GOAL_RATIO,
        "seconds": {k: [round(t, 2) for t in v] for k, v in times.items()},
        "profile_s": {**{k: round(v, 3) for k, v in prep.items()}, "build_index": profile},
        "precision_chunks_per_s": precision,
        "bf16_over_fp32": round(bf16_gain, 2),
        "batching_chunks_per_s": batching,
        "batching_texts": len(sample),
        "best_batch_size": int(best_batch),
        "threads_chunks_per_s": thread_rates,
    }


def _token_stats(emb, texts: list[str]) -> dict:  # type: ignore[no-untyped-def]
    """Tokens per chunk (with the passage prompt): how near the model's 512 limit they are."""
    import numpy as np

    prefix = emb.prompts.get("passage", "")
    lengths = np.array(
        [len(ids) for ids in emb.tokenizer([prefix + t for t in texts])["input_ids"]]
    )
    return {
        "mean": round(float(lengths.mean()), 1),
        "p50": int(np.percentile(lengths, 50)),
        "max": int(lengths.max()),
        "over_limit": int((lengths > emb.max_tokens).sum()),
        "limit": emb.max_tokens,
    }


def table(r: dict) -> str:
    p = r["profile_s"]["build_index"]
    rows = [
        "| measure | value |",
        "|---|---|",
        f"| corpus | first {r['articles']} detik-2025 articles, {r['chunks']} chunks, "
        f"{r['tokens_per_chunk']['mean']:.0f} tokens/chunk (max {r['tokens_per_chunk']['max']}"
        f" of {r['tokens_per_chunk']['limit']}) |",
        f"| bare `embed_passages` ({r['precision']}, batch {r['batch_size']}) | "
        f"{r['bare_chunks_per_s']:.1f} chunks/s |",
        f"| end-to-end `build_index` (= `newsqa index`) | "
        f"{r['end_to_end_chunks_per_s']:.1f} chunks/s |",
        f"| ratio end-to-end / bare, median of {len(r['ratio_per_round'])} paired rounds "
        f"(goal {r['goal']}) | **{r['ratio']:.2f}** "
        f"({', '.join(map(str, r['ratio_per_round']))}) |",
        "| where end-to-end time goes (s) | "
        + ", ".join(f"{k.removesuffix('_s')} {v:.2f}" for k, v in p.items())
        + " |",
        f"| fp32 / bf16 chunks/s | {r['precision_chunks_per_s']['fp32']:.1f} / "
        f"{r['precision_chunks_per_s']['bf16']:.1f} (bf16 x{r['bf16_over_fp32']:.2f}) |",
    ]
    for bs, v in r["batching_chunks_per_s"].items():
        rows.append(
            f"| batch {bs}: length-sorted / document order ({r['batching_texts']} chunks) | "
            f"{v['sorted']:.1f} / {v['in order']:.1f} chunks/s |"
        )
    rows.append(
        "| torch threads | "
        + ", ".join(f"{t}: {v:.1f} chunks/s" for t, v in r["threads_chunks_per_s"].items())
        + " |"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    result = run()
    print(json.dumps(result, indent=2))
    print(table(result))
