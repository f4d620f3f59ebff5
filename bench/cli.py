"""The `newsqa bench` / `python -m bench` command (imports nothing heavy until it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _sizes(option: str, value: str | None, count: int | None = None) -> tuple[int, ...] | None:
    """``"10000,100_000"`` as positive ints; a usage error (exit 2) naming ``option`` for
    anything else (a size of 0 failed a section after minutes with a ZeroDivisionError)."""
    if not value:
        return None
    try:
        sizes = tuple(int(v.replace("_", "")) for v in value.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1 or (count is not None and len(sizes) != count):
        wanted = f"{count} positive whole numbers" if count else "positive whole numbers"
        raise typer.BadParameter(f"{wanted}, comma-separated, not {value!r}", param_hint=option)
    return sizes


def bench(
    large: Annotated[
        bool, typer.Option("--large", help="Add the 1M-chunk cases (latency, FAISS).")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for latest.md and latest.json (default: bench/results)."),
    ] = None,
    sections: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated subset of: indexing, peer, latency, faiss, incremental, "
            "embedding, writes, answers, news, batch, real (default: all)."
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Small sizes: checks the harness in minutes.")
    ] = False,
    index_articles: Annotated[
        int | None, typer.Option(min=1, help="Section 1: detik articles to index (default 48).")
    ] = None,
    requests: Annotated[
        int | None,
        typer.Option(min=1, help="Sections 3, 8: requests per endpoint, size (default 150)."),
    ] = None,
    latency_sizes: Annotated[
        str | None, typer.Option(help="Section 3: index sizes, e.g. 10000,100000.")
    ] = None,
    faiss_sizes: Annotated[
        str | None, typer.Option(help="Section 4: vector counts, e.g. 100000.")
    ] = None,
    incremental_sizes: Annotated[
        str | None, typer.Option(help="Section 5: small,large base index, e.g. 1000,100000.")
    ] = None,
    embed_passages: Annotated[
        int | None, typer.Option(min=1, help="Section 6: passages per engine (default 48).")
    ] = None,
    peer_questions: Annotated[
        int | None,
        typer.Option(min=1, help="Section 2: first N facqa-valid questions (default all)."),
    ] = None,
    write_chunks: Annotated[
        int | None,
        typer.Option(min=1, help="Section 7: chunks written during queries (default 2000)."),
    ] = None,
    real_questions: Annotated[
        int | None,
        typer.Option(min=1, help="Section 11: first N questions of each set (default 100)."),
    ] = None,
) -> None:
    """Run the benchmarks side by side and write OUT/latest.md and OUT/latest.json."""
    from bench.run import SECTIONS, Options, run_bench

    given = {
        "large": large,
        "out": out,
        "quick": quick,
        "sections": tuple(s.strip() for s in sections.split(",")) if sections else SECTIONS,
        "index_articles": index_articles,
        "requests": requests,
        "latency_sizes": _sizes("--latency-sizes", latency_sizes),
        "faiss_sizes": _sizes("--faiss-sizes", faiss_sizes),
        "incremental_sizes": _sizes("--incremental-sizes", incremental_sizes, count=2),
        "embed_passages": embed_passages,
        "peer_questions": peer_questions,
        "write_chunks": write_chunks,
        "real_questions": real_questions,
    }
    options = Options(**{k: v for k, v in given.items() if v is not None})
    try:
        run_bench(options)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
