"""Settings in, storage objects out: the one place that turns ``Settings`` into the plain
arguments ``indexer`` takes (the indexer never reads settings itself).

Every program that opens an index (the service, the CLI, eval, bench, tests) goes through
these, so a ``NEWSQA_`` variable means the same thing everywhere.
"""

from __future__ import annotations

from pathlib import Path

from indexer.embedder import Embedder, EmbedderConfig, resolve_model
from indexer.store import DenseConfig, IndexStore, IndexWriter
from newsqa.settings import Settings


def dense_config(settings: Settings) -> DenseConfig:
    """Where dense search runs (``NEWSQA_VECTOR_STORE``, ``NEWSQA_MILVUS_*``)."""
    return DenseConfig(
        kind=settings.vector_store,
        milvus_uri=settings.milvus_uri,
        milvus_index_type=settings.milvus_index_type,
        milvus_timeout=settings.milvus_timeout,
    )


def embedder_config(settings: Settings) -> EmbedderConfig:
    """The configured model, built first if it is the bundled one (``NEWSQA_EMBED_*``)."""
    return EmbedderConfig(
        resolve_model(settings.embed_model, settings.cache_dir),
        name=settings.embed_model,
        batch_size=settings.embed_batch_size,
        precision=settings.embed_precision,
        cache_size=settings.embed_cache_size,
        backend=settings.embed_backend,
    )


def open_embedder(
    settings: Settings, passage_model_now: bool = True, embeds_questions: bool = True
) -> Embedder:
    """The embedding model the settings name (what ``Embedder.from_settings`` was);
    ``passage_model_now`` and ``embeds_questions``: see ``Embedder``."""
    return embedder_config(settings).load(passage_model_now, embeds_questions)


def open_store(
    settings: Settings,
    index_dir: Path | None = None,
    *,
    check_model: bool = True,
    reuse: dict | None = None,
    eager: bool = True,
) -> IndexStore:
    """The committed generation of ``index_dir`` (default ``NEWSQA_INDEX_DIR``), searched
    where the settings say; refused if built for another model than ``NEWSQA_EMBED_MODEL``
    (unless ``check_model`` is False)."""
    return IndexStore.open(
        index_dir or settings.index_dir,
        expected_model=settings.embed_model if check_model else None,
        reuse=reuse,
        eager=eager,
        dense=dense_config(settings),
    )


def open_writer(
    settings: Settings,
    embedder: Embedder,
    index_dir: Path | None = None,
    *,
    lock_timeout: float = 0.0,
    create: bool = True,
) -> IndexWriter:
    """The writer of ``index_dir`` (default ``NEWSQA_INDEX_DIR``) for ``embedder``'s vectors,
    mirrored to Milvus when the settings say so."""
    return IndexWriter(
        index_dir or settings.index_dir,
        embedder.name,
        embedder.dimension,
        lock_timeout,
        dense=dense_config(settings),
        create=create,
    )
