"""Request and response models of the HTTP API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated

from fastapi import Path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from indexer.dates import DATE_FORMATS, day_bound, parse_date
from indexer.ids import ARTICLE_ID_MAX_LENGTH, ARTICLE_ID_PATTERN, ARTICLE_ID_RULE
from indexer.pipeline import IndexReport
from service.input_text import QUESTION_MAX_CHARS, visible
from service.retrieval import Filters as RetrievalFilters

# QUESTION_MAX_CHARS: the longest question POST /ask and /ask/batch take, after surrounding
# whitespace is stripped (the eval's question files and the Python API are held to it too).
Question = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=QUESTION_MAX_CHARS),
    visible,
]
K = Annotated[int, Field(ge=1, le=50)]
ArticleId = Annotated[
    str,
    StringConstraints(max_length=ARTICLE_ID_MAX_LENGTH, pattern=ARTICLE_ID_PATTERN),
    Field(description=f"Article id: {ARTICLE_ID_RULE}.", examples=["nq-101"]),
]
"""The article id of request bodies (``indexer/ids.py``)."""
ArticleIdPath = Annotated[
    str,
    Path(
        max_length=ARTICLE_ID_MAX_LENGTH,
        pattern=ARTICLE_ID_PATTERN,
        description=f"Article id: {ARTICLE_ID_RULE}.",
    ),
]
"""The ``/articles/{article_id}`` path parameter: an id outside the pattern gets 422."""


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*")


def _not_a_number(value: object) -> object:
    """pydantic reads a number, or text that is one, as seconds since 1970: ``published_from=
    2025`` meant 1970-01-01T00:33:45 and matched every article, ``published_to=2020`` none.
    Dates here are ISO, as the CLI's ``--from`` and the README have them."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError(
            f"{value!r} is a number, not an ISO date or date-time (2025-01-31, "
            "2025-01-31T08:00:00+07:00)"
        )
    return value


IsoNotNumber = BeforeValidator(_not_a_number)
"""For the date and date-time fields of requests, body and query alike."""
Moment = Annotated[datetime, IsoNotNumber]
Day = Annotated[date, IsoNotNumber]


def _whole_day(value: object) -> object:
    """A day alone, as text or a ``date`` (the Python API's filters), is its last moment."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time.max)
    return (isinstance(value, str) and day_bound(value, end=True)) or value


PublishedTo = Annotated[datetime, BeforeValidator(_whole_day), IsoNotNumber]
"""The end of a publication range; a day alone is the whole day ("2022-09-20" keeps that day's
articles), as the CLI's ``--to`` and the web page's date field have it."""


def _blank_is_none(value: object) -> object:
    """An empty or blank date is none given, as an empty ``category`` is no category: a form
    whose date field is left empty sends ``?published_from=``, which got a 422 ("input is too
    short") while the ``category=`` beside it was read as "any"."""
    return None if isinstance(value, str) and not value.strip() else value


BlankIsNone = BeforeValidator(_blank_is_none)
MaybeMoment = Annotated[Moment | None, BlankIsNone]
MaybeDay = Annotated[Day | None, BlankIsNone]
MaybePublishedTo = Annotated[PublishedTo | None, BlankIsNone]
"""The optional date fields of requests, body and query alike: blank is omitted."""

FilterValue = Annotated[str, StringConstraints(max_length=200)]


def _value_or_values(value: object) -> str | None:
    return "values" if isinstance(value, list) else "value" if isinstance(value, str) else None


FilterValues = Annotated[
    Annotated[FilterValue, Tag("value")]
    | Annotated[list[FilterValue], Field(min_length=1, max_length=50), Tag("values")],
    Discriminator(
        _value_or_values,
        custom_error_type="string_or_list_type",
        custom_error_message="Input should be a string or a list of strings",
    ),
]
"""One value, or several of which any matches (``"Hukum"`` or ``["Hukum", "Politik"]``); a
blank value constrains nothing (``?category=`` as a form leaves it). The JSON type picks the
branch, so a bad value gets one error (a plain union named a 300-character category both
"at most 200 characters" and "Input should be a valid list")."""


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    published_from: MaybeMoment = Field(None, description="Earliest publication time.")
    published_to: MaybePublishedTo = Field(
        None, description="Latest publication time; a day alone is the whole day."
    )
    source: FilterValues | None = Field(
        None, description="Outlet, or a list of outlets (any matches); case-insensitive."
    )
    category: FilterValues | None = Field(
        None, description="Section, or a list of sections (any matches); case-insensitive."
    )
    event_from: MaybeDay = Field(
        None, description="Articles naming a time (an event) that ends on or after this day."
    )
    event_to: MaybeDay = Field(
        None, description="Articles naming a time that starts on or before this day."
    )

    @model_validator(mode="after")
    def _ranges_in_order(self) -> Filters:
        self.to_retrieval()  # ValueError on a reversed range: a 422 naming both bounds
        return self

    def to_retrieval(self) -> RetrievalFilters:
        return RetrievalFilters(**self.model_dump())


class QueryOptions(BaseModel):
    """What every question or query may say besides its text."""

    model_config = ConfigDict(extra="forbid")

    k: K | None = Field(
        None, description="Articles to retrieve (1-50); omitted: the server's NEWSQA_DEFAULT_K."
    )
    filters: Filters | None = None
    as_of: MaybeDay = Field(
        None,
        description="The day relative times in the question count from ('tahun lalu', "
        "'kemarin'); omitted: the newest publication day in the index.",
    )
    collapse: bool = Field(
        True, description="Each story once, its copies in also_reported_by; false: every article."
    )


class AskRequest(QueryOptions):
    question: Question = Field(examples=["which Palembang programs won 2020 awards"])


class AskBatchRequest(QueryOptions):
    questions: list[Question] = Field(
        min_length=1, max_length=64, description="Up to 64 questions, answered together."
    )


class SearchRequest(QueryOptions):
    q: Question = Field(description="Query text.", examples=["harga cabai"])


class EventOut(BaseModel):
    start: date = Field(description="First day of the time the expression names.")
    end: date = Field(description="Last day (inclusive).")
    char_start: int
    char_end: int
    text: str = Field(description="The expression: article text[char_start:char_end].")


Events = Annotated[
    list[EventOut],
    Field(
        default_factory=list,
        description="Time expressions in this text ('Senin (20/10)', 'tahun lalu') resolved "
        "against the publication date; offsets into the article text.",
    ),
]


class StoryMember(BaseModel):
    article_id: str
    title: str
    source: str | None
    url: str | None
    published: datetime | None


class Story(BaseModel):
    id: str = Field(description="The story's id: its smallest article id.")
    members: list[StoryMember] = Field(description="Every article of the story.")


class Citation(BaseModel):
    n: int = Field(description="The marker [n] in the answer.")
    article_id: str
    title: str
    url: str | None
    published: datetime | None
    quote: str = Field(description="Verbatim span: article text[char_start:char_end].")
    char_start: int
    char_end: int
    score: float
    events: Events


class ShortAnswer(BaseModel):
    text: str = Field(description="The answer span: article text[char_start:char_end].")
    n: int = Field(description="The citation [n] whose quote holds the span.")
    article_id: str
    char_start: int
    char_end: int
    score: float = Field(
        description="Reader margin over the no-answer threshold (> 0); 0 for an outlet read "
        "off the article's dateline (which outlet reported it)."
    )


class PassageOut(BaseModel):
    article_id: str
    title: str
    url: str | None
    published: datetime | None
    source: str | None
    category: str | None
    text: str
    char_start: int
    char_end: int
    score: float = Field(
        description="Hybrid score of the article's best passage (higher is better)."
    )
    highlights: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Spans of `text` (relative offsets) matching the query terms.",
    )
    events: Events
    also_reported_by: list[StoryMember] = Field(
        default_factory=list,
        description="Copies of this article (republished with another headline, dateline or "
        "footer): the same story, shown once.",
    )


class AskResponse(BaseModel):
    question: str
    answer: str | None
    abstained: bool
    evidence_language: str | None = Field(description="Language of the quoted evidence (id/en).")
    confidence: float
    short_answers: list[ShortAnswer] = Field(
        description="The answers themselves, best first (a list question: every item, in "
        "reading order); empty when abstaining or in sentence mode."
    )
    citations: list[Citation]
    passages: list[PassageOut]
    timings_ms: dict[str, float]


class AskBatchResponse(BaseModel):
    answers: list[AskResponse] = Field(description="One per question, in order.")
    timings_ms: dict[str, float]


class SearchResponse(BaseModel):
    query: str
    passages: list[PassageOut]
    timings_ms: dict[str, float]


class TimelineEntryOut(BaseModel):
    start: date = Field(description="First day of the time the sentence names.")
    end: date = Field(description="Last day (inclusive).")
    expression: str = Field(
        description="The time expression: article text[expression_start:expression_end]."
    )
    expression_start: int
    expression_end: int
    article_id: str
    title: str
    url: str | None
    published: datetime | None
    source: str | None
    quote: str = Field(description="The sentence: article text[char_start:char_end].")
    char_start: int
    char_end: int
    rank: int = Field(description="The article's rank in the retrieval (0 is the best).")


class TimelineResponse(BaseModel):
    query: str
    events: list[TimelineEntryOut] = Field(description="Earliest first.")
    timings_ms: dict[str, float]


class ArticleOut(BaseModel):
    id: str
    title: str
    url: str | None
    published: datetime | None
    source: str | None
    category: str | None
    text: str
    events: Events
    story: Story | None = Field(
        None, description="The story this article is a copy in; null when it has no copies."
    )


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    articles: int
    chunks: int
    model: str
    index_created_at: str
    generation: int = Field(description="The committed index generation being served.")
    vector_store: str = Field(
        description="Where dense search runs: 'faiss' (the index directory) or "
        "'milvus <uri> <collection>'."
    )
    answerer: str = Field(
        description="How /ask composes answers: 'reader (<runtime>)', the reader runtime that "
        "runs on this CPU (NEWSQA_READER_RUNTIME=auto resolved), 'sentences', or "
        "'generative (<model>) over' either."
    )


class ErrorOut(BaseModel):
    detail: str


class ArticleIn(BaseModel):
    """One article in the corpus JSON format (``../shared/README.md``). An unknown field is
    refused: a misspelt "titel" or "publised" would otherwise be dropped without a word."""

    model_config = ConfigDict(extra="forbid")

    id: ArticleId
    text: str = Field(min_length=1, max_length=1_000_000, description="Body; cleaned on write.")
    title: str | None = Field(None, max_length=1000)
    url: str | None = Field(None, max_length=2000)
    published: str | None = Field(None, max_length=100, description="ISO or Indonesian date.")
    category: str | None = Field(None, max_length=200)
    source: str | None = Field(None, max_length=200)

    @field_validator("published")
    @classmethod
    def _a_date(cls, value: str | None) -> str | None:
        """A date that cannot be read is refused: the client can mend it, and an article kept
        without one would drop out of every date filter unseen. (``newsqa index`` keeps such an
        article from a file, without its date, and logs the value.)"""
        if value is not None and value.strip() and parse_date(value) is None:
            raise ValueError(f"not a date: {value!r} ({DATE_FORMATS})")
        return value


class ArticleUpdate(ArticleIn):
    id: ArticleId | None = Field(None, description="Optional; must match the path.")


class WriteResult(BaseModel):
    """What a write changed, and the committed generation that now serves it."""

    generation: int
    articles: int = Field(description="Live articles in the index after the write.")
    added: int
    updated: int
    unchanged: int
    removed: int
    duplicates: dict[str, str] = Field(description="Duplicate id -> the article kept.")
    chunks: int = Field(description="Chunks embedded by this write.")

    @classmethod
    def of(cls, report: IndexReport) -> WriteResult:
        assert report.manifest is not None, "a write's report names its generation"
        return cls(
            generation=report.manifest.generation,
            articles=report.manifest.articles,
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            removed=report.removed,
            duplicates=report.duplicates,
            chunks=report.chunks,
        )


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[ArticleId] = Field(min_length=1, max_length=10_000, description="Ids to remove.")


class DeleteResult(BaseModel):
    """A bulk delete: one generation for every id that was in the index."""

    generation: int
    articles: int = Field(description="Live articles in the index after the delete.")
    deleted: list[str] = Field(description="Ids removed (articles, or duplicates' ids).")
    missing: list[str] = Field(description="Ids not in the index: nothing to remove.")


class JobProgress(BaseModel):
    chunks_total: int | None = Field(None, description="Chunks to embed; null until known.")
    chunks_embedded: int = 0


class JobItem(BaseModel):
    """What became of one record of a bulk write, in the order the records were sent."""

    id: str | None
    result: str = Field(
        description="added, updated, unchanged, duplicate, rejected, or failed (the job failed)."
    )
    reason: str | None = Field(None, description="Why it was rejected, or why the job failed.")
    duplicate_of: str | None = Field(None, description="The article a duplicate resolves to.")


class JobOut(BaseModel):
    id: str
    state: str = Field(description="queued, running, done or failed.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    records: int = Field(description="Records in the request.")
    articles_read: int = Field(description="Records read as articles (not rejected).")
    rejected: int = Field(description="Records rejected (each with its reason in items).")
    progress: JobProgress
    result: WriteResult | None = Field(None, description="What the write changed (when done).")
    error: str | None = Field(None, description="Why the job failed (nothing was written).")
    items: list[JobItem] | None = Field(
        None, description="Every record's result, in order (when done or failed)."
    )


class ArticleListItem(BaseModel):
    id: str
    title: str
    published: datetime | None
    source: str | None
    category: str | None
    content_hash: str = Field(
        description="Changes whenever the title, text, URL, date, source or category does."
    )
    indexed_at: datetime = Field(description="When this version of the article was written.")


class ArticleList(BaseModel):
    articles: list[ArticleListItem] = Field(description="Sorted by id.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class Stats(BaseModel):
    generation: int
    articles: int
    chunks: int
    duplicates: int = Field(description="Ids folded into another article (exact copies).")
    stories: int = Field(description="Stories of two or more articles (republished copies).")
    published_from: datetime | None = Field(description="Oldest publication time.")
    published_to: datetime | None = Field(description="Newest publication time.")
    by_source: dict[str, int] = Field(description="Articles per outlet ('' for none).")
    by_category: dict[str, int] = Field(description="Articles per section ('' for none).")
