"""POST /ask with the reader against /ask with the sentence builder, side by side.

    python -m bench --sections answers [--requests 150]

One synthetic index of 10,000 chunks (``bench.synthetic``) of 220 words, the size the chunker
makes (200-250 words; the reader's cost grows with the text it reads, so the latency
section's 120-word chunks would flatter it), is served four times by `newsqa serve` on
loopback: the reader in its default runtime (``auto``: OpenVINO, in bf16 where the CPU has
it), in torch fp32 (the default before), in ONNX int8 (``NEWSQA_READER_RUNTIME=onnx-int8``), and
``NEWSQA_ANSWER_MODE=sentences`` (the answer path before the reader: the most similar
sentences). One client asks the questions of eval/questions/corpus.jsonl of all four in turn,
one request in flight, after a warm-up, so all see the same machine load; the ratios of the
p50s are the figures to trust on a shared machine. The server's own ``timings_ms.read`` (the
reader's forward pass and span search) shows where the reader's time goes. Goal: reader /ask
p50 <= 400 ms.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

from bench.common import log, percentile, running_server
from bench.latency import questions
from bench.synthetic import build_index

GOAL_MS = 400
CHUNKS = 10_000
WORDS_PER_CHUNK = 220
MODES = ("reader", "reader-torch", "reader-int8", "sentences")
SERVER_ENV = {
    "reader": {"NEWSQA_ANSWER_MODE": "reader"},  # the default runtime
    "reader-torch": {"NEWSQA_ANSWER_MODE": "reader", "NEWSQA_READER_RUNTIME": "torch"},
    "reader-int8": {"NEWSQA_ANSWER_MODE": "reader", "NEWSQA_READER_RUNTIME": "onnx-int8"},
    "sentences": {"NEWSQA_ANSWER_MODE": "sentences"},
}


def run(requests: int = 150, warmup: int = 10, chunks: int = CHUNKS) -> dict:
    import httpx

    qs = questions()
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
        index_dir = Path(tmp) / "index"
        log(f"answers: building a synthetic index of {chunks:,} chunks of {WORDS_PER_CHUNK} words")
        built = build_index(index_dir, chunks, words_per_chunk=WORDS_PER_CHUNK)
        with contextlib.ExitStack() as servers:
            clients = {}
            for mode in MODES:
                url, _ = servers.enter_context(running_server(index_dir, **SERVER_ENV[mode]))
                clients[mode] = httpx.Client(base_url=url, timeout=120)
            times: dict[str, list[float]] = {m: [] for m in MODES}
            read_ms: list[float] = []
            answered = 0
            for i in range(warmup + requests):
                q = qs[i % len(qs)]
                for mode in MODES:
                    t0 = time.perf_counter()
                    response = clients[mode].post("/ask", json={"question": q})
                    elapsed = (time.perf_counter() - t0) * 1000
                    response.raise_for_status()
                    if i < warmup:
                        continue
                    times[mode].append(elapsed)
                    if mode == "reader":
                        body = response.json()
                        read_ms.append(body["timings_ms"].get("read", 0.0))
                        answered += not body["abstained"]
            for client in clients.values():
                client.close()
    out: dict = {
        "chunks": built["chunks"],
        "words_per_chunk": WORDS_PER_CHUNK,
        "requests": requests,
        "client": "1 in flight, modes in turn",
    }
    for mode in MODES:
        out[mode] = {
            "p50_ms": round(percentile(times[mode], 50), 1),
            "p99_ms": round(percentile(times[mode], 99), 1),
        }
    out["reader_read_p50_ms"] = round(percentile(read_ms, 50), 1)
    out["reader_answered"] = answered
    out["ratio"] = round(out["reader"]["p50_ms"] / out["sentences"]["p50_ms"], 2)
    out["default_to_torch"] = round(out["reader"]["p50_ms"] / out["reader-torch"]["p50_ms"], 2)
    out["int8_to_torch"] = round(out["reader-int8"]["p50_ms"] / out["reader-torch"]["p50_ms"], 2)
    out["goal"] = f"reader /ask p50 <= {GOAL_MS} ms"
    out["met"] = out["reader"]["p50_ms"] <= GOAL_MS
    return out


def table(r: dict) -> str:
    return "\n".join(
        [
            f"{r['chunks']:,} synthetic chunks of {r['words_per_chunk']} words, {r['requests']} "
            f"questions per mode ({r['client']}).",
            "",
            "| /ask | p50 ms | p99 ms |",
            "|---|---|---|",
            *(f"| {m} | {r[m]['p50_ms']:.0f} | {r[m]['p99_ms']:.0f} |" for m in MODES),
            "",
            f"Reader (default runtime) / sentences p50: **{r['ratio']:.2f}**; reader default / "
            f"torch fp32 p50: **{r['default_to_torch']:.2f}**; int8 / torch fp32: "
            f"**{r['int8_to_torch']:.2f}**; the default reader's own step (server "
            f"`timings_ms.read`) p50 {r['reader_read_p50_ms']:.0f} ms; {r['goal']}: "
            f"{'met' if r['met'] else 'NOT met'}.",
        ]
    )


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
