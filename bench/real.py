"""/search and /ask on real question sets: quiet, beside a CPU hog, and where the time goes.

    python -m bench --sections real [--real-questions 100]

The synthetic latency section (3) asks short questions of the project's own set; users ask
longer ones. Here the real server answers the first ``questions`` questions of facqa-valid
(over facqa-passages) and of detik-summary-dev (one summary sentence each, over detik-2025),
one request at a time on loopback:

* **quiet:** GET /search (k=10) and POST /ask p50/p99;
* **busy:** the same requests while CPU-bound processes at nice 10, one per core, run beside
  the server (a batch job, a second service, the write worker on a shared machine). Quiet and
  busy alternate in two rounds, so drift on the machine hits both sides. The goal (issue 20)
  is busy /search p50 at most 2x quiet;
* **reader runtimes:** /ask with each ``NEWSQA_READER_RUNTIME`` worth comparing: torch fp32
  (as trained), ``openvino`` (f32, the default ``auto`` on a CPU without bf16 instructions),
  and on a CPU with them ``openvino-bf16`` (what ``auto`` runs there) and ``torch-bf16``;
  one server each over one index, each question to all;
* **length groups:** the reader's answer step with its windows in groups of about one length
  (the default) and in one pass padded to the longest (before), in this process;
* **stages:** the same questions in this process, with the retriever's and the reader's calls
  wrapped with timers (median ms per question);
* **query embedding against its FLOP bound:** ``embed_queries([q])`` per question, next to
  2 x (parameters outside the word embeddings) x tokens + the attention products, divided by
  the CPU's peak in the precision the question runs in (cores x clock x FLOP per cycle:
  ``flops_per_cycle``). Goal: at most 3x the bound.

The indexes are built once into ``var/bench-index/`` and reused while the corpus, the model
and the code's index format are the same (``eval.suite.ensure_index``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    DETIK,
    FACQA,
    FACQA_VALID,
    REPO,
    SHARED,
    accumulating,
    cpuinfo,
    log,
    percentile,
    running_server,
)

DETIK_DEV = SHARED / "eval" / "detik-summary-dev.jsonl"
SETS = {
    "facqa-valid": (FACQA, FACQA_VALID),
    "detik-summary-dev": (DETIK, DETIK_DEV),
}
ASK_GOAL_MS = {"facqa-valid": 150.0, "detik-summary-dev": 200.0}
BUSY_GOAL = 2.0
FLOP_GOAL = 3.0
_HOG = "import os\nos.nice(10)\nwhile True:\n    pass\n"


def _questions(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh][:n]


def flops_per_cycle(precision: str, cpu: dict[str, str]) -> int:
    """Peak FLOP per cycle per core. fp32: two FMA pipes x lanes x 2. The lanes are 16 where
    the pipes are 512 bits wide (Intel server cores with AVX-512; AMD from Zen 5, family 26,
    on these EPYCs), else 8 (AVX2, and Zen 4, whose AVX-512 runs on 256-bit halves). bf16
    dot products (vdpbf16ps) do two multiply-adds per fp32 lane: twice that."""
    flags = cpu.get("flags", "").split()
    family = int(cpu.get("cpu family", "0") or 0)
    amd = cpu.get("vendor_id") == "AuthenticAMD"
    wide = "avx512f" in flags and (not amd or family >= 26)
    fp32 = 2 * (16 if wide else 8) * 2
    return fp32 * (2 if precision == "bf16" else 1)


def cpu_peak_gflops(cores: int, precision: str = "fp32") -> tuple[float, int, float]:
    """(GHz, FLOP per cycle per core, peak GFLOP/s in ``precision``) at the clock
    /proc/cpuinfo reports (a VM's nominal clock; boost clocks would only lower the bound)."""
    cpu = cpuinfo()
    ghz = float(cpu.get("cpu MHz", 0)) / 1000
    per_cycle = flops_per_cycle(precision, cpu)
    return ghz, per_cycle, cores * ghz * per_cycle


def encoder_flops(config, tokens: int) -> float:  # type: ignore[no-untyped-def]
    """FLOPs of one forward pass over ``tokens`` tokens: every weight matrix once per token
    (2 FLOPs a multiply-add), plus the attention scores and their weighted sum."""
    d, ff, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_token_layer = 4 * d * d + 2 * d * ff  # Q, K, V, output projections; the two FFN matrices
    attention = 2 * tokens * d  # q.k for every key, and the weighted sum of values
    return 2.0 * layers * tokens * (per_token_layer + attention)


class Hog:
    """CPU-bound processes at nice 10, one per core, until closed."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Hog:
        self.procs = [subprocess.Popen([sys.executable, "-c", _HOG]) for _ in range(self.processes)]
        time.sleep(0.5)  # let the scheduler see them
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


def _timed_requests(call: Callable[[str], None], qs: list[str]) -> list[float]:
    times = []
    for q in qs:
        t0 = time.perf_counter()
        call(q)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _p(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 50), 1), "p99_ms": round(percentile(values, 99), 1)}


def serve_and_time(index_dir: Path, qs: list[str], cores: int) -> dict:
    """Quiet and busy /search and /ask over HTTP, alternating in two rounds."""
    import httpx

    with running_server(index_dir) as (url, _pid):
        client = httpx.Client(base_url=url, timeout=300)

        def search(q: str) -> None:
            client.get("/search", params={"q": q, "k": 10}).raise_for_status()

        def ask(q: str) -> None:
            client.post("/ask", json={"question": q}).raise_for_status()

        for q in qs[:5]:  # warm-up
            search(q)
            ask(q)
        times: dict[str, list[float]] = defaultdict(list)
        halves = [qs[: len(qs) // 2], qs[len(qs) // 2 :]]
        for part in halves:
            for state in ("quiet", "busy"):
                if state == "busy":
                    with Hog(cores):
                        times["busy search"] += _timed_requests(search, part)
                        times["busy ask"] += _timed_requests(ask, part)
                else:
                    times["quiet search"] += _timed_requests(search, part)
                    times["quiet ask"] += _timed_requests(ask, part)
        client.close()
    return {name: _p(values) for name, values in times.items()}


def reader_runtimes_side_by_side(index_dir: Path, qs: list[str], runtimes: list[str]) -> dict:
    """POST /ask p50 with each reader runtime, one server each over one index, each question
    to one after the other; each runtime's p50 over torch fp32's."""
    import httpx

    times: dict[str, list[float]] = {runtime: [] for runtime in runtimes}
    with contextlib.ExitStack() as stack:
        clients = {}
        for runtime in runtimes:
            url, _ = stack.enter_context(running_server(index_dir, NEWSQA_READER_RUNTIME=runtime))
            clients[runtime] = stack.enter_context(httpx.Client(base_url=url, timeout=300))
        for i, q in enumerate(qs[:5] + qs):
            for runtime, client in clients.items():
                t0 = time.perf_counter()
                client.post("/ask", json={"question": q}).raise_for_status()
                if i >= 5:  # the first five warm up
                    times[runtime].append((time.perf_counter() - t0) * 1000)
    out = {runtime: _p(values) for runtime, values in times.items()}
    for runtime in runtimes:
        out[runtime]["over_torch"] = round(out[runtime]["p50_ms"] / out["torch"]["p50_ms"], 2)
    return out


def stages(components, qs: list[str]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median ms per question of each stage of /ask, in this process (timers wrapped around
    the retriever's and the reader's calls, then removed)."""
    from service.qa import answer_question

    c = components
    spent: dict[str, float] = defaultdict(float)
    wrapped = [
        (c.embedder, "embed_queries", "embed question"),
        (c.store.backend, "search", "dense search"),
        (c.store.bm25, "top", "BM25 candidates"),
        (c.retriever, "_rank", "fusion of the candidates"),
    ]
    reader = getattr(c.answerer, "reader", None)
    if reader is not None:
        wrapped += [
            (reader, "encode", "reader: question + passage windows (tokenize)"),
            (reader, "forward", "reader: forward pass"),  # an instance attribute: restored below
        ]
    own = [obj.__dict__.get(name) for obj, name, _ in wrapped]
    for obj, name, label in wrapped:
        setattr(obj, name, accumulating(getattr(obj, name), spent, label))
    per: dict[str, list[float]] = defaultdict(list)
    try:
        for q in qs:
            spent.clear()
            t0 = time.perf_counter()
            answer_question(c, q, k=5, filters=None)
            total = time.perf_counter() - t0
            for _, _, label in wrapped:
                per[label].append(spent.get(label, 0.0))
            per["rest (spans, types, composition)"].append(total - sum(spent.values()))
            per["total"].append(total)
    finally:
        for (obj, name, _), before in zip(wrapped, own):
            if before is None:
                delattr(obj, name)  # the class's method shows through again
            else:
                setattr(obj, name, before)
    return {k: round(percentile(v, 50) * 1000, 2) for k, v in per.items()}


def length_groups_side_by_side(components, qs: list[str]) -> dict:  # type: ignore[no-untyped-def]
    """The reader's answer step with its windows read in length groups (the default,
    ``indexer.reader.runtime.forward_by_length``) against one pass padded to the longest
    window (``length_fill = 0``, before): the same retrieved articles, both in turn for each
    question, which one first alternating. The short answers must not move."""
    reader = components.answerer.reader
    fills = {"length groups": reader.length_fill, "one padded pass": 0.0}
    times: dict[str, list[float]] = {name: [] for name in fills}
    same = 0
    try:
        for i, q in enumerate(qs):
            hits = components.retriever.retrieve(q, k=5, filters=None)
            found = {}
            for name in list(fills)[:: 1 if i % 2 else -1]:
                reader.length_fill = fills[name]
                t0 = time.perf_counter()
                answer = components.answerer.answer(q, hits)
                times[name].append(time.perf_counter() - t0)
                found[name] = [(s.text, s.char_start) for s in answer.short_answers]
            same += len({tuple(v) for v in found.values()}) == 1
    finally:
        reader.length_fill = fills["length groups"]
    p50 = {name: percentile(v, 50) * 1000 for name, v in times.items()}
    return {
        "grouped_p50_ms": round(p50["length groups"], 1),
        "one_pass_p50_ms": round(p50["one padded pass"], 1),
        "ratio": round(p50["length groups"] / p50["one padded pass"], 2),
        "same_answers": same,
        "questions": len(qs),
    }


def query_embedding(embedder, qs: list[str], cores: int) -> dict:  # type: ignore[no-untyped-def]
    """Batch-1 query embedding time against the FLOP-bound time of the same tokens."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(embedder.path)
    tokenizer = embedder.tokenizer
    prefix = embedder.prompts.get("query", "")
    runner = _runner(embedder)
    precision = "bf16" if runner.endswith("bf16") else "fp32"
    ghz, per_cycle, peak = cpu_peak_gflops(cores, precision)
    ratios, times, tokens = [], [], []
    for q in qs:
        n = len(tokenizer(prefix + q)["input_ids"])
        t0 = time.perf_counter()
        embedder.embed_queries([q])
        seconds = time.perf_counter() - t0
        bound = encoder_flops(config, n) / (peak * 1e9)
        times.append(seconds * 1000)
        tokens.append(n)
        ratios.append(seconds / bound)
    median_tokens = int(percentile(tokens, 50))
    return {
        "backend": runner,
        "precision": precision,
        "tokens_p50": median_tokens,
        "gflop_at_p50_tokens": round(encoder_flops(config, median_tokens) / 1e9, 3),
        "cpu_ghz": round(ghz, 2),
        "flops_per_cycle": per_cycle,
        "peak_gflops": round(peak, 1),
        "time_p50_ms": round(percentile(times, 50), 2),
        "over_bound_p50": round(percentile(ratios, 50), 2),
        "goal": FLOP_GOAL,
        "met": percentile(ratios, 50) <= FLOP_GOAL,
    }


def _runner(embedder) -> str:  # type: ignore[no-untyped-def]
    from indexer.encoder_onnx import OpenVinoEncoder

    if embedder.onnx is None:
        return "torch"
    if isinstance(embedder.onnx, OpenVinoEncoder):
        return f"OpenVINO {embedder.onnx.precision}"
    return "ONNX Runtime"


def run(questions: int = 100) -> dict:
    from eval.suite import ensure_index
    from indexer.embedder import cpu_supports_bf16
    from indexer.reader.runtime import resolve
    from newsqa.settings import Settings
    from service.index_open import open_embedder
    from service.qa import build_components

    cores = os.cpu_count() or 1
    settings = Settings(embed_cache_size=0)  # the same questions are asked several times
    embedder = open_embedder(settings)
    out: dict = {
        "questions_per_set": questions,
        "hog_processes": cores,
        "reader_default": resolve("auto"),
        "sets": {},
    }
    for name, (corpus, question_file) in SETS.items():
        index_dir = REPO / "var" / "bench-index" / corpus.stem
        log(f"real: index of {corpus.name} in {index_dir}")
        ensure_index([corpus], index_dir, settings, embedder).close()
        qs = _questions(question_file, questions)
        log(f"real: {name}: {len(qs)} questions, quiet and busy over HTTP")
        r = serve_and_time(index_dir, qs, cores)
        r["busy_over_quiet_search"] = round(
            r["busy search"]["p50_ms"] / r["quiet search"]["p50_ms"], 2
        )
        r["busy_over_quiet_ask"] = round(r["busy ask"]["p50_ms"] / r["quiet ask"]["p50_ms"], 2)
        r["ask_goal_ms"] = ASK_GOAL_MS[name]
        runtimes = ["torch", "openvino"]
        if cpu_supports_bf16():
            runtimes += ["openvino-bf16", "torch-bf16"]
        log(f"real: {name}: /ask with the reader runtimes {runtimes}, side by side")
        r["reader_runtimes"] = reader_runtimes_side_by_side(index_dir, qs, runtimes)
        log(f"real: {name}: stages in process")
        c = build_components(settings.model_copy(update={"index_dir": index_dir}), embedder)
        r["stages_ms"] = stages(c, qs)
        if getattr(c.answerer, "reader", None) is not None:
            log(f"real: {name}: the reader's windows in length groups and in one pass")
            r["length_groups"] = length_groups_side_by_side(c, qs)
        if name == "detik-summary-dev":
            out["query_embedding"] = query_embedding(embedder, qs, cores)
        c.store.close()
        out["sets"][name] = r
    return out


def table(r: dict) -> str:
    lines = [
        f"First {r['questions_per_set']} questions of each set, one request at a time; busy: "
        f"{r['hog_processes']} CPU-bound processes at nice 10 beside the server.",
        "",
        "| set | /search p50 / p99 quiet | busy | /ask p50 / p99 quiet | busy | "
        "busy ÷ quiet (/search, /ask) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in r["sets"].items():
        cells = [
            f"{s[k]['p50_ms']} / {s[k]['p99_ms']} ms"
            for k in ("quiet search", "busy search", "quiet ask", "busy ask")
        ]
        lines.append(
            f"| {name} | {' | '.join(cells)} | "
            f"{s['busy_over_quiet_search']}, {s['busy_over_quiet_ask']} |"
        )
    names = list(r["sets"])
    runtimes = list(r["sets"][names[0]].get("reader_runtimes", {}))
    if runtimes:
        lines += [
            "",
            "/ask by reader runtime (`NEWSQA_READER_RUNTIME`; the default `auto` runs "
            f"`{r.get('reader_default', 'openvino')}` here), one "
            "server each, each question to all: p50 / p99, and p50 ÷ torch fp32's:",
            "",
            f"| runtime | {' | '.join(names)} |",
            "|---|" + "---|" * len(names),
        ]
        for runtime in runtimes:
            cells = []
            for n in names:
                t = r["sets"][n]["reader_runtimes"][runtime]
                cells.append(f"{t['p50_ms']} / {t['p99_ms']} ms ({t['over_torch']})")
            lines.append(f"| {runtime} | {' | '.join(cells)} |")
    grouped = {n: s["length_groups"] for n, s in r["sets"].items() if "length_groups" in s}
    if grouped:
        lines += [
            "",
            "The reader's answer step in process, its windows in length groups (the default) "
            "and in one pass padded to the longest (before), each question both ways in turn:",
            "",
            "| set | length groups p50 | one padded pass p50 | ratio | same short answers |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {n} | {g['grouped_p50_ms']} ms | {g['one_pass_p50_ms']} ms | {g['ratio']} | "
            f"{g['same_answers']} of {g['questions']} |"
            for n, g in grouped.items()
        ]
    lines += ["", "Stages of /ask in process (median ms per question):", ""]
    lines += [f"| stage | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
    for stage in r["sets"][names[0]]["stages_ms"]:
        lines.append(
            f"| {stage} | "
            + " | ".join(str(r["sets"][n]["stages_ms"].get(stage, "")) for n in names)
            + " |"
        )
    q = r.get("query_embedding")
    if q:
        lines += [
            "",
            f"Query embedding at batch 1 ({q['backend']}): p50 {q['time_p50_ms']} ms for "
            f"{q['tokens_p50']} tokens ({q['gflop_at_p50_tokens']} GFLOP); {q['precision']} peak "
            f"{q['peak_gflops']} GFLOP/s ({q['cpu_ghz']} GHz x "
            f"{q['flops_per_cycle']} FLOP/cycle x cores): "
            f"each question's time ÷ its own FLOP-bound time, median **{q['over_bound_p50']}x** "
            f"(not the p50 time ÷ the bound at p50 tokens; goal <= {q['goal']}).",
        ]
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m bench.real`: this section alone, as the others
    print(json.dumps(run(), indent=2))
