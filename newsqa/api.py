"""newsqa as a Python library: one index directory, asked, searched and written to in-process.

The same code paths as the HTTP service (``service/qa.py`` answers POST /ask and GET /search,
``indexer.pipeline.write_articles`` carries out the write endpoints), without FastAPI or a
server: a notebook, a batch job or the eval suite gets the answers the service would give.

>>> from newsqa import Index
>>> with Index.open("var/index") as idx:
...     answer = idx.ask("which Palembang programs won 2020 awards")
...     [s.text for s in answer.short_answers]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.documents import Article
from indexer.event_time import publication_day
from indexer.ids import validate_article_id
from indexer.pipeline import IndexReport, build_index, write_articles
from indexer.sources import article_from_record
from indexer.store import IndexStore, committed
from newsqa.errors import NewsqaError
from newsqa.settings import Settings, get_settings
from service import schemas
from service.answer import Answer
from service.index_open import dense_config, open_embedder, open_store
from service.input_text import question_text
from service.qa import Components, answer_question, build_components, search, timeline
from service.retrieval import ArticleHit, Filters, HybridRetriever
from service.timeline import TimelineEntry

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from service.langchain_retriever import NewsqaRetriever


class Index:
    """An opened index: ``ask``, ``search``, ``article``, and ``add`` / ``delete``, which commit
    a new generation and then read it (what a reader of this object sees is always committed).
    Each read follows what another process committed since (``newsqa index``, ``newsqa watch``,
    a server's writes), as a server does."""

    def __init__(self, components: Components) -> None:
        self._live: Components | None = components

    @property
    def _c(self) -> Components:
        """The open generation; after ``close()`` every call says so (reads failed with
        SQLite's "closed database", and a write reopened the index it closed)."""
        if self._live is None:
            raise RuntimeError("this Index is closed: open it again (Index.open)")
        return self._live

    def _now(self) -> Components:
        """The committed generation, reopened first where ``CURRENT`` changed since this
        object opened one: a read of one small file. An Index kept open (a notebook, a batch
        job) beside ``newsqa watch`` quoted an article's replaced text, at offsets into it, and
        cited deleted articles until ``reload()`` was called. A generation that does not open
        leaves the open one answering, as a server's refused reload does."""
        c = self._c
        try:
            if committed(c.store.path) != c.store.committed:
                self.reload()
        except NewsqaError as exc:
            log.warning("still reading %s: %s", c.store.manifest.generation, exc)
        return self._c

    @classmethod
    def open(cls, index_dir: str | Path, settings: Settings | None = None) -> Index:
        """The committed index in ``index_dir``; ``settings`` default to the ``NEWSQA_``
        environment (model, answer mode, vector store)."""
        settings = (settings or get_settings()).model_copy(update={"index_dir": Path(index_dir)})
        return cls(build_components(settings))

    @classmethod
    def build(
        cls,
        paths: str | Path | Sequence[str | Path],
        index_dir: str | Path,
        settings: Settings | None = None,
    ) -> Index:
        """Index ``paths`` (JSONL, .txt, .html files or folders; one path or several) into
        ``index_dir``, as ``newsqa index`` does (only what changed on an existing index), then
        open it. One path given as a string is that path: read as a sequence of its letters,
        ``"/data/berita"`` had ``/`` walk the whole file system."""
        settings = (settings or get_settings()).model_copy(update={"index_dir": Path(index_dir)})
        embedder = open_embedder(settings)
        sources = [paths] if isinstance(paths, str | Path) else list(paths)
        build_index(
            [Path(p) for p in sources], Path(index_dir), embedder, dense=dense_config(settings)
        )
        return cls(build_components(settings, embedder))

    @property
    def settings(self) -> Settings:
        return self._c.settings

    @property
    def store(self) -> IndexStore:
        """The opened generation: what a response built from this index's answers reads
        (stored events, stories)."""
        return self._c.store

    def ask(
        self,
        question: str,
        k: int | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        as_of: date | None = None,
        collapse: bool = True,
    ) -> Answer:
        """A cited answer, short answers and passages, or an abstention: what POST /ask says.
        ``as_of``: the day "tahun lalu" in the question counts from (default: the newest
        publication day in the index); ``collapse``: each story once, its copies in the
        hit's ``also_reported_by``. ``k`` omitted: ``NEWSQA_DEFAULT_K``, as over HTTP."""
        return answer_question(
            self._now(),
            question_text(question),
            self._k(k),
            _filters(filters),
            _as_of(as_of),
            _collapse(collapse),
        )

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        as_of: date | None = None,
        collapse: bool = True,
    ) -> list[ArticleHit]:
        """Ranked articles with their best passages: what GET /search says (``k`` omitted:
        ``NEWSQA_DEFAULT_K`` articles, as there)."""
        return search(
            self._now(),
            question_text(query, "query"),
            self._k(k),
            _filters(filters),
            _as_of(as_of),
            _collapse(collapse),
        )

    def timeline(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        as_of: date | None = None,
    ) -> list[TimelineEntry]:
        """The dated sentences of the articles ``search`` finds, earliest first: what GET
        /timeline says."""
        return timeline(
            self._now(), question_text(query, "query"), self._k(k), _filters(filters), _as_of(as_of)
        )

    def _k(self, k: int | None) -> int:
        """``k``, or the settings' ``default_k`` (``NEWSQA_DEFAULT_K``) that the server and the
        CLI use when none is given: ``search`` returned 10 articles where GET /search returned
        5, and ``ask`` read 5 whatever ``NEWSQA_DEFAULT_K`` said."""
        return _k(self._c.settings.default_k if k is None else k)

    def article(self, article_id: str) -> Article | None:
        """The stored article (a duplicate's id gives the article it duplicates)."""
        return self._now().store.article(article_id)

    def add(self, articles: Iterable[Article | Mapping[str, Any]]) -> IndexReport:
        """Add or replace articles (``Article`` objects or corpus-format dicts, cleaned as a
        corpus line is) in one commit. ``ValueError`` names a bad record, or one whose id an
        earlier one has (which of the two is meant?), as the HTTP batch does; then nothing is
        written. An ``Article``'s id is checked as a dict's is: one the other paths refuse
        ("bad id!") could be written here, then not be read back from an export."""
        if isinstance(articles, Article | Mapping):
            articles = [articles]
        elif isinstance(articles, str | bytes):
            # read as its letters, each a record: "dictionary update sequence element #0 has
            # length 1; 2 is required"
            raise TypeError("add takes articles (Article objects or dicts), not text")
        parsed = []
        for i, a in enumerate(articles):
            if not isinstance(a, Article | Mapping):
                # dict(5) said "'int' object is not iterable", naming no record
                raise TypeError(f"add[{i}]: an article is an Article or a dict, not {a!r}")
            if isinstance(a, Article):
                try:
                    parsed.append(_checked(a))
                except ValueError as exc:
                    raise ValueError(f"add[{i}]: {exc}") from exc
                except TypeError as exc:
                    raise TypeError(f"add[{i}]: {exc}") from exc
            else:
                try:
                    parsed.append(
                        article_from_record(dict(a), origin=f"add[{i}]", refuse_bad_date=True)
                    )
                except ValueError as exc:
                    raise ValueError(f"add[{i}]: {exc}") from exc
        first: dict[str, int] = {}
        for i, article in enumerate(parsed):
            if (earlier := first.setdefault(article.id, i)) != i:
                raise ValueError(f"add[{i}]: id {article.id!r} repeats add[{earlier}]")
        return self._write(upsert=parsed)

    def delete(self, article_ids: str | Iterable[str]) -> IndexReport:
        """Remove articles by id (one id or several) in one commit; ``ArticleNotFoundError``
        names an id that is not there, and then nothing is removed. One id is one id, not its
        letters ("no article with id 'n'" for "nq-001")."""
        ids = [article_ids] if isinstance(article_ids, str) else list(article_ids)
        for i, article_id in enumerate(ids):
            if not isinstance(article_id, str):
                # was "no article with id 5": as if such an id could exist
                raise TypeError(f"delete[{i}]: an article id is text, not {article_id!r}")
        return self._write(delete=ids)

    def as_retriever(
        self, k: int = 5, filters: Filters | Mapping[str, Any] | None = None
    ) -> NewsqaRetriever:
        """This index as a LangChain retriever (``NewsqaRetriever``: ``k`` passages as
        ``Document``s, ``filters`` as ``search`` takes them) that follows the index: after
        ``add``, ``delete`` or ``reload`` it searches the new generation, where one built on a
        ``HybridRetriever`` keeps searching the generation it was given."""
        from service.langchain_retriever import NewsqaRetriever  # langchain only when asked

        return NewsqaRetriever(retriever=_Following(self), k=k, filters=filters)

    def reload(self) -> None:
        """Read the newest committed generation (another process may have written), reusing
        the segments already open. The old generation is not closed: another thread may be
        reading it (closing it failed their searches with "Cannot operate on a closed
        database"); it goes when nothing refers to it, as the service's does
        (``service.live_index``)."""
        old = self._c.store
        store = open_store(self._c.settings, reuse=old.segment_map())
        self._live = replace(
            self._c, store=store, retriever=HybridRetriever(store, self._c.embedder)
        )

    def close(self) -> None:
        if self._live is not None:
            self._live.store.close()
            self._live = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, upsert: Sequence[Article] = (), delete: Sequence[str] = ()) -> IndexReport:
        settings = self._c.settings
        report = write_articles(
            settings.index_dir,
            self._c.embedder,
            upsert,
            delete,
            lock_timeout=settings.write_lock_timeout,
            dense=dense_config(settings),
        )
        self.reload()
        return report


class _Following:
    """Retrieval over whichever generation an ``Index`` has open when asked."""

    def __init__(self, index: Index) -> None:
        self._index = index

    def retrieve(
        self, question: str, k: int = 5, filters: Filters | None = None
    ) -> list[ArticleHit]:
        return self._index._now().retriever.retrieve(question, k, filters)


def _checked(article: Article) -> Article:
    """An ``Article`` as it is stored (its text canonical, not cleaned again), checked as a
    dict's fields are: a blank text was indexed as an article of nothing (and a second one
    stored as its duplicate), and a field of the wrong type failed deep in the write
    ("'str' object has no attribute 'isoformat'" for ``published="2025-01-01"``)."""
    validate_article_id(article.id)
    for name in ("text", "title"):
        if not isinstance(value := getattr(article, name), str):
            raise TypeError(f"Article.{name} must be a string, not {value!r}")
    for name in ("url", "category", "source"):
        if not isinstance(value := getattr(article, name), str | None):
            raise TypeError(f"Article.{name} must be a string or None, not {value!r}")
    if not isinstance(article.published, datetime | None):
        raise TypeError(f"Article.published must be a datetime or None, not {article.published!r}")
    if not article.text.strip():
        raise ValueError("Article.text is blank")
    return article


def _k(k: int) -> int:
    """Articles to retrieve, 1 or more: ``k=2.5`` returned 29 hits and ``k=True`` one."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number of articles, 1 or more, not {k!r}")
    return k


def _collapse(collapse: bool) -> bool:
    """``collapse="no"`` was true here (a non-empty string) and false over HTTP."""
    if not isinstance(collapse, bool):
        raise TypeError(f"collapse must be True or False, not {collapse!r}")
    return collapse


def _as_of(as_of: date | None) -> date | None:
    """The day relative times count from: ``as_of="2025-01-01"`` (ISO text, as POST /ask's
    JSON has it) failed inside the question's time parsing with "'str' object has no
    attribute 'year'". A datetime is taken as its day (Jakarta's for an offset outside
    Indonesia, as a publication time is; its own day without an offset): passed on whole, a
    question naming a month or a day ("Agustus lalu", "sejak 2019", "28 Desember") failed with
    "can't compare datetime.datetime to datetime.date", and "kemarin" resolved to a moment."""
    if as_of is not None and not isinstance(as_of, date):
        raise TypeError(
            f"as_of must be a datetime.date, not {as_of!r}"
            + (f" (date.fromisoformat({as_of!r}))" if isinstance(as_of, str) else "")
        )
    if isinstance(as_of, datetime):
        return publication_day(as_of) if as_of.utcoffset() is not None else as_of.date()
    return as_of


def _filters(filters: Filters | Mapping[str, Any] | None) -> Filters:
    """``Filters`` or its fields as a dict ({"category": "Ekonomi"}), as the LangChain
    retriever takes them; a dict failed with "'dict' object has no attribute 'mask'". A dict
    is read as POST /search reads its ``filters`` (``schemas.Filters``): ISO text or dates
    ("2025-08-18", a day alone as ``published_to`` the whole day), a ``ValueError`` naming a
    bad one; strings and dates failed deep inside with "'str' object has no attribute
    'tzinfo'"."""
    if filters is None:
        return Filters()
    if isinstance(filters, Filters):
        return filters
    return schemas.Filters.model_validate(dict(filters)).to_retrieval()


__all__ = ["Index", "Filters"]
