"""`newsqa delete` and `export`: remove articles, and write every article out in the format
`newsqa index` reads back."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:
    from indexer.documents import Article
    from indexer.store import IndexStore

from newsqa.cli.common import (
    IndexDir,
    app,
    console,
    err,
    fail,
    settings_for,
)
from newsqa.cli.indexing import WaitOption


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

    settings = settings_for(index_dir)
    try:
        report = write_articles(
            settings.index_dir,
            # the writer checks the index was built with this model; a delete embeds nothing
            open_embedder(settings, passage_model_now=False, embeds_questions=False),
            delete=article_ids,
            lock_timeout=wait,
            dense=dense_config(settings),
        )
    except ArticleNotFoundError as exc:
        raise fail(ArticleNotFoundError(f"{exc} in {settings.index_dir}; nothing deleted")) from exc
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
    store = open_store(settings_for(index_dir), check_model=False, eager=False)
    try:
        lines = (json.dumps(_article_record(a), ensure_ascii=False) for a in _articles(store))
        if out is None:
            count = _write_lines(lines, _utf8_stdout())
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


def _utf8_stdout() -> TextIO:
    """Standard output writing UTF-8, whatever the locale: the JSONL ``newsqa index`` reads
    back is UTF-8 (as ``--out`` writes it and ``--json`` prints). On an ASCII stdout
    (``LC_ALL=C`` with ``PYTHONUTF8=0``) ``newsqa export > backup.jsonl`` stopped at the first
    non-ASCII character, a backup cut short and exit 1."""
    stdout = sys.stdout
    if isinstance(stdout, io.TextIOWrapper) and stdout.encoding.lower() not in ("utf-8", "utf8"):
        stdout.reconfigure(encoding="utf-8")
    return stdout


def _write_lines(lines: Iterator[str], file: TextIO) -> int:
    count = 0
    for line in lines:
        file.write(line + "\n")
        count += 1
    return count
