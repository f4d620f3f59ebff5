"""Stories: articles that are copies of one another (a republished story), grouped.

Other outlets republish a story with a new headline, a dateline, a footer or a paragraph
dropped; exact dedup (``indexer/dedup.py``) misses these, and the copies crowd a result list
with one story. Each article gets a MinHash signature of its word 8-gram shingles (datasketch)
when its segment is written. Each commit places its new and changed articles: MinHash LSH
bands over every live article's signature propose candidates whose shingle sets may overlap,
and an article joins a candidate's story only when the exact shingles confirm it is a copy of
every member (at least ``MIN_SHARED`` of the smaller article's shingles are in the other);
otherwise it starts its own. A deleted or changed article leaves its story. The stories are
written in the generation file with the rest of the commit (``Manifest.stories``), so they
are as crash-safe as the articles; a story's id is its smallest article id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from datasketch import MinHash, MinHashLSH

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


Stories = dict[str, list[str]]
"""``{story_id: [member ids, sorted]}``, stories of two or more articles only."""

# The band layout datasketch picks for LSH_THRESHOLD (weighing false positives and negatives
# alike); the bands are matched with numpy (``_candidates``) so that placing a few new
# articles among many costs a sort per band, not a Python LSH rebuilt at every commit.
_LSH = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
BANDS, ROWS = _LSH.b, _LSH.r


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """One uint64 key per (article, band): equal keys are LSH candidates (a key collision
    only adds a candidate, which the shingle check then refuses)."""
    bands = signatures[:, : BANDS * ROWS].reshape(len(signatures), BANDS, ROWS).astype(np.uint64)
    keys = np.zeros(bands.shape[:2], dtype=np.uint64)
    for r in range(ROWS):
        keys = keys * np.uint64(0x100000001B3) + bands[:, :, r]  # wraps mod 2**64
    return keys


def _candidates(keys: np.ndarray, wanted: Sequence[int]) -> dict[int, set[int]]:
    """For each row in ``wanted``, the other rows sharing at least one band key with it."""
    found: dict[int, set[int]] = {w: set() for w in wanted}
    if not wanted:
        return found
    for b in range(keys.shape[1]):
        order = np.argsort(keys[:, b], kind="stable")
        column = keys[order, b]
        probe = keys[list(wanted), b]
        lo = np.searchsorted(column, probe, side="left")
        hi = np.searchsorted(column, probe, side="right")
        for w, start, end in zip(wanted, lo, hi):
            if end - start > 1:
                found[w].update(int(i) for i in order[start:end])
    for w in wanted:
        found[w].discard(w)
    return found


def update_stories(
    stories: Stories,
    ids: Sequence[str],
    signatures: np.ndarray,
    added: Sequence[str],
    text_of: Callable[[str], str],
) -> Stories:
    """The stories after a commit. ``ids``/``signatures`` are the live articles after it
    (``signatures[i]`` belongs to ``ids[i]``); ``added`` the new or changed ones among them;
    ``stories`` those before it. An article no longer live, or changed, leaves its story
    (the rest stay linked: each was a copy of every other); each added article, in id order,
    joins the first story it is a copy of every member of, or starts its own."""
    live, fresh = set(ids), set(added)
    members: dict[str, list[str]] = {}
    story_of: dict[str, str] = {}
    for group in stories.values():
        kept = sorted(a for a in group if a in live and a not in fresh)
        if len(kept) > 1:
            members[kept[0]] = kept
            story_of.update((a, kept[0]) for a in kept)
    row = {a: i for i, a in enumerate(ids)}
    wanted = [row[a] for a in fresh]
    near = _candidates(band_keys(signatures), wanted) if wanted else {}
    cache: dict[str, set[str]] = {}

    def shingles_of(a: str) -> set[str]:
        if a not in cache:
            cache[a] = shingles(text_of(a))
        return cache[a]

    placed = live - fresh
    for article_id in sorted(fresh):
        others = {ids[i] for i in near[row[article_id]]} & placed
        found = sorted({story_of.get(o, o) for o in others})
        story = next(
            (
                s
                for s in found
                if all(
                    shared_share(shingles_of(article_id), shingles_of(m)) >= MIN_SHARED
                    for m in members.get(s, [s])
                )
            ),
            None,
        )
        placed.add(article_id)
        if story is None:
            continue
        members.setdefault(story, [story]).append(article_id)
        story_of.setdefault(story, story)
        story_of[article_id] = story
    return {min(group): sorted(group) for group in members.values()}


def story_map(stories: Stories) -> dict[str, str]:
    """``{article_id: story_id}`` for every article in a story."""
    return {a: story for story, group in stories.items() for a in group}


def find_stories(
    ids: Sequence[str], signatures: np.ndarray, text_of: Callable[[str], str]
) -> dict[str, str]:
    """``{article_id: story_id}`` of ``ids`` placed in id order from nothing (an index whose
    generation file predates stored stories; the bench); an article alone is left out."""
    return story_map(update_stories({}, ids, signatures, ids, text_of))
