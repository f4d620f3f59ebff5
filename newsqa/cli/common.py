"""What every `newsqa` command shares: the typer apps, the consoles, the options, and how a
command fails (one line on stderr, never a traceback)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from pydantic import ValidationError
from rich.console import Console, ConsoleDimensions
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from typer.core import TyperGroup

from newsqa.errors import NewsqaError
from newsqa.settings import Settings, get_settings

if TYPE_CHECKING:
    pass


_log = logging.getLogger(__name__)
# The click exceptions typer raises: typer 0.2x vendors click as ``typer._click`` (its own
# classes, so ``click.UsageError`` catches none of them); older typer raises click's own.
_click_exceptions = sys.modules[typer.BadParameter.__module__]
_UsageError: type[Exception] = _click_exceptions.UsageError
_NoArgsIsHelpError: type[Exception] | None = getattr(_click_exceptions, "NoArgsIsHelpError", None)


# The exit statuses a shell gives a process its signal killed (128 + the signal), which is
# what a supervisor or a script expects of a stopped command; README lists them.
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141


class Terminated(BaseException):  # noqa: N818  (a signal, as KeyboardInterrupt is)
    """SIGTERM, raised in the main thread as Ctrl-C raises ``KeyboardInterrupt``: a
    ``BaseException`` so that no ``except Exception`` takes it for a failure, and every
    ``finally`` and ``with`` on the way out still runs (a half-written segment removed, the
    writer lock released)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM's default action ended `newsqa index` (or export, eval) at once, exit 143
    with no word and no clean-up: a log could not tell it from a crash. Only the main
    thread may set a handler (CliRunner in a thread leaves it alone); the previous one is
    put back, and `serve` replaces it with uvicorn's graceful shutdown while it runs."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _CleanErrors(TyperGroup):
    """Every command's expected failures (an index error, a file that cannot be read, a value
    that does not parse) end as one line on stderr and exit 1: a traceback is for bugs, and
    ``-v`` still logs it."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:  # `newsqa --bogus`: the top level's own options
            return super().make_context(info_name, args, parent, **extra)
        except _UsageError as exc:
            raise usage_error(exc) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _sigterm_unwinds():
                return super().invoke(ctx)
        except _UsageError as exc:  # a command, its options and arguments, as parsed
            raise usage_error(exc) from exc
        except KeyboardInterrupt:
            # Ctrl-C: typer exited 130 without a word, so a log or a script's stderr could not
            # tell an interrupted `newsqa index` (its index left at the last commit) from a
            # crash; one line says it, still exit 130 (128 + SIGINT) as shells expect
            err.print("interrupted", markup=False)
            raise typer.Exit(code=EXIT_INTERRUPTED) from None
        except Terminated:
            # SIGTERM (a supervisor, `kill`, `timeout`): unwound as Ctrl-C is, the index left
            # at its last commit, one line and 143 as a shell reports a process it killed
            err.print("terminated", markup=False)
            raise typer.Exit(code=EXIT_TERMINATED) from None
        except BrokenPipeError:
            # `newsqa export | head -1`: the reader has what it wanted. Stop quietly with the
            # status `cat` and `grep` get from SIGPIPE there (141): exit 1 read as a failure
            # the command never had, and the rest of a long export was for no one.
            quiet_stdout()
            raise typer.Exit(code=EXIT_BROKEN_PIPE) from None
        except ValidationError as exc:
            if exc.title != Settings.__name__:
                raise fail(exc) from exc
            # the variable the operator set, not the field behind it, nor pydantic's URL
            raise fail(ValueError(settings_problems(exc))) from exc
        except (NewsqaError, OSError, ValueError) as exc:
            _log.debug("%s failed", ctx.invoked_subcommand, exc_info=True)
            raise fail(exc) from exc


def settings_problems(exc: ValidationError) -> str:
    """``NEWSQA_RELOAD_INTERVAL='abc': Input should be a valid number, ...``, one per error."""
    return "; ".join(
        f"NEWSQA_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}"
        for e in exc.errors()
    )


def quiet_stdout() -> None:
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

    def on_broken_pipe(self) -> None:
        """Rich's own ends the process with exit 1 (a table or a search's results piped
        into `head`); the command's broken-pipe handling (_CleanErrors) decides instead."""
        self.quiet = True
        raise BrokenPipeError


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


def settings_for(index_dir: Path | None = None) -> Settings:
    settings = get_settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": index_dir})
    return settings


def fail(exc: Exception) -> typer.Exit:
    # One unwrapped line, never read as Rich markup: messages carry paths and brackets.
    err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
    return typer.Exit(code=1)


def usage_error(exc: Any) -> Exception:
    """A bad option, argument or command (a click ``UsageError``) as one ``error:`` line and
    exit 2, as README has it: typer drew a box of usage, hint and message over several lines.
    A command or group called without arguments (no_args_is_help) still prints its help."""
    if _NoArgsIsHelpError is not None and isinstance(exc, _NoArgsIsHelpError):
        return exc
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    err.print(Text.assemble(("error: ", "bold red"), exc.format_message(), hint), soft_wrap=True)
    return typer.Exit(code=exc.exit_code)


def print_json(text: str) -> None:
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
def main(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Debug logs on stderr, a failure's traceback too."),
    ] = False,
) -> None:
    _printable_stdout()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _printable_stdout() -> None:
    """On a stdout that cannot write every character (``LC_ALL=C`` with ``PYTHONUTF8=0``: ASCII)
    a character it lacks is printed as its escape (``\\U0001f30a``): a title with an emoji or
    an em dash in a table, an answer or a timeline ended the command with "'ascii' codec can't
    encode", exit 1, after part of the output. JSON and export write UTF-8 as they did."""
    stdout = sys.stdout
    if isinstance(stdout, io.TextIOWrapper) and stdout.encoding.lower() not in ("utf-8", "utf8"):
        stdout.reconfigure(errors="backslashreplace")
