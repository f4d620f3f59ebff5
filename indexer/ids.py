"""The one pattern an article id must match, at every entry point.

Corpus files (``indexer/sources.py``: a bad id is a skipped record), the HTTP bodies and the
``/articles/{article_id}`` paths (``service/schemas.py``, ``service/routes/articles.py``,
``service/routes/writes.py``: 422) all check ids against ``ARTICLE_ID_PATTERN``. An id is an ASCII
letter or digit, then ASCII letters, digits and ``. _ : @ + -``, at most 200 characters in all:
``detik-0050``, ``facqa-b92b6b3ee972``, ``nq-001``, a ``.txt`` page's file name. So every id
that can be written can also be read, replaced and deleted over HTTP as one path segment (no
``/``, no spaces, nothing that needs escaping, no ``.`` or ``..``).
"""

from __future__ import annotations

import re

ARTICLE_ID_MAX_LENGTH = 200
ARTICLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]{0,199}$"
ARTICLE_ID_RULE = (
    "an ASCII letter or digit followed by ASCII letters, digits or . _ : @ + -, "
    f"at most {ARTICLE_ID_MAX_LENGTH} characters in all (pattern {ARTICLE_ID_PATTERN})"
)

_ARTICLE_ID = re.compile(ARTICLE_ID_PATTERN)


def is_article_id(value: object) -> bool:
    # fullmatch: ``$`` alone would also accept a trailing newline
    return isinstance(value, str) and _ARTICLE_ID.fullmatch(value) is not None


def validate_article_id(value: str) -> str:
    """``value`` if it is a valid article id, else ``ValueError`` naming the rule."""
    if not is_article_id(value):
        shown = str(value) if len(str(value)) <= 60 else f"{str(value)[:57]}..."
        raise ValueError(f"invalid id {shown!r}: must be {ARTICLE_ID_RULE}")
    return value
