"""Dense backends built from plain arguments: the one place that picks FAISS or Milvus.

The choice arrives as a ``DenseConfig`` (``service.index_open.dense_config`` makes one from
the settings), never read from the environment here, so a writer that must not search Milvus
simply gets the default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from indexer.dense.base import DenseBackend
from indexer.dense.faiss_backend import FaissBackend, VectorSegment

if TYPE_CHECKING:
    from indexer.dense.milvus import MilvusMirror
    from indexer.dense.milvus_client import MilvusVectorStore


@dataclass(frozen=True)
class DenseConfig:
    """Where dense search runs and, for Milvus, how to reach it (``NEWSQA_VECTOR_STORE``,
    ``NEWSQA_MILVUS_*``). The default is the index directory's own FAISS files."""

    kind: Literal["faiss", "milvus"] = "faiss"
    milvus_uri: str = "http://127.0.0.1:19530"
    milvus_index_type: str = "FLAT"
    milvus_timeout: float = 30.0

    @property
    def milvus(self) -> bool:
        return self.kind == "milvus"


def milvus_collection(
    config: DenseConfig, collection: str, dimension: int, create: bool = True
) -> MilvusVectorStore:
    """The (process-wide) client of ``collection`` on the configured Milvus server; only a
    writer (``create=True``) makes a missing one."""
    from indexer.dense.milvus import open_collection

    return open_collection(
        config.milvus_uri,
        collection,
        dimension,
        config.milvus_index_type,
        config.milvus_timeout,
        create=create,
    )


def open_backend(
    config: DenseConfig,
    segments: Sequence[VectorSegment],
    offsets: np.ndarray,
    dimension: int,
    *,
    live: np.ndarray | None = None,
    row_keys: Callable[[], np.ndarray] | None = None,
    collection: str = "",
) -> DenseBackend:
    """The backend ``config`` names over one generation. FAISS needs the segments and their
    row offsets; Milvus also the live mask, the chunk key of every row (a callable: reading
    the keys costs a SQLite scan FAISS never needs) and the collection."""
    local = FaissBackend(segments, offsets, dimension)
    if not config.milvus:
        return local
    from indexer.dense.milvus import MilvusBackend

    assert live is not None and row_keys is not None, "Milvus needs live rows and their keys"
    return MilvusBackend(
        milvus_collection(config, collection, dimension, create=False),
        row_keys(),
        live,
        dimension,
        local_vectors=local.vectors_of,
        local_search=local.search,
    )


def open_mirror(config: DenseConfig, collection: str, dimension: int) -> MilvusMirror:
    """The writer's copy of the index in the collection ``config`` names."""
    from indexer.dense.milvus import MilvusMirror

    return MilvusMirror(milvus_collection(config, collection, dimension))
