"""The index directory: the only package that knows its file layout.

Why segments: an update writes only what changed (a new segment for new or changed articles,
tombstones for removed ones), so its cost follows the change, not the corpus. A commit writes a
new small generation file and then replaces ``CURRENT``; a reader only ever opens what
``CURRENT`` names, so a writer killed at any moment leaves the last committed state, and a
service swapping generations answers from the old state or the new one, never a mix. When
segments pile up, the small ones are merged (tombstoned rows dropped) in the same way.

One module per job, in the order data flows: ``layout`` (files, schema, durable writes),
``manifest`` (generations and ``CURRENT``), ``segment`` (reading one segment),
``segment_writer`` (writing one), ``reader`` (``IndexStore``), ``writer`` (``IndexWriter``),
``compaction`` (merges and cleanup). Dense search is ``indexer.dense``, BM25 across segments
``indexer.lexical``.
"""

from indexer.dense.base import MetadataFilter, chunk_key
from indexer.dense.factory import DenseConfig
from indexer.store.compaction import MAX_SEGMENTS
from indexer.store.layout import FORMAT_VERSION, LOCK, content_hash
from indexer.store.manifest import Committed, Manifest, committed, current_generation, read_manifest
from indexer.store.reader import CatalogEntry, IndexStore
from indexer.store.segment import ChunkRecord, Segment
from indexer.store.segment_writer import SegmentData
from indexer.store.writer import IndexWriter, lock_index

__all__ = [
    "FORMAT_VERSION",
    "LOCK",
    "MAX_SEGMENTS",
    "ChunkRecord",
    "Committed",
    "DenseConfig",
    "CatalogEntry",
    "IndexStore",
    "IndexWriter",
    "Manifest",
    "MetadataFilter",
    "SegmentData",
    "Segment",
    "chunk_key",
    "committed",
    "content_hash",
    "current_generation",
    "lock_index",
    "read_manifest",
]
