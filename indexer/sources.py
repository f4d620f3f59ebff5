"""Read corpus files (JSON Lines, plain-text pages, HTML pages) into cleaned Articles.

A bad record never stops a run: it comes out as a SkippedRecord, in reading order, so the run's
report says exactly which file and line was left out and why.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import trafilatura

from indexer.cleaning import clean_text, normalize_inline
from indexer.dates import DATE_FORMATS, parse_date, parse_date_line
from indexer.documents import Article, SkippedRecord
from indexer.ids import is_article_id, validate_article_id

_log = logging.getLogger(__name__)

Record = Article | SkippedRecord

_OPTIONAL_STRING_FIELDS = ("title", "url", "published", "category", "source")

# htmldate's default output drops the time and offset; ask for both so parse_date keeps them.
_HTML_DATE_PARAMS = {
    "extensive_search": True,
    "original_date": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}


def read_articles(paths: Sequence[Path]) -> Iterator[Record]:
    """Yield an Article or a SkippedRecord for every record under ``paths``, in a stable order.

    Folders are walked recursively in sorted path order and only files of a known type are read,
    so stray files (READMEs, lock files) are ignored, as are hidden ones (``is_hidden``); a file
    named explicitly must be of a known type, or it is reported as skipped rather than silently
    ignored.
    """
    for path in paths:
        if path.is_dir():
            yield from _read_folder(path)
        # a mistyped folder is no "unsupported file type"; a link that leads nowhere (or in a
        # loop) is there, and its reader says why it cannot be read ("no such file" was wrong)
        elif not path.exists() and not path.is_symlink():
            yield SkippedRecord(str(path), None, "cannot read: no such file or folder")
        elif path.suffix.lower() in _READERS:
            yield from _READERS[path.suffix.lower()](path)
        else:
            reason = f"unsupported file type {path.suffix or '(none)'!r}"
            yield SkippedRecord(str(path), None, reason)


def has_articles_to_read(folder: Path) -> bool:
    """Whether ``folder`` holds a file of a type ``read_articles`` reads, at any depth."""
    return any(True for _ in _article_files(folder, []))


def _article_files(folder: Path, errors: list[OSError]) -> Iterator[Path]:
    """The files of known types below ``folder``. Linked folders are followed, as linked files
    are (a subfolder replaced by a link to where the files now live was skipped without a
    word, and a prune took its articles for gone); each real folder once, so a link to a
    folder above it ends."""
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, onerror=errors.append, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        yield from (
            Path(root, n)
            for n in files
            if not n.startswith(".") and Path(n).suffix.lower() in _READERS
        )


def is_hidden(path: Path, folder: Path) -> bool:
    """Whether ``path`` is hidden below ``folder``: its name, or a folder's between them,
    starts with a dot. A folder read passes over these: an editor's lock or swap file
    (``.#page.txt``, ``.page.txt.swp``) was reported at every run as a skipped record with an
    invalid id, and a ``.git`` or ``.Trash-1000`` folder was read as articles (a page deleted
    to the trash came back)."""
    for base in (Path(os.path.abspath(folder)), Path(os.path.realpath(folder))):
        try:
            parts = Path(os.path.abspath(path)).relative_to(base).parts
        except ValueError:
            continue
        return any(part.startswith(".") for part in parts)
    return path.name.startswith(".")


def _read_folder(folder: Path) -> Iterator[Record]:
    errors: list[OSError] = []
    found = list(_article_files(folder, errors))
    for error in sorted(errors, key=lambda error: str(error.filename)):
        yield SkippedRecord(str(error.filename), None, _os_error_reason(error))
    for path in sorted(found):
        yield from _READERS[path.suffix.lower()](path)


def _os_error_reason(error: OSError) -> str:
    return f"cannot read: {error.strerror or error}"


def _open_file(path: Path) -> BinaryIO:
    """``path`` opened for reading, if it is a regular file; else ``OSError``. A FIFO named
    ``x.txt`` in a folder hung the indexer (and ``newsqa watch``) in ``open`` for ever, and a
    link to ``/dev/zero`` read until memory ran out: non-blocking, the open returns, and the
    file's type is checked on what was opened."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file (a pipe, device or socket)", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_bytes(path: Path) -> bytes:
    with _open_file(path) as handle:
        return handle.read()


def _read_jsonl(path: Path) -> Iterator[Record]:
    try:
        handle = _open_file(path)
    except OSError as error:
        yield SkippedRecord(str(path), None, _os_error_reason(error))
        return
    with handle:
        if reason := _utf16_reason(handle.read(2)):
            yield SkippedRecord(str(path), None, reason)
            return
        handle.seek(0)
        # Lines are decoded one by one so that one corrupt line costs one record, not the file.
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            yield _parse_jsonl_line(path, number, raw)


UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
"""How UTF-16 text starts; no UTF-8 text starts so."""


def _utf16_reason(start: bytes) -> str | None:
    """Why a file that starts with ``start`` cannot be read, if it is UTF-16 (its byte order
    mark): a Windows tool's default (PowerShell's ``Out-File``). Read as UTF-8 its first line
    was "invalid UTF-8 at byte 0" and every other line, each starting with a NUL byte,
    "invalid JSON: Expecting value at column 1": a reason per line, none of them the cause."""
    if start.startswith(UTF16_BOMS):
        return "UTF-16 text, not UTF-8: save the file as UTF-8"
    return None


def _parse_jsonl_line(path: Path, number: int, raw: bytes) -> Record:
    def skipped(reason: str) -> SkippedRecord:
        return SkippedRecord(str(path), number, reason)

    try:
        # without its line break, a line cut short fails at its end, not "at column 1" of
        # the next line
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as error:
        # the id it names, if it can be read, so that a prune keeps the indexed version
        named = json_record(raw.decode("utf-8", "replace").rstrip("\r\n"))
        named = named.get("id") if isinstance(named, dict) else None
        return SkippedRecord(
            str(path),
            number,
            f"invalid UTF-8 at byte {error.start}",
            named if is_article_id(named) else None,
        )
    record = json_record(line.removeprefix("\ufeff") if number == 1 else line)
    if isinstance(record, Unreadable):
        return skipped(record)
    try:
        return article_from_record(record, f"{path}:{number}")
    except ValueError as error:
        named = record.get("id") if isinstance(record, dict) else None
        return replace(skipped(str(error)), article_id=named if is_article_id(named) else None)


class Unreadable(str):
    """Why a line is no JSON value."""


def json_record(line: str) -> Any:
    """The JSON value of one line, or an ``Unreadable`` reason: one line must cost one
    record, also when it nests deeper than the parser recurses or holds a number longer than
    Python converts (4,300 digits); both used to end the whole run with a traceback."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        # "Unterminated string starting at" (a line cut short inside its text) ends in "at"
        # already: it read "starting at at column 299"
        return Unreadable(f"invalid JSON: {error.msg.removesuffix(' at')} at column {error.colno}")
    except RecursionError:
        return Unreadable("invalid JSON: nested too deeply")
    except ValueError as error:  # int('9' * 5000): "Exceeds the limit (4300 digits) ..."
        return Unreadable(f"invalid JSON: {str(error).split(':')[0]}")


def article_from_record(record: Any, origin: str, *, refuse_bad_date: bool = False) -> Article:
    """A cleaned Article from one record of the corpus JSON format (a JSONL line or an HTTP
    body); ``ValueError`` names the field that is wrong. A ``published`` that cannot be read
    leaves a file's article undated (logged: its text is worth keeping), but is refused with
    ``refuse_bad_date``, where a caller is there to mend it (the Python API, as HTTP's
    ``ArticleIn`` refuses it)."""
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object but {type(record).__name__}")
    for field in ("id", "text"):
        value = record.get(field)
        if value is None or value == "":
            raise ValueError(f"missing or empty {field!r}")
        if not isinstance(value, str):
            raise ValueError(f"{field!r} must be a string, not {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"{field!r} is blank")
    validate_article_id(record["id"])
    for field in _OPTIONAL_STRING_FIELDS:
        value = record.get(field)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{field!r} must be a string, not {type(value).__name__}")
    published = record.get("published")
    if refuse_bad_date and published and published.strip() and parse_date(published) is None:
        raise ValueError(f"'published' is not a date: {published!r} ({DATE_FORMATS})")
    text = clean_text(record["text"])
    if not text:
        raise ValueError("text is empty after removing boilerplate")
    return Article(
        id=record["id"],
        text=text,
        title=normalize_inline(record.get("title") or ""),
        url=record.get("url") or None,
        published=_published(record.get("published"), origin),
        # "  budaya " and "Warta  Sumsel" are the section and outlet filters and /stats name
        category=" ".join((record.get("category") or "").split()) or None,
        source=" ".join((record.get("source") or "").split()) or None,
        origin=origin,
    )


def _published(value: str | None, origin: str) -> datetime | None:
    # A bad date is not worth losing the article's text over: keep the article, log the value.
    published = parse_date(value)
    if value and value.strip() and published is None:
        _log.warning("%s: unparseable published date %r, left empty", origin, value)
    return published


def _read_text_file(path: Path) -> str | SkippedRecord:
    try:
        content = _read_bytes(path)
    except OSError as error:
        return SkippedRecord(str(path), None, _os_error_reason(error))
    if reason := _utf16_reason(content[:2]):
        return SkippedRecord(str(path), None, reason)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return SkippedRecord(str(path), None, f"invalid UTF-8 at byte {error.start}")


def _id_from_file_name(path: Path) -> str | SkippedRecord:
    """A page's id: its file name without the extension, if that is a valid article id."""
    try:
        return validate_article_id(path.stem)
    except ValueError as error:
        return SkippedRecord(str(path), None, f"{error} (the id is the file name)")


def _read_txt(path: Path) -> Iterator[Record]:
    """A page saved as text: headline, an optional dateline, then the body."""
    article_id = _id_from_file_name(path)
    if isinstance(article_id, SkippedRecord):
        yield article_id
        return
    content = _read_text_file(path)
    if isinstance(content, SkippedRecord):
        yield replace(content, article_id=article_id)
        return
    lines = [line for line in content.splitlines() if line.strip()]
    if not lines:
        yield SkippedRecord(str(path), None, "empty file", article_id)
        return
    title, rest = normalize_inline(lines[0]), lines[1:]
    published = parse_date_line(rest[0]) if rest else None
    if published is not None:
        rest = rest[1:]
    text = clean_text("\n".join(rest))
    if not text:
        reason = "no body text after the title and date lines"
        yield SkippedRecord(str(path), None, reason, article_id)
        return
    yield Article(id=article_id, text=text, title=title, published=published, origin=str(path))


def _read_html(path: Path) -> Iterator[Record]:
    """A saved web page: trafilatura finds the main text and the page's own metadata."""
    article_id = _id_from_file_name(path)
    if isinstance(article_id, SkippedRecord):
        yield article_id
        return
    try:
        page = _read_bytes(path)
    except OSError as error:
        yield SkippedRecord(str(path), None, _os_error_reason(error), article_id)
        return
    document = trafilatura.bare_extraction(
        page,
        with_metadata=True,
        include_comments=False,
        date_extraction_params=_HTML_DATE_PARAMS,
    )
    text = clean_text(document.text or "") if document is not None else ""
    title = normalize_inline(document.title or "") if document is not None else ""
    # the page's <h1> is its headline, not the body's first paragraph: read as one, it answered
    # "berapa rumah terendam" with the headline's "Ratusan Rumah" instead of "350 rumah"
    head, _, rest = text.partition("\n\n")
    if title and rest and head.casefold() == title.casefold():
        text = rest
    if not text:
        yield SkippedRecord(str(path), None, "no article text found in the page", article_id)
        return
    yield Article(
        id=article_id,
        text=text,
        title=title,
        url=document.url or None,
        published=_published(document.date, str(path)),
        source=document.sitename or None,
        origin=str(path),
    )


_READERS: dict[str, Callable[[Path], Iterator[Record]]] = {
    ".jsonl": _read_jsonl,
    ".txt": _read_txt,
    ".html": _read_html,
    ".htm": _read_html,
}

SUFFIXES = frozenset(_READERS)
"""File types `newsqa index` and `newsqa watch` read."""
