"""`newsqa ask`, `search` and `timeline`: questions and queries from the command line, with the
filters of the HTTP API."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from newsqa.errors import NewsqaError

if TYPE_CHECKING:
    from newsqa.api import Index
    from service.retrieval import ArticleHit, Filters

from newsqa.cli.common import (
    IndexDir,
    JsonOutput,
    app,
    console,
    err,
    fail,
    print_json,
    settings_for,
)

ArticlesK = Annotated[
    int | None, typer.Option(min=1, max=50, help="Articles to retrieve (NEWSQA_DEFAULT_K).")
]


def _iso_bound(end: bool) -> Callable[[str], datetime]:
    """A parser of ``--from`` (``end`` False) or ``--to``: a day alone means its first or its
    last moment, so ``--to 2023-02-06`` keeps that day's articles. No offset: Jakarta time,
    as for the corpus."""

    def parse(value: str) -> datetime:
        from indexer.dates import day_bound

        try:
            return day_bound(value, end) or datetime.fromisoformat(value)
        except ValueError:
            raise typer.BadParameter(f"not an ISO date or date-time: {value!r}") from None

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
    from service.retrieval import Filters, ReversedRangeError

    try:
        return Filters(
            published_from=published_from,
            published_to=published_to,
            source=list(source) if source else None,
            category=list(category) if category else None,
            event_from=event_from,
            event_to=event_to,
        )
    except ReversedRangeError as exc:
        option = {"published_from": "--from", "event_from": "--event-from"}[exc.field]
        raise typer.BadParameter(str(exc), param_hint=option) from exc


def _open_index(index_dir: Path | None) -> tuple[Index, int]:
    """The index ``newsqa ask`` / ``search`` / ``timeline`` read, and the default k; a clear
    exit if none."""
    from newsqa.api import Index

    settings = settings_for(index_dir)
    try:
        return Index.open(settings.index_dir, settings), settings.default_k
    except NewsqaError as exc:
        raise fail(exc) from exc


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

        print_json(ask_response(index.store, answer).model_dump_json())
        return
    if answer.abstained:
        console.print("[yellow]No answer found in the articles.[/] Nearest passages:")
        for hit in answer.hits[:3]:
            chunk = hit.passages[0].chunk
            console.print(f"- {chunk.title or hit.article_id}: {chunk.text[:200]}...", markup=False)
        return
    # The answer itself first, as the web page shows it in bold above the quotes: each short
    # answer with the citation that holds it. Text, not markup: "[1]" in a span is text.
    if answer.short_answers:
        spans = "; ".join(f"{a.text} [{a.n}]" for a in answer.short_answers)
        console.print(Text(spans, style="bold"))
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
        print_json(body.model_dump_json())
    elif hits and console.width < _TABLE_MIN_WIDTH:
        _print_hits_list(query, hits)
    elif hits:
        console.print(_hits_table(query, hits))
    else:
        err.print("[yellow]No articles found.[/]")


_SNIPPET_CHARS = 300


_TABLE_MIN_WIDTH = 100
"""Columns below which the hits table squeezes its eight columns to a letter or two each
(``COLUMNS=40``: the id ``detik-0011`` as ``d…``, every title cut): a list instead."""


def _snippet(hit: ArticleHit) -> str:
    """The hit's best passage on one line, cut at ``_SNIPPET_CHARS``."""
    snippet = " ".join(hit.passages[0].chunk.text.split())  # one line, paragraphs run on
    if len(snippet) > _SNIPPET_CHARS:
        snippet = snippet[:_SNIPPET_CHARS] + "..."
    return snippet


def _print_hits_list(query: str, hits: list[ArticleHit]) -> None:
    """The table's rows as lines for a narrow terminal: rank, score, id, date, source and
    section, then the title and the passage, each whole and wrapped at the terminal's edge."""
    console.print(Text(f"search {query!r}", style="bold"))
    for rank, hit in enumerate(hits, 1):
        chunk = hit.passages[0].chunk
        day = chunk.published.date().isoformat() if chunk.published else ""
        fields = [f"{rank}.", f"{hit.score:.3f}", hit.article_id, day, chunk.source or ""]
        console.print(" ".join(filter(None, [*fields, chunk.category or ""])), markup=False)
        console.print(Text(chunk.title, style="bold"))
        console.print(_snippet(hit), markup=False)


def _hits_table(query: str, hits: list[ArticleHit]) -> Table:
    """One row per article with its best passage; ``--json`` has every passage."""
    table = Table(title=Text(f"search {query!r}"))
    for column in ("#", "score", "article", "published", "source", "category", "title"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    table.add_column("passage", ratio=1)
    for rank, hit in enumerate(hits, 1):
        chunk = hit.passages[0].chunk
        table.add_row(
            str(rank),
            f"{hit.score:.3f}",
            Text(hit.article_id),
            chunk.published.date().isoformat() if chunk.published else "",
            Text(chunk.source or ""),
            Text(chunk.category or ""),
            Text(chunk.title),
            Text(_snippet(hit)),  # Text: article text is not Rich markup
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
