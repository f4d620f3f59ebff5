"""Stories: articles that are copies of one another (a republished story), grouped.

Other outlets republish a story with a new headline, a dateline, a footer or a paragraph
dropped; exact dedup (``indexer/dedup.py``) misses these, and the copies crowd a result list
with one story. Each article gets a MinHash signature of its word 8-gram shingles (datasketch)
when its segment is written; the stories of a generation are found from the live articles'
signatures: MinHash LSH proposes pairs whose shingle sets may overlap, and a pair is linked
only when the exact shingles confirm it (at least ``MIN_SHARED`` of the smaller article's
shingles are in the other), with every member of the story; a story's id is its smallest
article id.

Stories are derived, not stored as ids: they follow from the committed articles alone, so an
update or a delete (even of the article that linked two others) changes exactly the stories
it must, and a crash leaves nothing to repair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from indexer.analyzer import fast_tokens

SHINGLE_WORDS = 8
NUM_PERM = 64
LSH_THRESHOLD = 0.2
"""Jaccard at which LSH proposes a pair: low, because a copy that adds a footer or drops a
paragraph shares most of the smaller text but less of the union."""
MIN_SHARED = 0.5
"""A pair is one story when at least half of the smaller article's shingles are in the other
(the copies in detik-2025 share 0.6 to 1.0; different stories on one topic under 0.1)."""
SEED = 1
SCHEME = "affine32"  # datasketch 2's default, named: stored signatures must keep their scheme


def shingles(text: str) -> set[str]:
    """The article's word 8-grams (lowercased tokens); a short text is one shingle."""
    tokens = fast_tokens(text)
    if len(tokens) <= SHINGLE_WORDS:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)}


def signature(text: str) -> np.ndarray:
    """The MinHash signature of the article's shingles (``NUM_PERM`` uint64 values)."""
    m = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    m.update_batch([s.encode("utf-8") for s in shingles(text)])
    return m.hashvalues.astype(np.uint64)


def signatures(texts: Sequence[str]) -> np.ndarray:
    """One signature row per text: shape ``(len(texts), NUM_PERM)``."""
    rows = [signature(t) for t in texts]
    return np.stack(rows) if rows else np.zeros((0, NUM_PERM), dtype=np.uint64)


def shared_share(a: set[str], b: set[str]) -> float:
    """The share of the smaller shingle set that the other holds."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def find_stories(
    ids: Sequence[str], signatures: np.ndarray, text_of: Callable[[str], str]
) -> dict[str, str]:
    """``{article_id: story_id}`` for the articles in a story of two or more; an article
    alone in its story is left out. ``signatures[i]`` belongs to ``ids[i]``."""
    if len(ids) < 2:
        return {}
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
    hashes = [LeanMinHash(seed=SEED, hashvalues=row, scheme=SCHEME) for row in signatures]
    with lsh.insertion_session() as session:
        for article_id, h in zip(ids, hashes):
            session.insert(article_id, h, check_duplication=False)
    cache: dict[str, set[str]] = {}

    def shingles_of(a: str) -> set[str]:
        if a not in cache:
            cache[a] = shingles(text_of(a))
        return cache[a]

    # In id order, each article joins the first earlier story it is a copy of every member of
    # (complete linkage: two articles that each copy half of a long roundup but share little
    # with each other are not one story), or starts its own.
    story_of: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    by_id = dict(zip(ids, hashes))
    for article_id in sorted(ids):
        found = sorted({story_of[o] for o in lsh.query(by_id[article_id]) if o in story_of})
        story = next(
            (
                s
                for s in found
                if all(
                    shared_share(shingles_of(article_id), shingles_of(m)) >= MIN_SHARED
                    for m in members[s]
                )
            ),
            article_id,
        )
        story_of[article_id] = story
        members.setdefault(story, []).append(article_id)
    return {a: story for story, group in members.items() if len(group) > 1 for a in group}
