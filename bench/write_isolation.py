"""/search latency while the server writes 2,000 chunks, against the same server idle.

    python -m bench --sections writes [--write-chunks 2000]

The real `newsqa serve` over an index of the project corpus, on loopback, with writes enabled.
One client sends GET /search requests one after another (questions from
eval/questions/corpus.jsonl, a pause of 50 ms between them, as a person or a page would):
first with the server idle, then while another client POSTs real detik-2025 articles
totalling ``chunks`` chunks in one request, then idle again. The goal (issue 16) is /search
p50 during the write at most twice the idle p50: writes run in a niced worker process with
its own thread budget (``service.write_worker``), not on the query path's model thread.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path

from bench.common import DETIK, QUESTIONS, REPO, embedder, log, percentile, running_server

GOAL_RATIO = 2.0
TOKEN = "bench-admin-token"


def articles_for(chunks: int) -> tuple[list[dict], int]:
    """Real detik articles, in file order, until their chunks reach ``chunks``."""
    from indexer.chunking import Chunker
    from indexer.sources import article_from_record

    chunker = Chunker()
    picked, total, seen = [], 0, set()
    for line in DETIK.open(encoding="utf-8"):
        record = json.loads(line)
        if record["url"] in seen:  # a repeated row would be a duplicate, not a write
            continue
        seen.add(record["url"])
        picked.append({**record, "id": f"bench-{record['id']}"})
        total += len(chunker.split(article_from_record(record, "bench")))
        if total >= chunks:
            break
    return picked, total


def _searches(client, questions: list[str], until: threading.Event | None, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds of GET /search, one after another: ``n`` requests, or while ``until`` is
    not set (at most 2,000)."""
    times: list[float] = []
    i = 0
    while (len(times) < n) if until is None else (not until.is_set() and len(times) < 2000):
        q = questions[i % len(questions)]
        i += 1
        started = time.perf_counter()
        response = client.get("/search", params={"q": q, "k": 10})
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        time.sleep(0.05)
    return times


def run(chunks: int = 2000, idle_requests: int = 100) -> dict:
    import httpx

    from indexer.pipeline import build_index

    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    batch, batch_chunks = articles_for(chunks)
    body = json.dumps(batch, ensure_ascii=False).encode()
    log(f"writes: {len(batch)} detik articles, {batch_chunks} chunks, {len(body) / 2**20:.1f} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        build_index([REPO / "corpus"], index_dir, embedder())
        env = {"NEWSQA_ADMIN_TOKEN": TOKEN, "NEWSQA_MAX_BODY_BYTES": str(len(body) + 1024)}
        with running_server(index_dir, **env) as (url, _pid):
            client = httpx.Client(base_url=url, timeout=600)
            writer = httpx.Client(base_url=url, timeout=3600)
            _searches(client, questions, None, 20)  # warm-up
            # A tiny write first: the worker process starts and loads its model (seconds),
            # which is a one-off cost, not what a running server pays per write.
            warm = {"id": "bench-warm-up", "text": "Artikel pemanasan untuk proses penulis."}
            headers = {"Authorization": f"Bearer {TOKEN}"}
            writer.post("/articles", json=warm, headers=headers).raise_for_status()
            idle_before = _searches(client, questions, None, idle_requests)

            done = threading.Event()
            outcome: dict = {}

            def write() -> None:
                started = time.perf_counter()
                try:
                    response = writer.post(
                        "/articles",
                        content=body,
                        headers={**headers, "content-type": "application/json"},
                    )
                    outcome["status"] = response.status_code
                    outcome["result"] = response.json()
                finally:
                    outcome["seconds"] = time.perf_counter() - started
                    done.set()

            thread = threading.Thread(target=write)
            thread.start()
            during = _searches(client, questions, done, 0)
            thread.join()
            idle_after = _searches(client, questions, None, idle_requests)
    idle = idle_before + idle_after
    ratio = percentile(during, 50) / percentile(idle, 50)
    result = {
        "articles": len(batch),
        "chunks": batch_chunks,
        "write_status": outcome.get("status"),
        "write_seconds": round(outcome.get("seconds", 0.0), 1),
        "chunks_embedded": (outcome.get("result") or {}).get("chunks"),
        "idle_p50_ms": round(percentile(idle, 50), 1),
        "idle_p99_ms": round(percentile(idle, 99), 1),
        "during_p50_ms": round(percentile(during, 50), 1),
        "during_p99_ms": round(percentile(during, 99), 1),
        "during_requests": len(during),
        "ratio_p50": round(ratio, 2),
        "goal": GOAL_RATIO,
        "met": ratio <= GOAL_RATIO and outcome.get("status") == 201,
    }
    log(f"writes: {result}")
    return result


def table(r: dict) -> str:
    return "\n".join(
        [
            "| /search | p50 ms | p99 ms | requests |",
            "|---|---|---|---|",
            f"| idle (before and after) | {r['idle_p50_ms']} | {r['idle_p99_ms']} | |",
            f"| during a {r['chunks']:,}-chunk write ({r['write_seconds']} s) "
            f"| {r['during_p50_ms']} | {r['during_p99_ms']} | {r['during_requests']} |",
            "",
            f"p50 during ÷ idle: **{r['ratio_p50']}** (goal <= {r['goal']}).",
        ]
    )


if __name__ == "__main__":
    print(table(run()))
