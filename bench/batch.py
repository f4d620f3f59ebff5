"""POST /ask/batch against as many POST /ask requests: the same answers, in less time?

    python -m bench --sections batch

The real server over an index of ``corpus/``; the first 64 questions of the project's own set
(``eval/questions/corpus.jsonl``). Each round sends the 64 questions one request at a time,
then once as one batch (alternating, so that both sides see the same machine load); the
ratio is total single-request time over batch time, per round. Every batch answer is compared
with the single request's: answer text, abstention, short answers and cited spans.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import REPO, log, running_server

QUESTIONS = REPO / "eval" / "questions" / "corpus.jsonl"


def _same(a: dict, b: dict) -> bool:
    def key(r: dict) -> tuple:
        cited = [(c["article_id"], c["char_start"], c["char_end"]) for c in r["citations"]]
        return r["answer"], r["abstained"], [s["text"] for s in r["short_answers"]], cited

    return key(a) == key(b)


def run(questions: int = 64, rounds: int = 3) -> dict:
    import httpx

    from indexer.pipeline import build_index
    from newsqa.settings import Settings
    from service.index_open import open_embedder

    asked = [json.loads(line)["question"] for line in QUESTIONS.open()][:questions]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        build_index([REPO / "corpus"], index_dir, open_embedder(Settings()))
        with running_server(index_dir) as (url, _):
            client = httpx.Client(base_url=url, timeout=600)
            client.post("/ask", json={"question": asked[0]})  # warm up
            single_s, batch_s, mismatched = [], [], set()
            for r in range(rounds):
                log(f"batch: round {r + 1}/{rounds}, {len(asked)} questions")
                t0 = time.perf_counter()
                singles = [client.post("/ask", json={"question": q}).json() for q in asked]
                single_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                batch = client.post("/ask/batch", json={"questions": asked}).json()["answers"]
                batch_s.append(time.perf_counter() - t0)
                mismatched |= {q for q, a, b in zip(asked, singles, batch) if not _same(a, b)}
    ratios = [s / b for s, b in zip(single_s, batch_s)]
    return {
        "questions": len(asked),
        "rounds": rounds,
        "single_s": [round(s, 2) for s in single_s],
        "batch_s": [round(s, 2) for s in batch_s],
        "single_over_batch": round(statistics.median(ratios), 2),
        "same_answers": len(asked) - len(mismatched),
        "mismatched": sorted(mismatched),
    }


def table(r: dict) -> str:
    return "\n".join(
        [
            f"{r['questions']} questions of eval/questions/corpus.jsonl over corpus/, "
            f"{r['rounds']} alternating rounds.",
            "",
            "| | seconds per round |",
            "|---|---|",
            f"| {r['questions']} × POST /ask | {', '.join(map(str, r['single_s']))} |",
            f"| 1 × POST /ask/batch | {', '.join(map(str, r['batch_s']))} |",
            "",
            f"Single requests ÷ batch: **{r['single_over_batch']:.2f}** (median of rounds). "
            f"Same answers: {r['same_answers']} of {r['questions']}.",
        ]
    )


if __name__ == "__main__":  # `python -m bench.batch`: this section alone, as the others
    print(json.dumps(run(), indent=2))
