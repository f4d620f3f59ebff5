"""Keeping an index directory small: merging segments, removing what no generation needs.

Why segments: an update writes only what changed (a new segment for new or changed articles,
tombstones for removed ones), so its cost follows the change, not the corpus. When segments
pile up, the small ones are merged (tombstoned rows dropped) and committed like any change.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from indexer.bm25 import BM25Index
from indexer.documents import Article, Chunk
from indexer.store.layout import generation_file, generation_numbers
from indexer.store.manifest import Manifest
from indexer.store.reader import IndexStore
from indexer.store.segment_writer import SegmentData
from newsqa.errors import CorruptIndexError

MAX_SEGMENTS = 8
"""More segments than this after a commit merge all but the largest (or all of them, when the
largest has lost a third of its rows to deletions)."""


def segments_to_merge(store: IndexStore) -> list[int]:
    """Positions of the segments a merge rewrites: all but the largest, or all of them when
    the largest has lost a third of its rows."""
    live_sizes = [int(live.sum()) for live in store.lives]
    largest = int(np.argmax(live_sizes))
    heavy_deletes = live_sizes[largest] < 0.67 * len(store.segments[largest])
    return [i for i in range(len(store.segments)) if heavy_deletes or i != largest]


def merged_segment(store: IndexStore, merge: list[int], dimension: int) -> SegmentData:
    """The live articles, chunks, vectors, BM25 rows and aliases of ``store``'s segments at
    positions ``merge``, as one new segment."""
    articles: list[Article] = []
    chunks: list[Chunk] = []
    vectors, headlines, parts, hashes, indexed_at = [], [], [], [], []
    aliases: dict[str, str] = {}
    for i in merge:
        seg, live = store.segments[i], store.lives[i]
        stored = seg.articles_with_hashes()
        kept = [j for j, (a, _) in enumerate(stored) if store.article_segment.get(a.id) is seg]
        texts = {stored[j][0].id: stored[j][0].text for j in kept}
        articles += [stored[j][0] for j in kept]
        hashes += [stored[j][1] for j in kept]
        listed = seg.catalog()
        indexed_at += [listed[j][4] for j in kept]  # a merge keeps when each was indexed
        headlines.append(seg.headlines[kept])
        chunks += [
            Chunk(article_id, ordinal, start, end, texts[article_id][start:end])
            for row, article_id, ordinal, start, end in seg.chunk_spans()
            if live[row]
        ]
        vectors.append(seg.vectors(np.flatnonzero(live)))
        parts.append((seg.bm25, live))
        aliases.update(
            (a, k)
            for a, k in seg.aliases.items()
            if store.aliases.get(a) == k and a not in store.article_segment
        )
    return SegmentData(
        articles=articles,
        chunks=chunks,
        vectors=np.concatenate(vectors) if vectors else np.zeros((0, dimension)),
        headlines=np.concatenate(headlines) if headlines else np.zeros((0, dimension)),
        bm25=BM25Index.concat(parts),
        aliases=aliases,
        hashes=hashes,
        indexed_at=indexed_at,
    )


def remove_unreferenced(
    index_dir: Path, segments_dir: Path, keep_from: int, new: list[str]
) -> None:
    """Drop generation files older than ``keep_from`` (the one a writer opened) and the one
    before it (a service may still serve that one until it reloads), and the segments no kept
    generation names (nor ``new``, staged but not yet committed). Newer files stay even when
    CURRENT was set back past them: an operator's rollback is theirs to undo, and any CURRENT
    may point at them again."""
    numbers = sorted(generation_numbers(index_dir))
    older = [n for n in numbers if n < keep_from]
    keep_from = older[-1] if older else keep_from
    referenced = set(new)
    for number in numbers:
        path = index_dir / generation_file(number)
        if number < keep_from:
            path.unlink(missing_ok=True)
            continue
        try:
            referenced.update(Manifest.read(path).segments)
        except CorruptIndexError:
            continue
    for path in segments_dir.iterdir():
        if path.name not in referenced:
            shutil.rmtree(path, ignore_errors=True)
    # A writer killed between linking a generation file into place and removing its temporary
    # name left ``.gen-N.json.tmp`` for good (the next commit writes another N); only a writer,
    # holding the lock as the caller does, makes these.
    for path in index_dir.glob(".*.tmp"):
        path.unlink(missing_ok=True)
