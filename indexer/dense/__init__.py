"""Dense (vector) search behind one small protocol: FAISS in process, or a Milvus server.

Backends see numpy arrays, row numbers and chunk keys, never the ``indexer.store`` classes;
the store imports this package, never the other way round.
"""

from indexer.dense.base import (
    ChunkColumns,
    ChunkSource,
    DenseBackend,
    MetadataFilter,
    chunk_key,
    pad_rows,
)
from indexer.dense.factory import DenseConfig, open_backend, open_mirror

__all__ = [
    "ChunkColumns",
    "ChunkSource",
    "DenseBackend",
    "DenseConfig",
    "MetadataFilter",
    "chunk_key",
    "open_backend",
    "open_mirror",
    "pad_rows",
]
