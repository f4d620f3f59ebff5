"""Drop articles that repeat an earlier one, so the index holds each story once.

Syndicated news arrives several times (detik files one story under several topics). Indexing
every copy would crowd search results with the same passage; keeping the first copy and mapping
the others onto it keeps results varied while a citation of a copy can still be resolved.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit

import courlan

from indexer.documents import Article


class DuplicateReason(StrEnum):
    """Why an article was dropped; the order of the checks is the order of the members."""

    REPEATED_ID = "repeated id"  # same id and same text: the same record read twice
    ID_CONFLICT = "id conflict"  # same id, different text: ids must be unique, the first wins
    SAME_URL = "same url"
    SAME_TEXT = "same text"


@dataclass(frozen=True)
class Duplicate:
    """One dropped article; ``article.origin`` tells the report where it came from."""

    article: Article
    kept_id: str
    reason: DuplicateReason


@dataclass
class DedupResult:
    """The articles to index, in input order, and the dropped ones for the run's report."""

    kept: list[Article] = field(default_factory=list)
    dropped: list[Duplicate] = field(default_factory=list)

    @property
    def duplicates(self) -> dict[str, str]:
        """Dropped id -> kept id, for copies whose content the kept article stands for.

        Id conflicts are left out: the dropped article's content is *not* in the index, so
        mapping its id onto the kept one would point citations at different text.
        """
        return {
            d.article.id: d.kept_id
            for d in self.dropped
            if d.reason is not DuplicateReason.ID_CONFLICT and d.article.id != d.kept_id
        }

    @property
    def conflicts(self) -> list[Duplicate]:
        """Records dropped because an earlier record has their id and other text: unlike a
        copy, their content is in the index under no id, so the run reports them as skipped."""
        return [d for d in self.dropped if d.reason is DuplicateReason.ID_CONFLICT]


def normalize_url(url: str) -> str:
    """The form under which two URLs of one page compare equal.

    courlan normalises the scheme, host and path (scheme and host case, punycode, default
    ports, doubled slashes, percent-encoding); a trailing slash and a ``#fragment`` never change
    the page. The query is filtered here rather than by courlan: its tracker pattern also drops
    parameters that can select an article (``cid``, ``source``, ``ref``, anything starting
    ``ga``/``gl``), its strict mode keeps only a short allow-list, and both drop blank ones
    (``read.php?1234``), so two different articles would share one key. Only ``utm_*`` is
    dropped, as it only tracks the click.
    """
    parts = urlsplit(url.strip())
    base = courlan.normalize_url(parts._replace(query="", fragment="")).rstrip("/")
    query = _untracked_query(parts.query)
    return f"{base}?{query}" if query else base


def _untracked_query(query: str) -> str:
    """Blank parameters are kept: a bare ``?1234`` can be what names the article."""
    params = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v) for k, v in params if not k.lower().startswith("utm_")])


_WORDS = re.compile(r"\w+")


def text_key(text: str) -> str:
    """A digest of the text's words, ignoring case, spacing and punctuation.

    Syndicated copies differ in exactly these ("1637 - 1641" against "1637-1641", "Rp 2, 4"
    against "Rp 2,4"); the words themselves, numbers included, must be identical.
    """
    words = _WORDS.findall(text.casefold())
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


# The share of word trigrams two texts under one URL must share to be one page.
SAME_PAGE_SHARE = 0.8


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.casefold())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def same_page(text: str, other: str) -> bool:
    """Whether two texts under one URL are one page: most of their word trigrams shared
    (Jaccard >= ``SAME_PAGE_SHARE``), as when a page is scraped twice with a line of
    boilerplate more or a typo mended. A text rewritten under the URL (a correction sent
    under a new id, a live page that moved on) is an article of its own: folding it into the
    first as a copy would lose its words, and its id would cite the other text."""
    mine, theirs = _trigrams(text), _trigrams(other)
    return len(mine & theirs) >= SAME_PAGE_SHARE * len(mine | theirs)


def dedupe(articles: Iterable[Article]) -> DedupResult:
    """Keep the first article of every story, in input order, and record what was dropped.

    A dropped copy's URL and text are remembered under the kept id too, so a third copy that
    matches only the second one still resolves to the first. A URL is a copy's mark only with
    the same page's text (``same_page``).
    """
    result = DedupResult()
    by_id: dict[str, tuple[str, str]] = {}  # id -> (text key of its first record, kept id)
    by_url: dict[str, tuple[str, str]] = {}  # URL key -> (kept id, the first text under it)
    by_text: dict[str, str] = {}
    for article in articles:
        key = text_key(article.text)
        url = normalize_url(article.url) if article.url else None
        same_url = by_url.get(url) if url else None
        if same_url is not None and not same_page(article.text, same_url[1]):
            same_url = None
        duplicate = _find_duplicate(article.id, key, same_url and same_url[0], by_id, by_text)
        if duplicate is not None:
            kept_id, reason = duplicate
            result.dropped.append(Duplicate(article, kept_id, reason))
            if reason is DuplicateReason.ID_CONFLICT:
                continue
        else:
            kept_id = article.id
            result.kept.append(article)
        by_id.setdefault(article.id, (key, kept_id))
        by_text.setdefault(key, kept_id)
        if url:
            by_url.setdefault(url, (kept_id, article.text))
    return result


def _find_duplicate(
    article_id: str,
    key: str,
    same_url: str | None,
    by_id: dict[str, tuple[str, str]],
    by_text: dict[str, str],
) -> tuple[str, DuplicateReason] | None:
    if article_id in by_id:
        first_key, kept_id = by_id[article_id]
        if key == first_key:
            return kept_id, DuplicateReason.REPEATED_ID
        return kept_id, DuplicateReason.ID_CONFLICT
    if same_url is not None:
        return same_url, DuplicateReason.SAME_URL
    if key in by_text:
        return by_text[key], DuplicateReason.SAME_TEXT
    return None
